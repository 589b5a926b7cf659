-- Citizens as the departments hold them: one row per source record, duplicates included.
CREATE TABLE IF NOT EXISTS citizens (
    citizen_id      bigint PRIMARY KEY,
    full_name       text NOT NULL,
    first_name      text,
    last_name       text,
    father_name     text,
    gender          char(1) CHECK (gender IN ('M', 'F')),
    date_of_birth   date,
    mobile          varchar(10),
    email           text,
    address         text,
    district        text,
    state           text,
    pincode         varchar(6),
    jan_aadhaar     varchar(10),          -- household id shared by a family
    aadhaar_last4   varchar(4),
    source_system   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
