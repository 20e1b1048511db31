-- One decision per order_id, written before it is published: a redelivered or re-published request is
-- answered with the stored decision (same event, same event_id), never a second approval.
CREATE TABLE decisions (
    order_id          uuid PRIMARY KEY,
    request_event_id  uuid        NOT NULL,
    symbol            text        NOT NULL,
    approved          boolean     NOT NULL,
    order_fields      jsonb       NOT NULL,  -- what was asked, to tell a re-publish from an order_id reused
    estimated_cost    numeric,               -- counted against the daily notional caps when approved
    decision_event    jsonb       NOT NULL,  -- the exact RiskApproved / RiskRejected published
    decided_at        timestamptz NOT NULL,
    expires_at        timestamptz,           -- of the approval: unsubmitted past this, it no longer counts as open
    submitted_at      timestamptz,           -- the gateway reported OrderSubmitted
    closed_at         timestamptz            -- the order reached a final state
);

CREATE INDEX decisions_open ON decisions (symbol) WHERE approved AND closed_at IS NULL;
CREATE INDEX decisions_approved_at ON decisions (decided_at) WHERE approved;
