package mysqlstore

import (
	"context"
	"fmt"
	"time"

	"shelflife/inventory"
)

var _ inventory.RiskStore = (*Store)(nil)

// RiskLots lists the lots still selling at now (not expired, units on
// hand) that expire by until, with their product's list price, optionally
// of one warehouse.
func (s *Store) RiskLots(ctx context.Context, now, until time.Time, warehouseID int64) ([]inventory.RiskLot, error) {
	q := `SELECT l.id, l.product_id, l.warehouse_id, l.state, l.expires_at, l.on_hand, p.price
		FROM lots l JOIN products p ON p.id = l.product_id
		WHERE l.state IN ('REGULAR', 'CLOSING_SOON') AND l.expires_at > ? AND l.expires_at <= ? AND l.on_hand > 0`
	args := []any{now.UTC(), until.UTC()}
	if warehouseID > 0 {
		q += " AND l.warehouse_id = ?"
		args = append(args, warehouseID)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("risk lots: %w", err)
	}
	defer rows.Close()
	var out []inventory.RiskLot
	for rows.Next() {
		var l inventory.RiskLot
		if err := rows.Scan(&l.ID, &l.ProductID, &l.WarehouseID, &l.State, &l.ExpiresAt, &l.OnHand, &l.Price); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// RecentSales sums the units each live lot expiring by until had deducted
// in [since, now), by step-long slices counted back from now, for the
// products of warehouseID's such lots (every product when it is 0): the
// fallback rate of a product is taken across all warehouses. Each lot's ledger is read
// through lot_ledger_recent from since on, never from its start: a lot
// with 200,000 rows costs only its rows of the window.
func (s *Store) RecentSales(ctx context.Context, since, now, until time.Time, step time.Duration, warehouseID int64) ([]inventory.SalesSlice, error) {
	q := `SELECT g.lot_id, l.product_id, l.warehouse_id,
			FLOOR(TIMESTAMPDIFF(MICROSECOND, g.updated_at, ?) / ?) AS slice, SUM(g.quantity)
		FROM lots l STRAIGHT_JOIN lot_ledger g ON g.lot_id = l.id AND g.kind = 'DEDUCTED' AND g.updated_at >= ? AND g.updated_at < ?
		WHERE l.state IN ('REGULAR', 'CLOSING_SOON') AND l.expires_at > ? AND l.expires_at <= ? AND l.on_hand > 0`
	args := []any{now.UTC(), step.Microseconds(), since.UTC(), now.UTC(), now.UTC(), until.UTC()}
	if warehouseID > 0 {
		q += ` AND l.product_id IN (SELECT product_id FROM lots
			WHERE warehouse_id = ? AND state IN ('REGULAR', 'CLOSING_SOON') AND expires_at > ? AND expires_at <= ? AND on_hand > 0)`
		args = append(args, warehouseID, now.UTC(), until.UTC())
	}
	q += " GROUP BY g.lot_id, l.product_id, l.warehouse_id, slice"
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("recent sales: %w", err)
	}
	defer rows.Close()
	var out []inventory.SalesSlice
	for rows.Next() {
		var x inventory.SalesSlice
		var slice int64
		if err := rows.Scan(&x.LotID, &x.ProductID, &x.WarehouseID, &slice, &x.Units); err != nil {
			return nil, err
		}
		x.Ago = time.Duration(slice) * step
		out = append(out, x)
	}
	return out, rows.Err()
}
