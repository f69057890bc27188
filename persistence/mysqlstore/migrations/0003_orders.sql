-- Orders, their lines and payments, the saga's step, the outbox and the
-- consumers' de-duplication.
CREATE TABLE orders (
  id VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  status VARCHAR(20) NOT NULL,
  step VARCHAR(20) NOT NULL,
  reason VARCHAR(40) NOT NULL DEFAULT '',
  total BIGINT NOT NULL,
  lat DOUBLE NOT NULL,
  lng DOUBLE NOT NULL,
  from_cart TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  deleted_at DATETIME(6) NULL,
  KEY orders_user (user_id, created_at),
  KEY orders_status (status, updated_at),
  KEY orders_step (step, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE order_lines (
  order_id VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  line_no INT NOT NULL,
  kind VARCHAR(8) NOT NULL,
  product_id BIGINT NOT NULL,
  lot_id BIGINT NULL,
  warehouse_id BIGINT NULL,
  quantity BIGINT NOT NULL,
  unit_price BIGINT NOT NULL,
  deleted_at DATETIME(6) NULL,
  PRIMARY KEY (order_id, line_no),
  KEY order_lines_lot (lot_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE payments (
  order_id VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  tid VARCHAR(64) NOT NULL DEFAULT '',
  status VARCHAR(20) NOT NULL,
  amount BIGINT NOT NULL,
  nonce VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  pg_token VARCHAR(128) NOT NULL DEFAULT '',
  redirect_url VARCHAR(500) NOT NULL DEFAULT '',
  aid VARCHAR(64) NOT NULL DEFAULT '',
  approved_at DATETIME(6) NULL,
  refunded BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  KEY payments_tid (tid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE outbox (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  topic VARCHAR(100) NOT NULL,
  msg_key VARCHAR(100) NOT NULL,
  payload MEDIUMTEXT NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  published_at DATETIME(6) NULL,
  KEY outbox_pending (published_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE processed_events (
  consumer VARCHAR(50) NOT NULL,
  event_id VARCHAR(100) NOT NULL,
  processed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (consumer, event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
