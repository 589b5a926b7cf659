-- Indexes on the fields that blocking groups records by.
CREATE INDEX IF NOT EXISTS citizens_jan_aadhaar_idx ON citizens (jan_aadhaar);
CREATE INDEX IF NOT EXISTS citizens_name_idx        ON citizens (last_name, first_name);
CREATE INDEX IF NOT EXISTS citizens_mobile_idx      ON citizens (mobile);
CREATE INDEX IF NOT EXISTS citizens_email_idx       ON citizens (email);
CREATE INDEX IF NOT EXISTS citizens_dob_pincode_idx ON citizens (date_of_birth, pincode);
