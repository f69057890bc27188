package mysqlstore

import (
	"context"
	"strings"
	"time"

	"shelflife/actors/warehouse"
	"shelflife/domain"
)

// RegularLots lists a warehouse's REGULAR lots that have stock.
func (s *Store) RegularLots(ctx context.Context, warehouseID int64) ([]warehouse.Candidate, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT l.id, l.product_id, l.expires_at, l.on_hand, p.min_shelf_life_hours
		FROM lots l JOIN products p ON p.id = l.product_id
		WHERE l.warehouse_id = ? AND l.state = 'REGULAR' AND l.on_hand > 0`, warehouseID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []warehouse.Candidate
	for rows.Next() {
		var c warehouse.Candidate
		var hours int64
		if err := rows.Scan(&c.LotID, &c.ProductID, &c.ExpiresAt, &c.OnHand, &hours); err != nil {
			return nil, err
		}
		c.MinShelfLife = time.Duration(hours) * time.Hour
		out = append(out, c)
	}
	return out, rows.Err()
}

// Plans reads the allocations saved in a warehouse for keys.
func (s *Store) Plans(ctx context.Context, warehouseID int64, keys []warehouse.PlanKey) (map[warehouse.PlanKey][]domain.Allocation, error) {
	out := map[warehouse.PlanKey][]domain.Allocation{}
	want := map[warehouse.PlanKey]bool{}
	for _, k := range keys {
		want[k] = true
	}
	const chunk = 500
	for len(keys) > 0 {
		part := keys[:min(chunk, len(keys))]
		keys = keys[len(part):]
		args := []any{warehouseID}
		for _, k := range part {
			args = append(args, k.Key)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT order_key, product_id, lot_id, quantity FROM allocations
			WHERE warehouse_id = ? AND order_key IN (?`+strings.Repeat(",?", len(part)-1)+`) ORDER BY order_key, product_id, lot_id`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k warehouse.PlanKey
			var a domain.Allocation
			if err := rows.Scan(&k.Key, &k.ProductID, &a.LotID, &a.Quantity); err != nil {
				rows.Close()
				return nil, err
			}
			if want[k] {
				out[k] = append(out[k], a)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SavePlans stores new allocations in one statement: all or none.
func (s *Store) SavePlans(ctx context.Context, warehouseID int64, plans map[warehouse.PlanKey][]domain.Allocation) error {
	var args []any
	rows := 0
	for k, plan := range plans {
		for _, a := range plan {
			args = append(args, k.Key, k.ProductID, warehouseID, a.LotID, a.Quantity)
			rows++
		}
	}
	if rows == 0 {
		return nil
	}
	q := "INSERT INTO allocations (order_key, product_id, warehouse_id, lot_id, quantity) VALUES (?, ?, ?, ?, ?)" +
		strings.Repeat(", (?, ?, ?, ?, ?)", rows-1) + " ON DUPLICATE KEY UPDATE quantity = VALUES(quantity)"
	return s.retry(ctx, func() error {
		_, err := s.db.ExecContext(ctx, q, args...)
		return err
	})
}

// DeletePlan forgets an allocation.
func (s *Store) DeletePlan(ctx context.Context, key string, productID, warehouseID int64) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM allocations WHERE order_key = ? AND product_id = ? AND warehouse_id = ?", key, productID, warehouseID)
	return err
}
