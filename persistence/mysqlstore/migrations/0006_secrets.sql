-- Keys the shop makes for itself once and every node shares, such as the
-- key that signs payment callback nonces.
CREATE TABLE secrets (
  name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  value VARBINARY(64) NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
);
