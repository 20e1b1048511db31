-- The journal: every input the ledger took, in booking order (seq). The ledger is rebuilt from it at start; a
-- rebuild (from the broker's history, or to put a late corporate action in its place) replaces it in one transaction.
CREATE TABLE journal (
    seq          bigserial PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('fill', 'action', 'adjustment', 'release')),
    input_id     text        NOT NULL,           -- execution id | action id | adjustment id | release id
    at           timestamptz NOT NULL,           -- executed | effective day's start | adjusted | released
    symbol       text,
    order_id     text,                           -- fills: the broker's order id
    side         text,
    qty          numeric,
    price        numeric,
    cum_qty      numeric,
    final        boolean,
    body         jsonb,                          -- actions, adjustments, releases
    source       text        NOT NULL,           -- live | history | sync | rebuild
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, input_id)
);

-- Legs of corporate actions still waiting for the rest of their group (or held back by an alert).
CREATE TABLE pending_legs (
    leg_id       text PRIMARY KEY,
    action_id    text        NOT NULL,
    leg          jsonb       NOT NULL,           -- the activity exactly as the broker sent it
    first_seen   timestamptz NOT NULL
);
CREATE INDEX pending_legs_action ON pending_legs (action_id);

-- The drift watch of each symbol (reconcile.DriftWatch), written with the events of the read that changed it.
CREATE TABLE drift_watch (
    symbol       text PRIMARY KEY,
    watch        jsonb       NOT NULL
);

-- Every sync: when, why, and what it found.
CREATE TABLE syncs (
    id           bigserial PRIMARY KEY,
    reason       text        NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    ok           boolean     NOT NULL,
    checked      integer     NOT NULL,
    mismatched   text[]      NOT NULL,
    drifts       text[]      NOT NULL,
    message      text        NOT NULL
);

-- Closing prices recorded by the after-close sync (the prior close of today's P&L), split-adjusted.
CREATE TABLE closes (
    symbol       text        NOT NULL,
    day          date        NOT NULL,
    price        numeric     NOT NULL,
    PRIMARY KEY (symbol, day)
);

-- Facts about the ledger itself (e.g. when it was first rebuilt from the broker's history).
CREATE TABLE ledger_state (
    key          text PRIMARY KEY,
    value        jsonb       NOT NULL
);
