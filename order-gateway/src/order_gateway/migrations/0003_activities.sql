-- Every broker account activity the gateway has put on the bus (BrokerActivity, stream BROKER), by the broker's
-- activity id: written only after the publish was acknowledged, so a crash in between re-publishes (the same
-- event_id: JetStream's duplicate window and the readers' inbox drop it) and never skips. The highest id is where
-- the next read of /v2/account/activities resumes. "C" collation: ids sort by their leading timestamp, bytewise.
CREATE TABLE activities_published (
    activity_id    text COLLATE "C" PRIMARY KEY,
    activity_type  text        NOT NULL,
    event_id       uuid        NOT NULL,
    outcome        text        NOT NULL CHECK (outcome IN ('published', 'dead_lettered')),
    published_at   timestamptz NOT NULL DEFAULT now()
);

-- A FILL activity names the broker's order id: this finds our order_id for its correlation_id.
CREATE INDEX orders_broker_order_id ON orders (broker_order_id);
