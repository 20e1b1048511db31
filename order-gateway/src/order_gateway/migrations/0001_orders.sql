-- The gateway's record of every order it was asked to submit, written BEFORE the broker is called.
CREATE TABLE orders (
    order_id          uuid PRIMARY KEY,
    client_order_id   text        NOT NULL UNIQUE,   -- derived from order_id: the same order at the broker on every retry
    approval_id       uuid        UNIQUE,            -- an approval is used once; NULL when cancelled before any approval
    symbol            text        NOT NULL,
    order_fields      jsonb,                         -- exactly what was signed and is submitted
    state             text        NOT NULL CHECK (state IN ('pending', 'submitted', 'failed', 'canceled_before_submit')),
    broker_order_id   text,
    broker_status     text,
    filled_qty        numeric     NOT NULL DEFAULT 0, -- cumulative, as counted in fills
    filled_notional   numeric     NOT NULL DEFAULT 0,
    cancel_requested_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    broker_seen_at    timestamptz                    -- last time the broker told us anything about it
);
CREATE INDEX orders_open ON orders (state, broker_status);

-- One row per execution counted (execution_id from the broker, or a synthetic cumulative id from polling).
CREATE TABLE fills (
    execution_id  text PRIMARY KEY,
    order_id      uuid        NOT NULL REFERENCES orders (order_id),
    qty           numeric     NOT NULL,
    price         numeric     NOT NULL,
    cum_qty       numeric     NOT NULL,
    source        text        NOT NULL,
    executed_at   timestamptz,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fills_order ON fills (order_id);

-- Every approval that reached the gateway, used or refused, with the reason (audit).
CREATE TABLE approvals_seen (
    event_id      uuid PRIMARY KEY,
    approval_id   uuid,
    order_id      uuid,
    outcome       text        NOT NULL,  -- accepted | refused | repeat
    reason        text,
    seen_at       timestamptz NOT NULL DEFAULT now()
);

-- Every call to the broker and what came back (audit).
CREATE TABLE broker_calls (
    id            bigserial PRIMARY KEY,
    order_id      uuid,
    call          text        NOT NULL,  -- submit | lookup | cancel | get
    http_status   integer,
    code          bigint,
    message       text,
    at            timestamptz NOT NULL DEFAULT now()
);
