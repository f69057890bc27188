package mysqlstore

import (
	"context"
	"fmt"
	"time"

	"shelflife/domain"
)

// CreateLot receives a lot into a warehouse. Its state is set from its
// expiry at now.
func (s *Store) CreateLot(ctx context.Context, l domain.Lot, now time.Time) (domain.Lot, error) {
	l.State = domain.StateAt(l.ExpiresAt, now)
	l.OnHand = l.Received
	res, err := s.db.ExecContext(ctx,
		"INSERT INTO lots (product_id, warehouse_id, expires_at, received, on_hand, state) VALUES (?, ?, ?, ?, ?, ?)",
		l.ProductID, l.WarehouseID, l.ExpiresAt.UTC(), l.Received, l.OnHand, string(l.State))
	if err != nil {
		if isMySQLError(err, errNoReferenced) {
			if _, perr := s.Product(ctx, l.ProductID); perr != nil {
				return domain.Lot{}, perr
			}
			return domain.Lot{}, fmt.Errorf("warehouse %d: %w", l.WarehouseID, domain.ErrUnknownWarehouse)
		}
		return domain.Lot{}, fmt.Errorf("create lot: %w", err)
	}
	l.ID, err = res.LastInsertId()
	return l, err
}

// CountLots counts the lots of a product in a warehouse.
func (s *Store) CountLots(ctx context.Context, productID, warehouseID int64) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM lots WHERE product_id = ? AND warehouse_id = ?", productID, warehouseID).Scan(&n)
	return n, err
}
