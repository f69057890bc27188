package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"shelflife/actors/lot"
	"shelflife/domain"
)

const ledgerColumns = "order_key, kind, quantity, unit_price, discount_percent, hold_until"

func scanLedger(row interface{ Scan(...any) error }) (lot.LedgerEntry, error) {
	var e lot.LedgerEntry
	var until sql.NullTime
	if err := row.Scan(&e.Key, &e.Kind, &e.Quantity, &e.UnitPrice, &e.DiscountPercent, &until); err != nil {
		return e, err
	}
	if until.Valid {
		e.HoldUntil = until.Time
	}
	return e, nil
}

// LedgerEntry reads what key did to a lot, by the primary key: a repeat of
// a request older than what ClaimLot loaded.
func (s *Store) LedgerEntry(ctx context.Context, lotID int64, key string) (lot.LedgerEntry, bool, error) {
	e, err := scanLedger(s.db.QueryRowContext(ctx, "SELECT "+ledgerColumns+" FROM lot_ledger WHERE lot_id = ? AND order_key = ?", lotID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return lot.LedgerEntry{}, false, nil
	}
	if err != nil {
		return lot.LedgerEntry{}, false, fmt.Errorf("lot %d ledger key: %w", lotID, s.outage(err))
	}
	return e, true, nil
}

// ledgerChunk keeps one INSERT well below MySQL's 65,535 placeholders.
const ledgerChunk = 2000

// oneTripEntries is the most ledger rows a commit sends in a single round
// trip (about 0.5 MB, well inside max_allowed_packet); a larger commit sends
// its statements one by one in the same transaction.
const oneTripEntries = 4000

// CommitLot writes one group commit of a lot in one transaction, fenced by
// its epoch and chained to the previous commit by seq. The lot grain waits
// for every commit before answering, so round trips are its latency: the
// transaction, its statements and the COMMIT go in one. The fenced update
// of the lot row comes first and fails (it would set a NOT NULL column to
// NULL, an error in the strict mode the pool's sessions use) when another
// activation has claimed the lot or the seq is not the previous commit's,
// so nothing after it runs and the transaction is rolled back.
func (s *Store) CommitLot(ctx context.Context, c lot.Commit) error {
	if err := s.claimCommitted(ctx, c.LotID, c.Epoch); err != nil {
		return fmt.Errorf("commit lot %d: %w", c.LotID, err)
	}
	counts, err := s.commitBatch(ctx, commitStatements(c), len(c.Entries) <= oneTripEntries)
	if err == nil && counts[0] == 0 {
		// Lots are never deleted; should the row be gone, say so.
		err = fmt.Errorf("lot %d: %w", c.LotID, lot.ErrNotFound)
	}
	if isMySQLError(err, errBadNull) {
		err = fmt.Errorf("lot %d epoch %d seq %d: %w", c.LotID, c.Epoch, c.PrevSeq, lot.ErrStaleOwner)
	}
	if err != nil {
		return fmt.Errorf("commit lot %d: %w", c.LotID, err)
	}
	return nil
}

// commitStatements are c's statements: the fenced update of the lot row
// first, then the ledger rows, then the write-offs.
func commitStatements(c lot.Commit) []statement {
	upd := statement{query: `UPDATE lots SET seq = IF(version = ? AND seq = ?, ?, NULL),
		on_hand = ?, held = ?, deducted = ?, restored = ?, written_off = ?, state = ?,
		sell_rate_per_hour = ?, sell_rate_at = ?, markdown_percent = ?, markdown_due_at = ? WHERE id = ?`}
	p := c.Pricing
	upd.add(c.Epoch, c.PrevSeq, c.Seq, c.OnHand, c.Held, c.Deducted, c.Restored, c.WrittenOff, string(c.State),
		p.SellRate.PerHour, timeOrNull(p.SellRate.At), int64(p.MarkdownPercent), timeOrNull(p.MarkdownDueAt), c.LotID)
	stmts := []statement{upd}
	for start := 0; start < len(c.Entries); start += ledgerChunk {
		part := c.Entries[start:min(start+ledgerChunk, len(c.Entries))]
		var q strings.Builder
		q.Grow(140 + 16*len(part) + 200)
		q.WriteString("INSERT INTO lot_ledger (lot_id, order_key, kind, quantity, unit_price, discount_percent, hold_until) VALUES ")
		st := statement{args: make([]driver.NamedValue, 0, len(part)*7)}
		for i, e := range part {
			if i > 0 {
				q.WriteString(",")
			}
			q.WriteString("(?,?,?,?,?,?,?)")
			st.add(c.LotID, e.Key, e.Kind, e.Quantity, int64(e.UnitPrice), int64(e.DiscountPercent), timeOrNull(e.HoldUntil))
		}
		q.WriteString(` ON DUPLICATE KEY UPDATE kind = VALUES(kind), quantity = VALUES(quantity),
			unit_price = VALUES(unit_price), discount_percent = VALUES(discount_percent), hold_until = VALUES(hold_until),
			updated_at = CURRENT_TIMESTAMP(6)`)
		st.query = q.String()
		stmts = append(stmts, st)
	}
	for _, w := range c.Waste {
		st := statement{query: `INSERT INTO waste (lot_id, product_id, warehouse_id, quantity, unit_cost, value, kind, written_off_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`}
		st.add(c.LotID, c.ProductID, c.WarehouseID, w.Quantity, int64(w.UnitCost), w.Quantity*int64(w.UnitCost), w.Kind, w.At.UTC())
		stmts = append(stmts, st)
	}
	return stmts
}

// timeOrNull is t in UTC for a DATETIME column, or NULL for the zero time.
func timeOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// nullTime is a nullable column's time, zero for NULL.
func nullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time
}

