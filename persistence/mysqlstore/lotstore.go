package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"shelflife/actors/lot"
	"shelflife/domain"
)

var _ lot.Store = (*Store)(nil)

// ClaimLot loads a lot with its product's price and its ledger, and moves
// the lot's version on: the new version is the caller's epoch, and any older
// activation's writes are refused from now on.
func (s *Store) ClaimLot(ctx context.Context, id int64) (lot.State, []lot.LedgerEntry, error) {
	var st lot.State
	var ledger []lot.LedgerEntry
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ledger = nil
		var hours int64
		var state string
		err := tx.QueryRowContext(ctx, `SELECT l.id, l.product_id, l.warehouse_id, l.expires_at, l.received, l.on_hand,
				l.deducted, l.restored, l.written_off, l.state, l.seq, l.version, p.price, p.min_shelf_life_hours
			FROM lots l JOIN products p ON p.id = l.product_id WHERE l.id = ? FOR UPDATE`, id).
			Scan(&st.ID, &st.ProductID, &st.WarehouseID, &st.ExpiresAt, &st.Received, &st.OnHand,
				&st.Deducted, &st.Restored, &st.WrittenOff, &state, &st.Seq, &st.Epoch, &st.Price, &hours)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("lot %d: %w", id, lot.ErrNotFound)
		}
		if err != nil {
			return err
		}
		st.State = domain.LotState(state)
		st.MinShelfLife = time.Duration(hours) * time.Hour
		if _, err := tx.ExecContext(ctx, "UPDATE lots SET version = version + 1 WHERE id = ?", id); err != nil {
			return err
		}
		st.Epoch++
		rows, err := tx.QueryContext(ctx, "SELECT order_key, kind, quantity, unit_price, discount_percent FROM lot_ledger WHERE lot_id = ?", id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e lot.LedgerEntry
			if err := rows.Scan(&e.Key, &e.Kind, &e.Quantity, &e.UnitPrice, &e.DiscountPercent); err != nil {
				return err
			}
			ledger = append(ledger, e)
		}
		return rows.Err()
	})
	return st, ledger, err
}

// ledgerChunk keeps one INSERT well below MySQL's 65,535 placeholders.
const ledgerChunk = 2000

// CommitLot writes one group commit of a lot, fenced by its epoch and
// chained to the previous commit by seq. The ledger rows go first so that
// they can be written while the previous commit finishes; the lot row is
// updated only after the previous commit updated it (c.BeforeUpdate).
func (s *Store) CommitLot(ctx context.Context, c lot.Commit) (err error) {
	after := func(err error) {
		if c.AfterUpdate != nil {
			c.AfterUpdate(err)
		}
	}
	defer func() { after(err) }()
	// No deadlock retry: a retried transaction could not keep the order with
	// the commit behind it; the grain stops and callers retry instead.
	return s.tryTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(c.Entries); start += ledgerChunk {
			part := c.Entries[start:min(start+ledgerChunk, len(c.Entries))]
			var q strings.Builder
			q.WriteString("INSERT INTO lot_ledger (lot_id, order_key, kind, quantity, unit_price, discount_percent) VALUES ")
			args := make([]any, 0, len(part)*6)
			for i, e := range part {
				if i > 0 {
					q.WriteString(",")
				}
				q.WriteString("(?,?,?,?,?,?)")
				args = append(args, c.LotID, e.Key, e.Kind, e.Quantity, int64(e.UnitPrice), e.DiscountPercent)
			}
			q.WriteString(` ON DUPLICATE KEY UPDATE kind = VALUES(kind), quantity = VALUES(quantity),
				unit_price = VALUES(unit_price), discount_percent = VALUES(discount_percent), updated_at = CURRENT_TIMESTAMP(6)`)
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return fmt.Errorf("ledger of lot %d: %w", c.LotID, err)
			}
		}
		for _, w := range c.Waste {
			if _, err := tx.ExecContext(ctx, `INSERT INTO waste (lot_id, product_id, warehouse_id, quantity, unit_cost, value, kind, written_off_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				c.LotID, c.ProductID, c.WarehouseID, w.Quantity, int64(w.UnitCost), w.Quantity*int64(w.UnitCost), w.Kind, w.At.UTC()); err != nil {
				return fmt.Errorf("waste of lot %d: %w", c.LotID, err)
			}
		}
		if c.BeforeUpdate != nil {
			if err := c.BeforeUpdate(); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE lots SET on_hand = ?, deducted = ?, restored = ?, written_off = ?, state = ?, seq = ?
			WHERE id = ? AND version = ? AND seq = ?`,
			c.OnHand, c.Deducted, c.Restored, c.WrittenOff, string(c.State), c.Seq, c.LotID, c.Epoch, c.PrevSeq)
		if err != nil {
			return fmt.Errorf("update lot %d: %w", c.LotID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("lot %d epoch %d seq %d: %w", c.LotID, c.Epoch, c.PrevSeq, lot.ErrStaleOwner)
		}
		after(nil)
		return nil
	})
}
