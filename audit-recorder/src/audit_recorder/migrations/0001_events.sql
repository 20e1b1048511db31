-- The audit trail: one row per AUDIT stream message, in stream-sequence order, each hash-chained to the one before
-- (tradebus_contracts.audit). Written by audit-recorder only, by INSERT (COPY); never updated, deleted or truncated.

CREATE TABLE events (
    seq            bigint PRIMARY KEY CHECK (seq > 0),     -- AUDIT stream sequence
    subject        text NOT NULL,
    event_type     text,                                   -- NULL when the message is not a readable event
    event_id       uuid,
    correlation_id text,                                   -- the order_id for anything about an order
    occurred_at    timestamptz,
    stored_at      timestamptz NOT NULL,                   -- when AUDIT stored the message
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    payload        bytea NOT NULL,                         -- the exact bytes of the message
    hash           bytea NOT NULL CHECK (length(hash) = 32)
);

-- One order's story by its index (tradectl replay --order), and a time window (replay --since/--until).
CREATE INDEX events_by_correlation ON events (correlation_id, seq);
CREATE INDEX events_by_occurred_at ON events (occurred_at);

-- The creation time of the AUDIT stream the rows come from: a stream deleted and recreated has another.
CREATE TABLE stream_identity (
    stream      text PRIMARY KEY,
    created     timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER stream_identity_append_only BEFORE UPDATE OR DELETE ON stream_identity
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER stream_identity_no_truncate BEFORE TRUNCATE ON stream_identity
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Privileges: nobody may change a row, the owner included (a superuser still can, which is why the rows are
-- chained and the head is signed). Once per-service roles exist, the recorder's role may only read and insert and
-- the operator's may only read; the grants below apply to the roles that exist when this runs.
REVOKE ALL ON events, stream_identity FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON events, stream_identity FROM CURRENT_USER;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit_recorder') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO audit_recorder', current_schema());
        GRANT SELECT, INSERT ON events, stream_identity TO audit_recorder;
        REVOKE UPDATE, DELETE, TRUNCATE ON events, stream_identity FROM audit_recorder;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'tradectl') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO tradectl', current_schema());
        GRANT SELECT ON events, stream_identity TO tradectl;
    END IF;
END
$$;
