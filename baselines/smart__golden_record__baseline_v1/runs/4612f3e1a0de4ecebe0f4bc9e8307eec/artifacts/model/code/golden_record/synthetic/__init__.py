"""The seeders: synthetic citizens (households, corruptions) and a second, differently shaped person table."""
