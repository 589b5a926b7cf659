-- Ground truth of the synthetic warehouse: which real person each record belongs to.
-- Kept apart from citizens (a real warehouse has none) and used for evaluation only.
CREATE TABLE IF NOT EXISTS citizen_truth (
    citizen_id  bigint PRIMARY KEY,
    entity_id   bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS citizen_truth_entity_idx ON citizen_truth (entity_id);
