"""Static Indian name/place vocabularies for the synthetic citizen generator.

Faker's ``en_IN`` provider lists are thin and noisy (western names, junk
spellings), so the generator mostly samples from the curated lists below and
tops them up with cleaned Faker names at a low weight.  Lists are ordered
roughly by popularity: the generator applies a Zipf-like weight by rank.

Everything here is plain data; no randomness.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- names
# Communities: north (Hindi belt incl. Rajasthan), muslim, sikh, south, bengali,
# west (Gujarati / Marathi).

NORTH_MALE = """
Ramesh Suresh Rajesh Mahesh Mukesh Dinesh Rakesh Naresh Sunil Anil Amit Sumit Rahul Rohit
Vijay Ajay Sanjay Manoj Vinod Ashok Santosh Deepak Pradeep Sandeep Kuldeep Rajendra Surendra
Mahendra Narendra Jitendra Devendra Virendra Yogendra Ravi Ravindra Arvind Anand Vikas Vishal
Vivek Gaurav Saurabh Pankaj Neeraj Dheeraj Manish Ashish Satish Harish Girish Jagdish Prakash
Shyam Ram Mohan Sohan Gopal Govind Krishna Kishan Kailash Bhagwan Babulal Mangilal Hanuman
Bhanwar Shankar Ganesh Dilip Lokesh Kamlesh Hemant Sachin Nitin Tarun Varun Arjun Karan
Abhishek Akash Aman Ankit Ankur Alok Anup Bharat Chandan Dharmendra Gajendra Hari Kapil Lalit
Madan Mohit Nikhil Pawan Prem Raju Umesh Yash Subhash Praveen Naveen Kishore Shivam Shubham
Aditya Harsh Lakshman Bhupendra Prahlad Ramchandra Ghanshyam Radheshyam Shravan Sitaram
Banwari Mahaveer Ramswaroop Jagannath Bajrang Chetan Deepesh Gopi Heeralal Indresh Jagat
Kanhaiya Lakhan Manohar Mangal Nand Omkar Prabhu Raghav Rajkumar Sahil Tejpal Uday Vikram
Yogesh Rupesh Ritesh Hitesh Nilesh Brijesh Awadhesh Umashankar Shiv Shivraj Ranjeet Sunny
""".split()

NORTH_FEMALE = """
Sunita Anita Geeta Seema Rekha Suman Kavita Savita Pooja Priya Neha Sneha Anjali Manju Anju
Meena Reena Kamla Sushila Shanti Kanta Saroj Pushpa Usha Asha Nisha Ritu Sarita Mamta Kiran
Sangeeta Poonam Neelam Rani Radha Lakshmi Saraswati Parvati Durga Bhagwati Jyoti Preeti
Deepika Divya Shweta Swati Aarti Bharti Komal Khushboo Payal Pinky Monika Priyanka Shalini
Vandana Renu Madhu Indu Sudha Kusum Urmila Vimla Nirmala Shakuntala Sharda Gayatri Manisha
Ruchi Rashmi Shilpa Kajal Riya Ananya Anushka Aditi Nandini Shivani Mohini Sita Kanchan
Hemlata Premlata Santosh Lalita Babita Sapna Rinku Guddi Mamata Kamlesh Dhapu Gita Bhawna
Chanda Dimple Ekta Garima Isha Jaya Kalpana Lata Madhuri Nitu Pallavi Rachna Shobha Tara
Uma Vaishali Yamini Roshni Sonam Tanuja Varsha Archana Alka Beena Chitra Diksha
""".split()

NORTH_SURNAMES = """
Sharma Kumar Singh Meena Jat Verma Gupta Yadav Agarwal Jain Choudhary Rathore Shekhawat
Chauhan Saini Gurjar Prajapat Kumawat Bairwa Mali Bishnoi Joshi Mishra Tiwari Pandey Dubey
Tripathi Shukla Srivastava Saxena Mathur Khandelwal Maheshwari Goyal Bansal Mittal Garg Soni
Swami Rawat Parihar Solanki Panwar Tanwar Bhati Jangid Sain Nayak Regar Meghwal Kushwaha
Maurya Pal Thakur Rajput Rana Chaturvedi Vyas Purohit Dixit Bhardwaj Kaushik Malik Dahiya
Sangwan Hooda Jha Prasad Paswan Mahto Sah Rai Mandal Lodhi Patidar Dangi Ahirwar Raikwar
Nagar Vaishnav Sethi Arora Khurana Kapoor Malhotra Chopra Bhatia Ahuja
""".split()

MUSLIM_MALE = """
Mohammed Abdul Imran Salman Irfan Aamir Arif Asif Javed Naseem Rashid Sajid Shahid Wasim
Zahid Rizwan Faisal Farhan Iqbal Sohail Anwar Akbar Aslam Nadeem Shakeel Jameel Rafiq Shoaib
Tariq Yusuf Ibrahim Ismail Hamid Mustafa Sarfaraz Ayaan Zaid Arshad Azhar Mushtaq Nawab Usman
Haroon Irshad Kamran Raees Sabir Shahrukh Ali Hasan Hussain Ahmed Abid Danish Ejaz Feroz
Ghulam Hafeez Junaid Khalid Mehboob Nasir Parvez Qadir Rehan Saleem Sameer Shabbir Wajid
""".split()

MUSLIM_FEMALE = """
Fatima Ayesha Shabana Nazia Rukhsana Farzana Parveen Shaheen Yasmin Nasreen Rehana Sultana
Zainab Sana Sania Noor Heena Shabnam Salma Zeenat Rubina Reshma Tabassum Afsana Nargis Sabiha
Shazia Uzma Aafreen Mariam Khadija Amina Zoya Alisha Ruksar Firdaus Gulnaz Samina Tahira
Anjum Bushra Farida Hasina Kausar Mumtaz Najma Razia Saira Shamim Zubeda
""".split()

MUSLIM_SURNAMES = """
Khan Shaikh Ansari Qureshi Siddiqui Ahmed Pathan Mirza Syed Hussain Malik Mansuri Rangrez
Chhipa Sheikh Memon Abbasi Rizvi Farooqui Beg Saifi Alvi Usmani Kazmi Lohar Teli
""".split()

SIKH_MALE = """
Gurpreet Harpreet Jaspreet Manpreet Kuldeep Jagdeep Harjeet Gurmeet Balwinder Jaswinder
Sukhwinder Parminder Harvinder Amarjeet Ranjit Baljit Gurdeep Jasbir Satnam Inderjit
Lakhwinder Gurcharan Harbhajan Mandeep Navdeep Simranjeet Rajvir Amandeep Sarabjit Tejinder
""".split()

SIKH_FEMALE = """
Gurpreet Harpreet Jaspreet Manpreet Simran Navneet Kulwinder Jasleen Harleen Amandeep
Rajwinder Sukhwinder Paramjit Baljeet Gurleen Manjit Ravinder Satwant Harjinder Kamaljeet
Jasmeet Inderpreet Gagandeep Mandeep Simranjeet
""".split()

SIKH_SURNAMES = """
Singh Gill Sandhu Sidhu Dhillon Grewal Brar Bajwa Randhawa Sekhon Virk Cheema Bains Mann
Sodhi Chahal Toor Sahota
""".split()

SOUTH_MALE = """
Venkatesh Srinivas Ravi Suresh Ramesh Rajesh Murali Prasad Krishna Gopal Ganesh Karthik Arun
Vijay Senthil Saravanan Murugan Balaji Kumar Raghu Naveen Praveen Manjunath Nagaraj
Shivakumar Mahesh Harish Anil Sunil Rajkumar Vinod Sathish Dinesh Prakash Ramakrishna Anand
Arjun Rahul Sreekanth Sridhar Sanjeev Mohan Hari Venkata Chandrasekhar Raghavendra Sudheer
Ajith Vineeth Jayakumar Sivakumar Madhu Kiran Naresh Rakesh Aravind Sai Vishnu Manoj Rajeev
Sandeep Anbu Bharath Dhanush Ganapathy Kannan Lokesh Muthu Pandian Ranganath Selvam Tamil
""".split()

SOUTH_FEMALE = """
Lakshmi Priya Divya Kavitha Lavanya Swathi Deepa Anitha Sunitha Padma Saraswathi Meena
Revathi Radha Sangeetha Vidya Geetha Sujatha Shanthi Jayanthi Usha Rani Bhavani Sowmya Ramya
Harini Keerthi Anusha Sneha Pavithra Nandini Shalini Asha Latha Suma Vani Sindhu Mahalakshmi
Parvathi Gayathri Aishwarya Nithya Preethi Sandhya Malathi Kamala Jyothi Rekha Sudha
Vasantha Sarala Anjali Arathi Chitra Indira Kalyani Manjula Nirmala Selvi Uma
""".split()

SOUTH_SURNAMES = """
Reddy Rao Naidu Nair Pillai Iyer Iyengar Menon Gowda Shetty Hegde Kumar Krishnan Subramanian
Raman Murthy Sastry Chowdary Varma Kurup Nambiar Joseph George Varghese Kurian Mathew
Chettiar Mudaliar Goud Babu Raju Prasad Swamy Naik Rajan
""".split()

BENGALI_MALE = """
Subrata Sourav Arindam Abhijit Debashis Partha Sanjoy Amit Biswajit Tapas Prosenjit Indranil
Anirban Kaushik Sudipta Soumya Rajib Sumon Dipankar Goutam Ashim Bikash Shyamal Tanmoy Arnab
Sayan Subhajit Pranab Ranjan Avijit
""".split()

BENGALI_FEMALE = """
Rina Mousumi Sharmila Moumita Payel Rumpa Tania Sumana Anindita Debjani Mitali Shampa Piyali
Sutapa Ruma Soma Sonali Priyanka Rupa Jayashree Chandana Madhumita Poulami Sreeparna Arpita
Dipika Mithu Puja Anjana Susmita
""".split()

BENGALI_SURNAMES = """
Das Ghosh Roy Banerjee Mukherjee Chatterjee Sen Bose Dutta Saha Mondal Sarkar Biswas
Chakraborty Bhattacharya Pal Dey Majumdar Sinha Paul Mitra Halder Maity Nandi Guha
""".split()

WEST_MALE = """
Sachin Rahul Amol Sagar Nilesh Mahesh Prashant Sandip Ganesh Tushar Hitesh Jignesh Paresh
Bhavesh Ketan Chirag Hardik Nikhil Mayur Vishal Kiran Dattatray Vitthal Shrikant Sunil Rajesh
Dilip Bharat Yogesh Umesh Amit Vijay Santosh Prakash Manoj
""".split()

WEST_FEMALE = """
Priya Pooja Sneha Swati Ashwini Snehal Pallavi Shital Vaishali Rupali Manisha Jayshree Hetal
Bhavna Komal Nisha Kajal Dhara Foram Urvashi Sangita Sunanda Savita Varsha Madhuri Shubhangi
Anjali Smita Archana Rutuja
""".split()

WEST_SURNAMES = """
Patel Shah Desai Mehta Joshi Patil Kulkarni Deshmukh Jadhav Pawar Shinde More Gaikwad Chavan
Kale Bhosale Deshpande Parmar Solanki Chauhan Thakkar Trivedi Pandya Modi Vyas
""".split()

COMMUNITIES = ("north", "muslim", "sikh", "south", "bengali", "west")

FIRST_NAMES = {
    "north": (NORTH_MALE, NORTH_FEMALE),
    "muslim": (MUSLIM_MALE, MUSLIM_FEMALE),
    "sikh": (SIKH_MALE, SIKH_FEMALE),
    "south": (SOUTH_MALE, SOUTH_FEMALE),
    "bengali": (BENGALI_MALE, BENGALI_FEMALE),
    "west": (WEST_MALE, WEST_FEMALE),
}
SURNAMES = {
    "north": NORTH_SURNAMES,
    "muslim": MUSLIM_SURNAMES,
    "sikh": SIKH_SURNAMES,
    "south": SOUTH_SURNAMES,
    "bengali": BENGALI_SURNAMES,
    "west": WEST_SURNAMES,
}

# Very common full names ("Rahul Kumar", "Priya Sharma", "Mohammed Khan"): households
# flagged as common-name households draw the surname and (mostly) first names here.
COMMON_NAMES = {
    "north": (
        ["Kumar", "Sharma", "Singh", "Verma", "Gupta", "Yadav", "Meena", "Jain"],
        ["Rahul", "Amit", "Sunil", "Ramesh", "Rajesh", "Mukesh", "Manoj", "Sanjay", "Vijay", "Suresh"],
        ["Priya", "Pooja", "Sunita", "Anita", "Rekha", "Neha", "Kavita", "Suman", "Seema", "Geeta"],
    ),
    "muslim": (
        ["Khan", "Shaikh", "Ansari", "Qureshi"],
        ["Mohammed", "Imran", "Salman", "Irfan", "Aamir", "Javed"],
        ["Fatima", "Shabana", "Ayesha", "Nazia", "Rukhsana", "Parveen"],
    ),
    "sikh": (
        ["Singh", "Gill"],
        ["Gurpreet", "Harpreet", "Manpreet", "Jaspreet"],
        ["Gurpreet", "Harpreet", "Manpreet", "Simran"],
    ),
    "south": (
        ["Reddy", "Rao", "Nair", "Kumar"],
        ["Venkatesh", "Srinivas", "Ravi", "Suresh", "Ramesh"],
        ["Lakshmi", "Priya", "Divya", "Kavitha", "Lavanya"],
    ),
    "bengali": (
        ["Das", "Ghosh", "Roy"],
        ["Subrata", "Amit", "Sourav", "Partha"],
        ["Rina", "Mousumi", "Puja", "Sharmila"],
    ),
    "west": (
        ["Patel", "Shah", "Patil"],
        ["Rahul", "Amit", "Sachin", "Mahesh"],
        ["Priya", "Pooja", "Sneha", "Swati"],
    ),
}

# Similar-looking sibling names (hard non-matches inside a household).
SIMILAR_MALE = [
    ("Ravi", "Ravindra"), ("Mahesh", "Mahendra"), ("Suresh", "Surendra"), ("Naresh", "Narendra"),
    ("Rohit", "Mohit"), ("Amit", "Sumit"), ("Sunil", "Sushil"), ("Rajesh", "Rakesh"),
    ("Mukesh", "Mukund"), ("Dinesh", "Dilip"), ("Vijay", "Vijendra"), ("Anil", "Akhil"),
    ("Manish", "Ashish"), ("Deepak", "Deepesh"), ("Ram", "Ramesh"), ("Imran", "Irfan"),
    ("Sajid", "Wajid"), ("Arif", "Asif"), ("Gurpreet", "Gurmeet"), ("Harish", "Girish"),
]
SIMILAR_FEMALE = [
    ("Priya", "Priyanka"), ("Anita", "Sunita"), ("Geeta", "Seeta"), ("Rekha", "Lekha"),
    ("Neha", "Sneha"), ("Kavita", "Savita"), ("Suman", "Sumana"), ("Meena", "Reena"),
    ("Anju", "Manju"), ("Sita", "Gita"), ("Pooja", "Puja"), ("Shabana", "Shabnam"),
    ("Nazia", "Nazma"), ("Lakshmi", "Laxmi"), ("Sapna", "Swapna"), ("Rani", "Rina"),
]

# Faker en_IN lists contain western / junk entries: dropped.
FAKER_FIRST_NAME_BLOCKLIST = frozenset("""
Alexander Andrew Anthony Benjamin Caleb Charles Christopher Daniel David Dominic Elijah Ethan
Finn Frederick Gabriel Gavin George Harrison Henry Isaac Isaiah Jack Jackson Jacob Jason
Jeremiah Jonathan Joshua Kai Kevin Laban Liam Logan Luke Mason Matthew Max Michael Nathan
Nathaniel Nicholas Noah Oliver Oscar Owen Patrick Peter Quincy Robert Ryan Samuel Simon
Theodore Thomas Timothy Tristan Victor Vincent William Wyatt Xavier Frado Falan Fitan Sara
Chasmum Qushi Xalak Wakeeta Waida Warhi Widisha Wishi Xiti Zilmil Ati Eta Oni Osha Odika Libni
Urishilla Ucchal Udyati Zansi Lajita Jalsa Januja Idika Ijaya Ekiya Eiravati Dayamai Chavvi
""".split())
FAKER_LAST_NAME_BLOCKLIST = frozenset("""
Nagy Boase Edwin Issac Anne Ben Sem Loyal Master Doctor Contractor Nazareth Bail Char Comar
Kumer Om Oak Aurora Zacharia Zachariah Yohannan Mammen Oommen Koshy Cherian Chacko Kuruvilla
Varkey Varughese Bumb Buch Agate Amble Andra Balay Date Din Gara Goda Gola Gole Kara Kari
Kata Keer Kibe Loke Mall Manda Mutti Natt Nori Palla Patla Pau Peri Sama Sami Sane Sant Sha
Shan Shere Sur Sura Tella Varty Vasa Vig Wable Wali Walla Warrior Wason Kade Chad Bava Bath
""".split())

# --------------------------------------------------------------------------- places
# state -> (weight in the registry, community weights, [(district, 3-digit pincode prefix, weight)])
# The registry is Rajasthan's (Jan Aadhaar), with a tail of residents recorded in other states.
STATES = {
    "Rajasthan": (0.55, {"north": 0.82, "muslim": 0.10, "sikh": 0.02, "west": 0.06}, [
        ("Jaipur", 302, 6.6), ("Jodhpur", 342, 3.7), ("Alwar", 301, 3.7), ("Nagaur", 341, 3.3),
        ("Udaipur", 313, 3.1), ("Sikar", 332, 2.7), ("Barmer", 344, 2.6), ("Ajmer", 305, 2.6),
        ("Bharatpur", 321, 2.5), ("Bhilwara", 311, 2.4), ("Bikaner", 334, 2.4),
        ("Jhunjhunu", 333, 2.1), ("Churu", 331, 2.0), ("Sri Ganganagar", 335, 2.0),
        ("Kota", 324, 2.0), ("Pali", 306, 2.0), ("Tonk", 304, 1.4), ("Chittorgarh", 312, 1.5),
        ("Dausa", 303, 1.6), ("Banswara", 327, 1.8), ("Jhalawar", 326, 1.4),
        ("Dungarpur", 314, 1.4), ("Sawai Madhopur", 322, 1.3), ("Jaisalmer", 345, 0.7),
        ("Hanumangarh", 336, 1.8), ("Baran", 325, 1.2), ("Bundi", 323, 1.1),
        ("Sirohi", 307, 1.0), ("Jalore", 343, 1.8), ("Dholpur", 328, 1.2),
    ]),
    "Uttar Pradesh": (0.08, {"north": 0.78, "muslim": 0.20, "sikh": 0.02}, [
        ("Lucknow", 226, 4.6), ("Kanpur Nagar", 208, 4.6), ("Agra", 282, 4.4),
        ("Varanasi", 221, 3.7), ("Prayagraj", 211, 6.0), ("Ghaziabad", 201, 4.7),
        ("Meerut", 250, 3.4), ("Bareilly", 243, 4.4), ("Gorakhpur", 273, 4.4),
        ("Aligarh", 202, 3.7), ("Moradabad", 244, 4.8), ("Gautam Buddh Nagar", 203, 1.6),
    ]),
    "Bihar": (0.04, {"north": 0.82, "muslim": 0.17, "bengali": 0.01}, [
        ("Patna", 800, 5.8), ("Gaya", 823, 4.4), ("Muzaffarpur", 842, 4.8),
        ("Bhagalpur", 812, 3.0), ("Darbhanga", 846, 3.9), ("Purnia", 854, 3.3),
    ]),
    "Madhya Pradesh": (0.05, {"north": 0.88, "muslim": 0.07, "west": 0.05}, [
        ("Bhopal", 462, 2.4), ("Indore", 452, 3.3), ("Jabalpur", 482, 2.5),
        ("Gwalior", 474, 2.0), ("Ujjain", 456, 2.0), ("Sagar", 470, 2.4),
    ]),
    "Maharashtra": (0.05, {"west": 0.75, "north": 0.12, "muslim": 0.12, "south": 0.01}, [
        ("Mumbai", 400, 12.4), ("Pune", 411, 9.4), ("Nagpur", 440, 4.7), ("Nashik", 422, 6.1),
        ("Thane", 421, 11.1), ("Aurangabad", 431, 3.7),
    ]),
    "Gujarat": (0.05, {"west": 0.85, "muslim": 0.10, "north": 0.05}, [
        ("Ahmedabad", 380, 7.2), ("Surat", 395, 6.1), ("Vadodara", 390, 4.2), ("Rajkot", 360, 3.8),
    ]),
    "Haryana": (0.04, {"north": 0.85, "sikh": 0.06, "muslim": 0.09}, [
        ("Gurugram", 122, 1.5), ("Faridabad", 121, 1.8), ("Hisar", 125, 1.7), ("Rohtak", 124, 1.1),
    ]),
    "Punjab": (0.03, {"sikh": 0.60, "north": 0.35, "muslim": 0.05}, [
        ("Ludhiana", 141, 3.5), ("Amritsar", 143, 2.5), ("Jalandhar", 144, 2.2), ("Patiala", 147, 1.9),
    ]),
    "Tamil Nadu": (0.03, {"south": 0.92, "muslim": 0.06, "north": 0.02}, [
        ("Chennai", 600, 4.6), ("Coimbatore", 641, 3.5), ("Madurai", 625, 3.0),
        ("Tiruchirappalli", 620, 2.7), ("Salem", 636, 3.5),
    ]),
    "Karnataka": (0.03, {"south": 0.85, "muslim": 0.12, "north": 0.03}, [
        ("Bengaluru Urban", 560, 9.6), ("Mysuru", 570, 3.0), ("Belagavi", 590, 4.8),
        ("Dharwad", 580, 1.8), ("Dakshina Kannada", 575, 2.1),
    ]),
    "Kerala": (0.015, {"south": 0.72, "muslim": 0.27, "north": 0.01}, [
        ("Thiruvananthapuram", 695, 3.3), ("Ernakulam", 682, 3.3), ("Kozhikode", 673, 3.1),
        ("Thrissur", 680, 3.1),
    ]),
    "Telangana": (0.02, {"south": 0.82, "muslim": 0.16, "north": 0.02}, [
        ("Hyderabad", 500, 4.0), ("Warangal", 506, 1.1), ("Karimnagar", 505, 1.0),
    ]),
    "West Bengal": (0.025, {"bengali": 0.72, "muslim": 0.26, "north": 0.02}, [
        ("Kolkata", 700, 4.5), ("Howrah", 711, 4.9), ("North 24 Parganas", 743, 10.0),
        ("Darjeeling", 734, 1.8),
    ]),
}

# --------------------------------------------------------------------------- addresses
# Words used to build street addresses.  They must NOT contain the long forms that the
# address_abbreviation corruption shortens (Road, Nagar, Colony, Street, Main, Near,
# Apartment, Sector) nor the abbreviations themselves.
STREET_WORDS = """
Gandhi Nehru Station Tilak Ambedkar Shastri Subhash Patel Hospital Court Mandir Sadar
Kachahari Bapu Jawahar Ajmer Agra Delhi Tonk Sikar Tagore Azad Bhagat Rana Pratap Moti
Lal Gopal Ganga Jail Chandpole Sanganeri Kishanpole Amer Tripolia Mission Circular Ring
""".split()
LOCALITY_WORDS = """
Shastri Malviya Vaishali Raja Adarsh Ashok Ganesh Krishna Shanti Tilak Vidhyadhar Jawahar
Indira Saraswati Laxmi Gandhi Ram Shiv Hanuman Surya Pratap Durga Kamla Rajendra Vivek Govind
Gopal Azad Bapu Sanjay Subhash Nehru Mahaveer Keshav Madhav Mohan Kishan Gayatri Sindhi
Pratap Bajaj Ambedkar Vijay Rajiv Kalyan Kailash Basant Panchsheel Anand
""".split()
APARTMENT_WORDS = """
Shanti Sai Krishna Ganga Yamuna Narmada Royal Ashirwad Kalpataru Gokul Vrindavan Shubham
Mangalam Shree Sukh Sagar Kailash Himalaya Tulsi Kamdhenu Nandanvan Amrit
""".split()
LANDMARKS = [
    "Hanuman Mandir", "Shiv Mandir", "Government School", "Bus Stand", "Railway Station",
    "Post Office", "Jama Masjid", "Panchayat Bhawan", "Water Tank", "SBI Bank", "Gurudwara",
    "Primary Health Centre", "Police Chowki", "Petrol Pump", "Collectorate", "Sabzi Mandi",
    "Anganwadi Kendra", "Community Hall", "Ration Shop", "Govt Hospital", "Ram Mandir",
    "Dargah", "Idgah", "Krishi Mandi",
]
VILLAGE_PREFIXES = """
Ram Shiv Gopal Kishan Lal Bhim Hari Chand Mohan Bhawani Govind Sultan Daulat Fateh Man Jai
Ratan Suraj Kesar Bhagwan Madho Bhoj Kalyan Roop
""".split()
VILLAGE_SUFFIXES = "pura garh sar wala pur khera gaon wadi pali ganj".split()
ORDINALS = ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "11th", "12th"]

# Long form -> abbreviation used by the address_abbreviation corruption.
ADDRESS_ABBREVIATIONS = {
    "Road": "Rd", "Nagar": "Ngr", "Colony": "Col", "Street": "St", "Main": "Mn",
    "Near": "Nr", "Apartment": "Apt", "Sector": "Sec",
}

EMAIL_DOMAINS = ["gmail.com", "yahoo.co.in", "rediffmail.com", "outlook.com", "hotmail.com", "yahoo.com"]
EMAIL_DOMAIN_WEIGHTS = [0.62, 0.11, 0.08, 0.08, 0.05, 0.06]

# --------------------------------------------------------------------------- transliteration
# Groups of equivalent romanisations of the same name.
TRANSLITERATION_GROUPS = [
    ("Mohammed", "Mohammad", "Muhammad", "Mohamed", "Mohd"),
    ("Lakshmi", "Laxmi", "Lakshmee"), ("Sharma", "Sarma"),
    ("Srinivas", "Shrinivas", "Sreenivas", "Srinivasa"),
    ("Chaudhary", "Choudhary", "Chaudhry", "Chowdhury"), ("Choudhary", "Chaudhary", "Choudhry"),
    ("Agarwal", "Agrawal", "Aggarwal"), ("Shaikh", "Sheikh", "Shaik"), ("Sheikh", "Shaikh"),
    ("Hussain", "Husain", "Hussein"), ("Ahmed", "Ahmad"), ("Qureshi", "Kureshi", "Quraishi"),
    ("Siddiqui", "Siddiqi", "Siddique"), ("Syed", "Sayed", "Saiyed"), ("Pooja", "Puja"),
    ("Puja", "Pooja"), ("Geeta", "Gita", "Geetha"), ("Gita", "Geeta"), ("Seema", "Sima"),
    ("Sita", "Seeta", "Seetha"), ("Sunita", "Suneeta", "Sunitha"), ("Anita", "Aneeta", "Anitha"),
    ("Deepak", "Dipak"), ("Dilip", "Dileep"), ("Vijay", "Vijai"), ("Sanjay", "Sanjai"),
    ("Ajay", "Ajai"), ("Yadav", "Yadava"), ("Verma", "Varma"), ("Varma", "Verma"),
    ("Shukla", "Sukla"), ("Mishra", "Misra"), ("Srivastava", "Shrivastava", "Srivastav"),
    ("Tripathi", "Tripathy"), ("Jyoti", "Jyothi"), ("Jyothi", "Jyoti"), ("Preeti", "Priti", "Preethi"),
    ("Kavita", "Kavitha"), ("Kavitha", "Kavita"), ("Savita", "Sabita", "Savitha"),
    ("Vinod", "Binod"), ("Vikas", "Bikash", "Vikash"), ("Bikash", "Vikas"), ("Vishal", "Bishal"),
    ("Satish", "Sateesh"), ("Sathish", "Satish"), ("Girish", "Gireesh"), ("Shiv", "Shiva"),
    ("Subhash", "Subhas", "Shubhash"), ("Rajendra", "Rajender", "Rajinder"),
    ("Surendra", "Surender", "Surinder"), ("Mahendra", "Mahender", "Mahinder"),
    ("Narendra", "Narender"), ("Devendra", "Devender"), ("Jitendra", "Jitender"),
    ("Virendra", "Virender"), ("Yogendra", "Yogender"), ("Gurpreet", "Gurprit"),
    ("Harpreet", "Harprit"), ("Kuldeep", "Kuldip"), ("Sandeep", "Sandip"), ("Sandip", "Sandeep"),
    ("Pradeep", "Pradip"), ("Fatima", "Fatma", "Fathima"), ("Ayesha", "Aisha", "Aysha"),
    ("Zainab", "Zaynab"), ("Abdul", "Abdool"), ("Iqbal", "Ikbal"), ("Imran", "Imraan"),
    ("Irfan", "Irfaan"), ("Banerjee", "Bannerjee", "Banerji"), ("Mukherjee", "Mukherji"),
    ("Chatterjee", "Chatterji"), ("Ghosh", "Ghose"), ("Bose", "Basu"), ("Dutta", "Dutt", "Datta"),
    ("Roy", "Rai"), ("Rai", "Roy"), ("Nair", "Nayar"), ("Pillai", "Pillay"), ("Iyer", "Iyyer"),
    ("Reddy", "Reddi"), ("Naidu", "Nayudu"), ("Venkatesh", "Venkatesha"),
    ("Subramanian", "Subramaniam"), ("Chandrasekhar", "Chandrashekar", "Chandrasekar"),
    ("Murthy", "Murty", "Moorthy"), ("Lakshman", "Laxman"), ("Sastry", "Shastri", "Sastri"),
    ("Shastri", "Sastri"), ("Raghavendra", "Ragavendra"), ("Praveen", "Pravin"),
    ("Naveen", "Navin"), ("Ashok", "Asok"), ("Shankar", "Sankar"), ("Shanti", "Santi", "Shanthi"),
    ("Shanthi", "Shanti"), ("Meena", "Mina"), ("Neelam", "Nilam"), ("Kamla", "Kamala"),
    ("Kamala", "Kamla"), ("Vimla", "Vimala"), ("Sushila", "Susheela"), ("Shobha", "Sobha"),
    ("Khushboo", "Khushbu"), ("Rupa", "Roopa"), ("Kishore", "Kishor"), ("Manish", "Maneesh"),
    ("Chauhan", "Chouhan"), ("Rathore", "Rathod", "Rathor"), ("Shekhawat", "Sekhawat"),
    ("Gurjar", "Gujjar", "Gujar"), ("Bishnoi", "Vishnoi"), ("Kumawat", "Kumavat"),
    ("Prajapat", "Prajapati"), ("Maheshwari", "Maheswari"), ("Mohammad", "Mohammed", "Mohd"),
    ("Mohd", "Mohammed"), ("Muhammad", "Mohammed"), ("Parveen", "Parvin"), ("Rehana", "Reyhana"),
    ("Usha", "Ushaa"), ("Sudheer", "Sudhir"), ("Sudhir", "Sudheer"),
]

# Substring rules: (from, to, where) with where in {"any", "start", "end", "inner_cc"}
# ("inner_cc" = not at the ends and between two consonants).
TRANSLITERATION_RULES = [
    ("ee", "i", "any"), ("i", "ee", "inner_cc"), ("oo", "u", "any"), ("u", "oo", "inner_cc"),
    ("v", "w", "any"), ("w", "v", "any"), ("th", "t", "any"), ("t", "th", "end"),
    ("ta", "tha", "end"), ("tha", "ta", "end"), ("sh", "s", "start"), ("sh", "s", "end"),
    ("shr", "sr", "start"), ("sr", "shr", "start"), ("ksh", "x", "any"), ("x", "ksh", "any"),
    ("ph", "f", "any"), ("f", "ph", "any"), ("aa", "a", "any"), ("a", "aa", "inner_cc"),
    ("q", "k", "any"), ("z", "j", "start"), ("ay", "ai", "end"), ("ai", "ay", "end"),
    ("chh", "ch", "any"), ("ch", "chh", "start"), ("v", "b", "start"), ("b", "v", "start"),
    ("dra", "der", "end"), ("der", "dra", "end"), ("nn", "n", "any"), ("ll", "l", "any"),
    ("tt", "t", "any"), ("dd", "d", "any"), ("mm", "m", "any"), ("ss", "s", "any"),
    ("w", "u", "inner_cc"),
]

# QWERTY neighbours for substitution / insertion typos.
KEYBOARD_NEIGHBOURS = {
    "q": "wa", "w": "qesa", "e": "wrds", "r": "etfd", "t": "rygf", "y": "tuhg", "u": "yijh",
    "i": "uokj", "o": "iplk", "p": "ol", "a": "qwsz", "s": "awedxz", "d": "serfcx",
    "f": "drtgvc", "g": "ftyhbv", "h": "gyujnb", "j": "huikmn", "k": "jiolm", "l": "kop",
    "z": "asx", "x": "zsdc", "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
}
