-- Orders listed by status are shown newest first, by created_at; keyed by
-- updated_at, the index also had to be rewritten at every saga step of an
-- order whose status did not change.
ALTER TABLE orders DROP INDEX orders_status, ADD INDEX orders_status (status, created_at);
