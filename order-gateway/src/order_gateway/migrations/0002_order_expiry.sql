-- When the order's approval stops being usable: after it, the order is never POSTed again, and a pending row the
-- broker does not know is failed once the landing window after its last possible POST has passed.
-- NULL for rows written before this column existed (and for orders cancelled before any approval).
ALTER TABLE orders ADD COLUMN expires_at timestamptz;
