package mysqlstore

import (
	"context"
	"database/sql"
	"time"

	"shelflife/actors/warehouse"
	"shelflife/domain"
)

var _ warehouse.Store = (*Store)(nil)

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

// Plan reads a saved allocation.
func (s *Store) Plan(ctx context.Context, key string, productID, warehouseID int64) ([]domain.Allocation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT lot_id, quantity FROM allocations
		WHERE order_key = ? AND product_id = ? AND warehouse_id = ? ORDER BY lot_id`, key, productID, warehouseID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Allocation
	for rows.Next() {
		var a domain.Allocation
		if err := rows.Scan(&a.LotID, &a.Quantity); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SavePlan replaces the saved allocation.
func (s *Store) SavePlan(ctx context.Context, key string, productID, warehouseID int64, plan []domain.Allocation) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM allocations WHERE order_key = ? AND product_id = ? AND warehouse_id = ?", key, productID, warehouseID); err != nil {
			return err
		}
		for _, a := range plan {
			if _, err := tx.ExecContext(ctx, "INSERT INTO allocations (order_key, product_id, warehouse_id, lot_id, quantity) VALUES (?, ?, ?, ?, ?)",
				key, productID, warehouseID, a.LotID, a.Quantity); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeletePlan forgets an allocation.
func (s *Store) DeletePlan(ctx context.Context, key string, productID, warehouseID int64) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM allocations WHERE order_key = ? AND product_id = ? AND warehouse_id = ?", key, productID, warehouseID)
	return err
}
