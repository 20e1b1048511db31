-- The ticket's read model: one row per order (its current state, folded by ticket_api.reducer) and one row
-- per event about it (the timeline). Fed by the durable consumers ticket-api / ticket-api-risk /
-- ticket-api-fills; an event already in order_events is skipped, so a redelivery changes nothing.
CREATE TABLE orders (
    order_id          uuid PRIMARY KEY,
    symbol            text        NOT NULL,
    side              text,                  -- null until an event with the order's fields arrives
    type              text,
    time_in_force     text,
    qty               numeric,
    notional          numeric,
    limit_price       numeric,
    stop_price        numeric,
    extended_hours    boolean,
    status            text        NOT NULL,  -- requested | approved | rejected | submitted | partially_filled |
                                             -- filled | canceled | expired | failed
    filled_qty        numeric     NOT NULL DEFAULT 0,
    filled_avg_price  numeric,
    reject_reasons    jsonb       NOT NULL DEFAULT '[]',
    cancel_outcome    text,
    created_at        timestamptz NOT NULL,  -- occurred_at of the earliest event seen
    updated_at        timestamptz NOT NULL
);

CREATE INDEX orders_recent ON orders (created_at DESC, order_id);

CREATE TABLE order_events (
    seq          bigserial   UNIQUE,
    event_id     uuid        PRIMARY KEY,
    order_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    summary      text        NOT NULL,
    payload      jsonb       NOT NULL,       -- the event exactly as it was on the bus
    received_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX order_events_timeline ON order_events (order_id, occurred_at, seq);
