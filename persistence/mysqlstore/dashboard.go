package mysqlstore

import (
	"context"
	"fmt"
	"time"

	"shelflife/domain"
)

// DashboardSummary reads the admin dashboard's figures at now; sagas that
// have not moved since stuckBefore count as stuck.
func (s *Store) DashboardSummary(ctx context.Context, now, stuckBefore time.Time) (domain.DashboardSummary, error) {
	out := domain.DashboardSummary{At: now.UTC(), StuckBefore: stuckBefore.UTC(), Stock: []domain.StockCell{}, OrdersByStatus: map[domain.OrderStatus]int64{}}
	rows, err := s.db.QueryContext(ctx, `SELECT l.warehouse_id, c.name,
			SUM(CASE WHEN l.state = 'REGULAR' THEN l.on_hand ELSE 0 END),
			SUM(CASE WHEN l.state = 'CLOSING_SOON' THEN l.on_hand ELSE 0 END)
		FROM lots l JOIN products p ON p.id = l.product_id JOIN categories c ON c.id = p.category_id
		WHERE l.state <> 'EXPIRED' AND l.expires_at > ?
		GROUP BY l.warehouse_id, c.name ORDER BY l.warehouse_id, c.name`, now.UTC())
	if err != nil {
		return out, fmt.Errorf("dashboard stock: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c domain.StockCell
		if err := rows.Scan(&c.WarehouseID, &c.Category, &c.Regular, &c.Deal); err != nil {
			return out, err
		}
		out.Stock = append(out.Stock, c)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(expires_at <= ?), 0), COALESCE(SUM(expires_at <= ?), 0)
		FROM lots WHERE state <> 'EXPIRED' AND on_hand > 0 AND expires_at > ? AND expires_at <= ?`,
		now.Add(48*time.Hour).UTC(), now.Add(6*time.Hour).UTC(), now.UTC(), now.Add(48*time.Hour).UTC(),
	).Scan(&out.LotsExpiring48h, &out.LotsExpiring6h); err != nil {
		return out, fmt.Errorf("dashboard expiring lots: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(quantity), 0), COALESCE(SUM(value), 0)
		FROM waste WHERE written_off_at >= ? AND written_off_at < ?`, now.AddDate(0, 0, -7).UTC(), now.UTC(),
	).Scan(&out.WasteWeekQuantity, &out.WasteWeekValue); err != nil {
		return out, fmt.Errorf("dashboard waste: %w", err)
	}
	srows, err := s.db.QueryContext(ctx, "SELECT status, COUNT(*) FROM orders GROUP BY status")
	if err != nil {
		return out, fmt.Errorf("dashboard orders: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var st domain.OrderStatus
		var n int64
		if err := srows.Scan(&st, &n); err != nil {
			return out, err
		}
		out.OrdersByStatus[st] = n
	}
	if err := srows.Err(); err != nil {
		return out, err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders
		WHERE step IN ('CREATED', 'DEDUCTING', 'APPROVING') AND updated_at < ?`, stuckBefore.UTC(),
	).Scan(&out.StuckSagas); err != nil {
		return out, fmt.Errorf("dashboard stuck sagas: %w", err)
	}
	return out, nil
}

// SoldPerMinute sums the units of paid orders by the minute they were paid
// in [from, to), oldest first; minutes with no sale are left out.
func (s *Store) SoldPerMinute(ctx context.Context, from, to time.Time) ([]domain.MinuteSales, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DATE_FORMAT(o.updated_at, '%Y-%m-%dT%H:%i:00Z') AS minute, SUM(l.quantity)
		FROM orders o JOIN order_lines l ON l.order_id = o.id
		WHERE o.status = 'PAID' AND o.updated_at >= ? AND o.updated_at < ? AND l.deleted_at IS NULL
		GROUP BY minute ORDER BY minute`, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("sold per minute: %w", err)
	}
	defer rows.Close()
	out := []domain.MinuteSales{}
	for rows.Next() {
		var raw string
		var m domain.MinuteSales
		if err := rows.Scan(&raw, &m.Units); err != nil {
			return nil, err
		}
		if m.Minute, err = time.Parse(time.RFC3339, raw); err != nil {
			return nil, fmt.Errorf("sold per minute: minute %q: %w", raw, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
