-- Golden records: one surviving record per real person, and the map from source records to it.
-- The fields hold the cleaned, canonical values (gender M/F, phone and ID numbers as digits only,
-- e-mail lower case), as text: any value the trainer accepts from the source table fits.
CREATE TABLE IF NOT EXISTS golden_records (
    golden_id           bigint PRIMARY KEY,
    full_name           text,
    first_name          text,
    last_name           text,
    father_name         text,
    gender              text,
    date_of_birth       date,
    mobile              text,
    email               text,
    address             text,
    district            text,
    state               text,
    pincode             text,
    jan_aadhaar         text,
    aadhaar_last4       text,
    member_count        integer NOT NULL,
    cluster_confidence  double precision NOT NULL,
    field_sources       jsonb NOT NULL DEFAULT '{}'::jsonb,   -- field -> citizen_id it survived from
    run_id              text,
    created_at          timestamptz NOT NULL DEFAULT now()
);
-- Migration of a golden_records created by an earlier version (gender char(1), mobile varchar(10),
-- pincode varchar(6), jan_aadhaar varchar(10), aadhaar_last4 varchar(4)): every text field becomes
-- text, in one ALTER TABLE, and only when some column is not text yet (no lock, no rewrite otherwise).
DO $$
DECLARE
    changes text;
BEGIN
    SELECT string_agg(format('ALTER COLUMN %I TYPE text', a.attname), ', ' ORDER BY a.attnum)
      INTO changes
      FROM pg_attribute a
     WHERE a.attrelid = 'golden_records'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.atttypid <> 'text'::regtype
       AND a.attname IN ('full_name', 'first_name', 'last_name', 'father_name', 'gender', 'mobile', 'email',
                         'address', 'district', 'state', 'pincode', 'jan_aadhaar', 'aadhaar_last4');
    IF changes IS NOT NULL THEN
        EXECUTE 'ALTER TABLE golden_records ' || changes;
    END IF;
END
$$;
CREATE TABLE IF NOT EXISTS citizen_golden_map (
    citizen_id          bigint PRIMARY KEY,
    golden_id           bigint NOT NULL,
    match_probability   double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS citizen_golden_map_golden_idx ON citizen_golden_map (golden_id);
