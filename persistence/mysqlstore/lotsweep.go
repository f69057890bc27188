package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"shelflife/domain"
)

// DueLots lists up to limit lots whose next transition came at or before
// now but is not recorded, soonest moment first: lots no grain held when
// their moment came (or whose grain has not written it yet).
func (s *Store) DueLots(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	// Two range scans of lots_state_expiry, one per state, merged by moment.
	window := int64(domain.ClosingWindow / time.Second)
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM (
			(SELECT id, TIMESTAMPADD(SECOND, -?, expires_at) AS due FROM lots
				WHERE state = 'REGULAR' AND expires_at <= ? ORDER BY expires_at LIMIT ?)
			UNION ALL
			(SELECT id, expires_at AS due FROM lots
				WHERE state = 'CLOSING_SOON' AND expires_at <= ? ORDER BY expires_at LIMIT ?)
		) d ORDER BY due, id LIMIT ?`,
		window, now.Add(domain.ClosingWindow).UTC(), limit, now.UTC(), limit, limit)
	return scanColumn[int64](rows, err)
}

// MarkdownDueLots lists up to limit closing-soon lots whose adaptive
// markdown evaluation is due at now, soonest first: their grain evaluates
// it (the sell rate is the grain's to weigh).
func (s *Store) MarkdownDueLots(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM lots WHERE state = 'CLOSING_SOON' AND markdown_due_at <= ?
		ORDER BY markdown_due_at LIMIT ?`, now.UTC(), limit)
	return scanColumn[int64](rows, err)
}

// dueLot is a lot row as AdvanceLots reads it under lock.
type dueLot struct {
	domain.LotEvent
	price domain.KRW
	from  domain.LotState
	// lapsed is what the holds whose deadline passed give back.
	lapsed int64
}

// AdvanceLots records, set-based and in one transaction, the transitions
// due at now of the lots ids: closing soon, or expired with what is left
// (free and held units) written off, its holds lapsed and one EXPIRY
// write-off row per lot. It is what a lot grain's timer does, for lots
// without a grain: every lot row moves its version and seq on, so an
// activation that claimed one of them before finds its next commit
// refused and reloads. A lot whose state already shows its moment (its
// grain wrote it, or another sweep did) is left alone, so running it
// twice, or beside a grain's timer, moves a lot once. With evaluate (the
// adaptive markdown), a lot that closes soon is marked as due for its
// first markdown evaluation, which its grain makes. It returns the change
// of every lot it moved, for the read model.
func (s *Store) AdvanceLots(ctx context.Context, ids []int64, now time.Time, evaluate bool) ([]domain.LotEvent, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var events []domain.LotEvent
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		events = nil
		lots, err := lockDueLots(ctx, tx, ids, now)
		if err != nil || len(lots) == 0 {
			return err
		}
		if err := lapseHolds(ctx, tx, lots, now); err != nil {
			return err
		}
		if err := writeTransitions(ctx, tx, lots, now, evaluate); err != nil {
			return err
		}
		events = make([]domain.LotEvent, len(lots))
		for i, l := range lots {
			events[i] = l.LotEvent
		}
		return nil
	})
	return events, err
}

