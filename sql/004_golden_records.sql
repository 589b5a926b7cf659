-- Golden records: one surviving record per real person, and the map from source records to it.
CREATE TABLE IF NOT EXISTS golden_records (
    golden_id           bigint PRIMARY KEY,
    full_name           text,
    first_name          text,
    last_name           text,
    father_name         text,
    gender              char(1),
    date_of_birth       date,
    mobile              varchar(10),
    email               text,
    address             text,
    district            text,
    state               text,
    pincode             varchar(6),
    jan_aadhaar         varchar(10),
    aadhaar_last4       varchar(4),
    member_count        integer NOT NULL,
    cluster_confidence  double precision NOT NULL,
    field_sources       jsonb NOT NULL DEFAULT '{}'::jsonb,   -- field -> citizen_id it survived from
    run_id              text,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS citizen_golden_map (
    citizen_id          bigint PRIMARY KEY,
    golden_id           bigint NOT NULL,
    match_probability   double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS citizen_golden_map_golden_idx ON citizen_golden_map (golden_id);