// LotSiblings reads the lots of a product in a warehouse that expire after
// now less ten half-lives, expiry first, at most lot.MaxSiblings: one range
// of the lots_warehouse_product index.
func (s *Store) LotSiblings(ctx context.Context, productID, warehouseID int64, now time.Time, halfLife time.Duration) ([]lot.Sibling, error) {
	if halfLife <= 0 {
		halfLife = domain.DefaultRateHalfLife
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, expires_at, on_hand, markdown_percent, markdown_due_at, sell_rate_per_hour, sell_rate_at
		FROM lots WHERE warehouse_id = ? AND product_id = ? AND expires_at > ?
		ORDER BY expires_at, id LIMIT ?`, warehouseID, productID, now.Add(-10*halfLife).UTC(), lot.MaxSiblings)
	if err != nil {
		return nil, fmt.Errorf("lot siblings: %w", err)
	}
	defer rows.Close()
	var out []lot.Sibling
	for rows.Next() {
		var l lot.Sibling
		var due, at sql.NullTime
		if err := rows.Scan(&l.ID, &l.ExpiresAt, &l.OnHand, &l.MarkdownPercent, &due, &l.SellRate.PerHour, &at); err != nil {
			return nil, err
		}
		l.MarkdownDueAt, l.SellRate.At = nullTime(due), nullTime(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// ProductSellRate is the product's sell rate in an average warehouse, in
// list-price units an hour at now: the lots' persisted rates decayed to
// now, summed per warehouse and averaged over the warehouses that sold it.
// Rates older than ten half-lives (under 0.1 % of what they were) are left
// out, so the query reads the product's recent lots only.
func (s *Store) ProductSellRate(ctx context.Context, productID int64, now time.Time, halfLife time.Duration) (float64, error) {
	if halfLife <= 0 {
		halfLife = domain.DefaultRateHalfLife
	}
	rows, err := s.db.QueryContext(ctx, `SELECT warehouse_id, sell_rate_per_hour, sell_rate_at FROM lots
		WHERE product_id = ? AND sell_rate_at > ?`, productID, now.Add(-10*halfLife).UTC())
	if err != nil {
		return 0, fmt.Errorf("product sell rate: %w", err)
	}
	defer rows.Close()
	perWarehouse := map[int64]float64{}
	for rows.Next() {
		var w int64
		var r domain.SellRate
		if err := rows.Scan(&w, &r.PerHour, &r.At); err != nil {
			return 0, err
		}
		perWarehouse[w] += r.Rate(now, halfLife)
	}
	if err := rows.Err(); err != nil || len(perWarehouse) == 0 {
		return 0, err
	}
	// Summed in warehouse order, so the same rows give the same number.
	ids := make([]int64, 0, len(perWarehouse))
	for w := range perWarehouse {
		ids = append(ids, w)
	}
	slices.Sort(ids)
	var sum float64
	for _, w := range ids {
		sum += perWarehouse[w]
	}
	return sum / float64(len(perWarehouse)), nil
}
