-- Projected exposure: what each approval may still move, and the fills of approved orders (one row per execution).
ALTER TABLE decisions
    ADD COLUMN side            text,                       -- of an approval: buy | sell
    ADD COLUMN shares          numeric,                    -- what it may move: its qty, or a notional's estimate
    ADD COLUMN filled_at_close numeric NOT NULL DEFAULT 0; -- the gateway's filled qty when the order ended

-- Approvals made before this migration: their side and qty are in what was asked (a notional order's size stays
-- unknown, which the projection treats as unbounded on its side until the order ends).
UPDATE decisions SET side = order_fields->>'side', shares = (order_fields->>'qty')::numeric WHERE approved;

-- FillReported, kept by execution id (the gateway reports each execution once; a redelivery is the same row).
-- recorded_at is the gateway's stamp (the event's occurred_at): a settled position stamped at least the settle
-- margin after it has this fill.
CREATE TABLE fills (
    execution_id  text PRIMARY KEY,
    order_id      uuid        NOT NULL,
    symbol        text        NOT NULL,
    side          text        NOT NULL,
    qty           numeric     NOT NULL,
    price         numeric     NOT NULL,
    recorded_at   timestamptz NOT NULL
);
CREATE INDEX fills_order ON fills (order_id);
CREATE INDEX fills_recorded ON fills (recorded_at);
CREATE INDEX decisions_closed_at ON decisions (closed_at) WHERE approved AND closed_at IS NOT NULL;
