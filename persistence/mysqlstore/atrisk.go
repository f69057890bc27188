package mysqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"shelflife/domain"
	"shelflife/inventory"
)

var _ inventory.RiskStore = (*Store)(nil)

// RiskLots lists the lots still selling at now (not expired, units on
// hand) that expire by until, with their product's list price, optionally
// of one warehouse. Prices are read apart, by product: joining products to
// a hundred thousand lots costs MariaDB far more than the lots themselves.
func (s *Store) RiskLots(ctx context.Context, now, until time.Time, warehouseID int64) ([]inventory.RiskLot, error) {
	q := `SELECT id, product_id, warehouse_id, state, expires_at, on_hand FROM lots
		WHERE state IN ('REGULAR', 'CLOSING_SOON') AND expires_at > ? AND expires_at <= ? AND on_hand > 0`
	args := []any{now.UTC(), until.UTC()}
	if warehouseID > 0 {
		q += " AND warehouse_id = ?"
		args = append(args, warehouseID)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("risk lots: %w", err)
	}
	defer rows.Close()
	var out []inventory.RiskLot
	prices := map[int64]domain.KRW{}
	for rows.Next() {
		var l inventory.RiskLot
		if err := rows.Scan(&l.ID, &l.ProductID, &l.WarehouseID, &l.State, &l.ExpiresAt, &l.OnHand); err != nil {
			return nil, err
		}
		prices[l.ProductID] = 0
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := s.listPrices(ctx, prices); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Price = prices[out[i].ProductID]
	}
	return out, nil
}

// listPrices fills in the list price of each product id in prices.
func (s *Store) listPrices(ctx context.Context, prices map[int64]domain.KRW) error {
	ids := make([]any, 0, len(prices))
	for id := range prices {
		ids = append(ids, id)
	}
	const chunk = 1000
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		rows, err := s.db.QueryContext(ctx, "SELECT id, price FROM products WHERE id IN (?"+strings.Repeat(",?", len(part)-1)+")", part...)
		if err != nil {
			return fmt.Errorf("list prices: %w", err)
		}
		for rows.Next() {
			var id int64
			var p domain.KRW
			if err := rows.Scan(&id, &p); err != nil {
				rows.Close()
				return err
			}
			prices[id] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// RecentSales sums the units each live lot expiring by until had deducted
// in [since, now), by step-long slices counted back from now. Each lot's
// ledger is read through lot_ledger_recent from since on, never from its
// start: a lot with 200,000 rows costs only its rows of the window.
func (s *Store) RecentSales(ctx context.Context, since, now, until time.Time, step time.Duration) ([]inventory.SalesSlice, error) {
	q := `SELECT g.lot_id, l.product_id, l.warehouse_id,
			FLOOR(TIMESTAMPDIFF(MICROSECOND, g.updated_at, ?) / ?) AS slice, SUM(g.quantity)
		FROM lots l STRAIGHT_JOIN lot_ledger g ON g.lot_id = l.id AND g.kind = 'DEDUCTED' AND g.updated_at >= ? AND g.updated_at < ?
		WHERE l.state IN ('REGULAR', 'CLOSING_SOON') AND l.expires_at > ? AND l.expires_at <= ? AND l.on_hand > 0`
	args := []any{now.UTC(), step.Microseconds(), since.UTC(), now.UTC(), now.UTC(), until.UTC()}
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