// lockDueLots locks the lot rows (primary key order, like every sweep) and
// keeps those with a transition due at now, with the state they move to
// and their prices.
func lockDueLots(ctx context.Context, tx *sql.Tx, ids []int64, now time.Time) ([]*dueLot, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, product_id, warehouse_id, expires_at, on_hand, held, written_off, state, seq,
			markdown_percent
		FROM lots WHERE id IN (`+placeholders(len(ids))+`) ORDER BY id FOR UPDATE`, int64Args(ids)...)
	if err != nil {
		return nil, err
	}
	var lots []*dueLot
	products := map[int64][]*dueLot{}
	for rows.Next() {
		l := &dueLot{}
		var state string
		if err := rows.Scan(&l.LotID, &l.ProductID, &l.WarehouseID, &l.ExpiresAt, &l.OnHand, &l.Held, &l.WrittenOff, &state, &l.Seq,
			&l.DiscountPercent); err != nil {
			rows.Close()
			return nil, err
		}
		l.from = domain.LotState(state)
		l.State = domain.StateAt(l.ExpiresAt, now)
		if l.from == domain.Expired || l.State == l.from || l.State == domain.Regular {
			continue
		}
		l.Seq++
		l.At = now
		lots = append(lots, l)
		products[l.ProductID] = append(products[l.ProductID], l)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(lots) == 0 {
		return nil, err
	}
	// Prices are read without a lock: a lot's write-off is valued at the
	// price its product has when the lot expires, as the grain does.
	pids := make([]int64, 0, len(products))
	for id := range products {
		pids = append(pids, id)
	}
	prows, err := tx.QueryContext(ctx, "SELECT id, price FROM products WHERE id IN ("+placeholders(len(pids))+")", int64Args(pids)...)
	if err != nil {
		return nil, err
	}
	defer prows.Close()
	for prows.Next() {
		var id int64
		var price domain.KRW
		if err := prows.Scan(&id, &price); err != nil {
			return nil, err
		}
		for _, l := range products[id] {
			l.price = price
		}
	}
	return lots, prows.Err()
}

// lapseHolds gives back the holds that end now: every hold of a lot that
// expires (its held units, counted on the lot row, are written off with
// the rest), and those past their deadline of a lot that closes soon.
// Only lots with units held have ledger rows to touch.
func lapseHolds(ctx context.Context, tx *sql.Tx, lots []*dueLot, now time.Time) error {
	closing := map[int64]*dueLot{}
	var expiring, closingIDs []int64
	for _, l := range lots {
		switch {
		case l.Held == 0:
		case l.State == domain.Expired:
			expiring = append(expiring, l.LotID)
			l.lapsed = l.Held
		default:
			closing[l.LotID] = l
			closingIDs = append(closingIDs, l.LotID)
		}
	}
	if len(expiring) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE lot_ledger SET kind = 'LAPSED', updated_at = CURRENT_TIMESTAMP(6)
			WHERE lot_id IN (`+placeholders(len(expiring))+`) AND kind = 'HELD'`, int64Args(expiring)...); err != nil {
			return err
		}
	}
	if len(closingIDs) > 0 {
		// Rare: a live hold usually has a live grain, which lapses it.
		args := append(int64Args(closingIDs), now.UTC())
		rows, err := tx.QueryContext(ctx, `SELECT lot_id, SUM(quantity) FROM lot_ledger
			WHERE lot_id IN (`+placeholders(len(closingIDs))+`) AND kind = 'HELD' AND hold_until <= ? GROUP BY lot_id`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, qty int64
			if err := rows.Scan(&id, &qty); err != nil {
				rows.Close()
				return err
			}
			closing[id].lapsed = min(qty, closing[id].Held)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE lot_ledger SET kind = 'LAPSED', updated_at = CURRENT_TIMESTAMP(6)
			WHERE lot_id IN (`+placeholders(len(closingIDs))+`) AND kind = 'HELD' AND hold_until <= ?`, args...); err != nil {
			return err
		}
	}
	for _, l := range lots {
		l.OnHand += l.lapsed
		l.Held -= l.lapsed
	}
	return nil
}

// writeTransitions writes the lots' new states: set-based updates of the
// lot rows (the counters computed from the locked rows themselves) and the
// write-off rows of the lots that expire.
func writeTransitions(ctx context.Context, tx *sql.Tx, lots []*dueLot, now time.Time, evaluate bool) error {
	// A lot closing soon under the adaptive markdown is due for its first
	// evaluation now; under the ladder it has none.
	var due any
	if evaluate {
		due = now.UTC()
	}
	var closing, expiring []int64
	var waste strings.Builder
	var wasteArgs []any
	for _, l := range lots {
		if l.State != domain.Expired {
			if l.lapsed > 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE lots SET state = 'CLOSING_SOON', on_hand = ?, held = ?,
					markdown_due_at = COALESCE(markdown_due_at, ?), seq = seq + 1, version = version + 1 WHERE id = ?`,
					l.OnHand, l.Held, due, l.LotID); err != nil {
					return err
				}
				continue
			}
			closing = append(closing, l.LotID)
			continue
		}
		expiring = append(expiring, l.LotID)
		left := l.OnHand // the lapsed holds are back in it
		l.WrittenOff += left
		l.OnHand, l.Held = 0, 0
		if waste.Len() > 0 {
			waste.WriteString(",")
		}
		waste.WriteString("(?,?,?,?,?,?,'EXPIRY',?)")
		wasteArgs = append(wasteArgs, l.LotID, l.ProductID, l.WarehouseID, left, int64(l.price), left*int64(l.price), now.UTC())
	}
	if len(closing) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE lots SET state = 'CLOSING_SOON', markdown_due_at = COALESCE(markdown_due_at, ?),
			seq = seq + 1, version = version + 1 WHERE id IN (`+placeholders(len(closing))+`)`, append([]any{due}, int64Args(closing)...)...); err != nil {
			return err
		}
	}
	if len(expiring) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE lots SET written_off = written_off + on_hand + held, on_hand = 0, held = 0,
		state = 'EXPIRED', seq = seq + 1, version = version + 1 WHERE id IN (`+placeholders(len(expiring))+`)`, int64Args(expiring)...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO waste (lot_id, product_id, warehouse_id, quantity, unit_cost, value, kind, written_off_at)
		VALUES `+waste.String(), wasteArgs...); err != nil {
		return fmt.Errorf("write-offs: %w", err)
	}
	return nil
}

// placeholders is "?,?,...,?" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// scanColumn reads a query's single column.
func scanColumn[T any](rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
