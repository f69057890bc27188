-- A lot grain loads only the ledger rows idempotency needs at once: the
-- live holds and the rows changed recently. This index finds both without
-- reading the rest of a long ledger; older keys are read one by one, by the
-- primary key, when a repeat asks for them.
ALTER TABLE lot_ledger ADD INDEX lot_ledger_recent (lot_id, kind, updated_at);
