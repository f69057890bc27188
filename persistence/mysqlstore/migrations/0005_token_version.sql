-- A user's token version: every token carries the version it was issued
-- at, and a token of another version is refused. Logout, a password change,
-- a role change and deletion bump it, which revokes the user's tokens.
ALTER TABLE users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;

-- Order placement counts a shopper's unpaid orders (max_unpaid_orders).
ALTER TABLE orders ADD INDEX orders_user_status (user_id, status);
