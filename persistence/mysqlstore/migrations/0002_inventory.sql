-- Lot counters, the per-order ledger, write-offs and warehouse allocations.
-- Conservation: received = on_hand + deducted - restored + written_off.
ALTER TABLE lots
  ADD COLUMN deducted BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN restored BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN written_off BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;

-- One row per (lot, idempotency key): what a Deduct or Restore for that key
-- did. kind: DEDUCTED, RESTORED (deducted, then put back) or TOMBSTONE (a
-- Restore that came first; a later Deduct is refused). It has no secondary
-- index and no foreign key: it is written in bulk on the hottest path, and
-- only the lot grain (which owns lot_id) writes it.
CREATE TABLE lot_ledger (
  lot_id BIGINT NOT NULL,
  order_key VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  quantity BIGINT NOT NULL,
  unit_price BIGINT NOT NULL DEFAULT 0,
  discount_percent INT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (lot_id, order_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What expiry wrote off: one row per lot, plus later returns of goods
-- that arrived after the lot expired (kind RETURN).
CREATE TABLE waste (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  lot_id BIGINT NOT NULL,
  product_id BIGINT NOT NULL,
  warehouse_id BIGINT NOT NULL,
  quantity BIGINT NOT NULL,
  unit_cost BIGINT NOT NULL,
  value BIGINT NOT NULL,
  kind VARCHAR(16) NOT NULL DEFAULT 'EXPIRY',
  written_off_at DATETIME(6) NOT NULL,
  KEY waste_time (written_off_at),
  KEY waste_lot (lot_id),
  CONSTRAINT waste_lot FOREIGN KEY (lot_id) REFERENCES lots (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A warehouse's FEFO plan for one order line, written before the lots are
-- asked, so a repeated request re-runs the same plan.
CREATE TABLE allocations (
  order_key VARCHAR(100) NOT NULL,
  product_id BIGINT NOT NULL,
  warehouse_id BIGINT NOT NULL,
  lot_id BIGINT NOT NULL,
  quantity BIGINT NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (order_key, product_id, warehouse_id, lot_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
