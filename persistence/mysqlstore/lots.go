package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"shelflife/domain"
	"shelflife/stockview"
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

// CountLiveLots counts the lots of a product in a warehouse that have not
// expired at now.
func (s *Store) CountLiveLots(ctx context.Context, productID, warehouseID int64, now time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM lots WHERE product_id = ? AND warehouse_id = ? AND expires_at > ?",
		productID, warehouseID, now.UTC()).Scan(&n)
	return n, err
}

// LiveLots calls fn with each lot not yet expired, for the read model, as
// one query streams them: nothing is gathered here, and a state is one of
// the domain's strings rather than a copy per row.
func (s *Store) LiveLots(ctx context.Context, fn func(stockview.LotRow)) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id, product_id, warehouse_id, expires_at, on_hand, state, seq, markdown_percent
		FROM lots WHERE state <> 'EXPIRED'`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var state sql.RawBytes
	for rows.Next() {
		var r stockview.LotRow
		if err := rows.Scan(&r.ID, &r.ProductID, &r.WarehouseID, &r.ExpiresAt, &r.OnHand, &state, &r.Seq, &r.DiscountPercent); err != nil {
			return err
		}
		switch domain.LotState(state) {
		case domain.Regular:
			r.State = domain.Regular
		case domain.ClosingSoon:
			r.State = domain.ClosingSoon
		default:
			r.State = domain.LotState(state)
		}
		fn(r)
	}
	return rows.Err()
}

// Lots lists lots for admins, soonest expiry first.
func (s *Store) Lots(ctx context.Context, f domain.LotFilter) ([]domain.Lot, error) {
	q := "SELECT id, product_id, warehouse_id, expires_at, received, on_hand, held, deducted, restored, written_off, state, version, seq FROM lots WHERE 1=1"
	var args []any
	if f.WarehouseID > 0 {
		q += " AND warehouse_id = ?"
		args = append(args, f.WarehouseID)
	}
	if f.ProductID > 0 {
		q += " AND product_id = ?"
		args = append(args, f.ProductID)
	}
	if !f.ExpiringBefore.IsZero() {
		q += " AND expires_at <= ?"
		args = append(args, f.ExpiringBefore.UTC())
	}
	if f.State != "" {
		q += " AND state = ?"
		args = append(args, string(f.State))
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	q += " ORDER BY expires_at, id LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.Lot{}
	for rows.Next() {
		var l domain.Lot
		var state string
		if err := rows.Scan(&l.ID, &l.ProductID, &l.WarehouseID, &l.ExpiresAt, &l.Received, &l.OnHand, &l.Held, &l.Deducted, &l.Restored, &l.WrittenOff, &state, &l.Version, &l.Seq); err != nil {
			return nil, err
		}
		l.State = domain.LotState(state)
		out = append(out, l)
	}
	return out, rows.Err()
}

// WasteReport sums write-offs by day (UTC), warehouse and region in [from,
// to), next to the same days' closing-soon sales: ledger rows deducted at a
// markdown, by the day they became deductions. Those rows are reached
// through their lots, since the ledger has no index on time: only lots whose
// deal window can overlap the period (closing soon or expired, expiring
// after from and at most a deal window after to) are read.
func (s *Store) WasteReport(ctx context.Context, from, to time.Time) ([]domain.WasteRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DATE_FORMAT(x.written_off_at, '%Y-%m-%d') AS day, w.id, w.name, r.name,
			SUM(x.quantity), SUM(x.value)
		FROM waste x JOIN warehouses w ON w.id = x.warehouse_id JOIN regions r ON r.id = w.region_id
		WHERE x.written_off_at >= ? AND x.written_off_at < ?
		GROUP BY day, w.id, w.name, r.name ORDER BY day, w.id`, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("waste report: %w", err)
	}
	defer rows.Close()
	out := []domain.WasteRow{}
	type dayWarehouse struct {
		day       string
		warehouse int64
	}
	at := map[dayWarehouse]int{}
	key := func(r domain.WasteRow) dayWarehouse { return dayWarehouse{r.Day, r.WarehouseID} }
	for rows.Next() {
		var r domain.WasteRow
		if err := rows.Scan(&r.Day, &r.WarehouseID, &r.Warehouse, &r.Region, &r.Quantity, &r.Value); err != nil {
			return nil, err
		}
		at[key(r)] = len(out)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	deals, err := s.dealSales(ctx, from, to)
	if err != nil {
		return nil, err
	}
	for _, d := range deals {
		if i, ok := at[key(d)]; ok {
			out[i].DealQuantity, out[i].DealRevenue = d.DealQuantity, d.DealRevenue
			continue
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		return out[i].WarehouseID < out[j].WarehouseID
	})
	return out, nil
}

// dealSales sums the units deducted at a markdown and their revenue by day
// and warehouse in [from, to).
func (s *Store) dealSales(ctx context.Context, from, to time.Time) ([]domain.WasteRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DATE_FORMAT(g.updated_at, '%Y-%m-%d') AS day, w.id, w.name, r.name,
			SUM(g.quantity), SUM(g.quantity * g.unit_price)
		FROM lots l JOIN lot_ledger g ON g.lot_id = l.id
			JOIN warehouses w ON w.id = l.warehouse_id JOIN regions r ON r.id = w.region_id
		WHERE l.state IN ('CLOSING_SOON', 'EXPIRED') AND l.expires_at > ? AND l.expires_at <= ?
			AND g.kind = 'DEDUCTED' AND g.discount_percent > 0 AND g.updated_at >= ? AND g.updated_at < ?
		GROUP BY day, w.id, w.name, r.name ORDER BY day, w.id`,
		from.UTC(), to.Add(domain.EarlyDealWindow).UTC(), from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("deal sales: %w", err)
	}
	defer rows.Close()
	var out []domain.WasteRow
	for rows.Next() {
		var r domain.WasteRow
		if err := rows.Scan(&r.Day, &r.WarehouseID, &r.Warehouse, &r.Region, &r.DealQuantity, &r.DealRevenue); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
