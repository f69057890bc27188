-- Holds: units a lot grain puts aside for an order until its payment is
-- approved or the hold's deadline passes. lots.on_hand counts the free units
-- only, so received = on_hand + held + deducted - restored + written_off.
ALTER TABLE lots ADD COLUMN held BIGINT NOT NULL DEFAULT 0;

-- A ledger row of kind HELD is a live hold until hold_until; the kinds a
-- hold moves to (DEDUCTED, RELEASED, LAPSED) keep the deadline it had.
ALTER TABLE lot_ledger ADD COLUMN hold_until DATETIME(6) NULL;
