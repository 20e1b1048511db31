-- Every webhook-id ever answered 2xx, kept for good: senders retry for days with the same id and a fresh
-- timestamp, so a repeat must be recognised however late it comes (the primary key is the dedupe).
CREATE TABLE deliveries (
    webhook_id   text        PRIMARY KEY,
    outcome      text        NOT NULL CHECK (outcome IN ('published', 'dead_lettered')),
    event_id     uuid        NOT NULL,
    subject      text        NOT NULL,
    reason       text,
    signed_at    timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
