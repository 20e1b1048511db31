-- An order the gateway gave up on (SubmissionFailed) may exist at the broker after all: a POST that landed late is
-- adopted by the gateway, which then publishes OrderSubmitted. That OrderSubmitted reopens the order; it reopens no
-- order that ended any other way (a final status, a cancel before submit).
ALTER TABLE decisions ADD COLUMN closed_by_failure boolean NOT NULL DEFAULT false;
