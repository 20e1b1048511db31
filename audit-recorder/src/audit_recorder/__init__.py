"""audit-recorder: the single writer of the tamper-evident audit trail (DESIGN §5.6).

ROLE        Writes down the AUDIT stream (which sources every domain stream: ORDERS RISK FILLS POSITIONS CONTROL DLQ
            BROKER) in stream-sequence order, one row per message in schema ``audit_recorder``: sequence, subject,
            event type, event id, correlation id, occurred-at, the exact bytes and a hash chained to the row before
            (``tradebus_contracts.audit``). Rows go in batches, one transaction each; the table is its own bookmark,
            so a crash at any moment resumes exactly where the committed rows end (no gap, no duplicate).
CONSUMES    AUDIT, through an ephemeral pull consumer without acks that starts at the table's head + 1.
EMITS       ``AuditCheckpoint`` on ``audit.checkpoints`` (stream AUDIT_CHECKPOINTS, deletes and purges denied) every
            1,000 events or 10 s when the head moved, and on stop; the same line appended to
            ``$TRADEBUS_HOME/audit/checkpoints.jsonl`` (``AUDIT_CHECKPOINT_DIR``).
READ BY     ``tradectl replay`` (through the correlation and time indexes), ``tradectl tail --order`` (history first),
            ``tradectl audit verify`` (recomputes the chain, compares with the stream and the checkpoints).
SHAPE       Pure core: ``rows`` (messages -> chained rows; where to resume), ``cadence`` (when to sign), ``startup``
            (stream protection; does this table belong to this stream). I/O edge: ``recorder`` (the loop), ``store``
            (SQL, the writer lock), ``checkpoints`` (sign, append, publish); wired by ``app.bootstrap``.
SECURITY    Holds the checkpoint signing key (``AUDIT_SIGNING_KEY_PATH``, PEM 0600, never logged). Refuses to run when
            AUDIT lacks deny-delete, deny-purge or has an age limit, when the stream was recreated or no longer holds
            the table's head, and when a row it did not write appears in the table. One writer at a time (a session
            advisory lock). The table refuses UPDATE, DELETE and TRUNCATE (triggers; privileges revoked).
"""
