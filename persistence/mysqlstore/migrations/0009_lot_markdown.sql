-- A lot's sell rate (exponentially weighted, in list-price units an hour, as
-- of sell_rate_at), the adaptive markdown in force and when the lot next
-- re-evaluates it. The rate is two numbers so that a lot resumes it without
-- reading its ledger; markdown_due_at lets the sweeper wake a lot whose
-- evaluation came due while no grain held it.
ALTER TABLE lots
  ADD COLUMN sell_rate_per_hour DOUBLE NOT NULL DEFAULT 0,
  ADD COLUMN sell_rate_at DATETIME(6) NULL,
  ADD COLUMN markdown_percent INT NOT NULL DEFAULT 0,
  ADD COLUMN markdown_due_at DATETIME(6) NULL,
  ADD KEY lots_markdown_due (state, markdown_due_at);
