package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"shelflife/domain"
)

// CreateOrder stores a new order with its lines and an empty payment, in
// one transaction sent in one round trip. An order with deal lines first
// locks the shopper's row, so that two orders of one shopper cannot both
// pass the per-shopper deal limit; the limit is checked in the payment's
// insert, which a shopper over the limit makes fail (a NULL amount), and
// an unknown shopper fails the order's insert (a NULL user id).
func (s *Store) CreateOrder(ctx context.Context, o domain.Order, dealLimit int64) error {
	if len(o.Lines) == 0 {
		return domain.ErrEmptyOrder
	}
	var stmts []statement
	var dealLots []int64
	for _, l := range o.Lines {
		if l.Kind == domain.LineDeal && !slices.Contains(dealLots, l.LotID) {
			dealLots = append(dealLots, l.LotID)
		}
	}
	if len(dealLots) > 0 {
		lock := statement{query: "UPDATE users SET id = id WHERE id = ?"}
		lock.add(o.UserID)
		stmts = append(stmts, lock)
	}
	ins := statement{query: `INSERT INTO orders (id, user_id, status, step, total, lat, lng, from_cart, created_at, updated_at, expires_at)
		VALUES (?, (SELECT u.id FROM users u WHERE u.id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?)`}
	ins.add(o.ID, o.UserID, domain.StatusCreated, domain.StepCreated, int64(o.Total), o.Address.Lat, o.Address.Lng, o.FromCart,
		o.CreatedAt.UTC(), o.CreatedAt.UTC(), o.ExpiresAt.UTC())
	// warehouse_id: where the line's stock is held (a deal line's lot's
	// warehouse, a regular line's holding warehouse).
	lines := statement{query: "INSERT INTO order_lines (order_id, line_no, kind, product_id, lot_id, warehouse_id, quantity, unit_price) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?),", len(o.Lines)), ",")}
	for _, l := range o.Lines {
		var lot, warehouse any
		if l.LotID > 0 {
			lot = l.LotID
		}
		if l.WarehouseID > 0 {
			warehouse = l.WarehouseID
		}
		lines.add(o.ID, l.LineNo, l.Kind, l.ProductID, lot, warehouse, l.Quantity, int64(l.UnitPrice))
	}
	// The shopper's live deal lines of each lot, this order's included,
	// counted from the shopper's orders: in a flash sale the lot's lines
	// are many, one shopper's orders few.
	amount := "?"
	var limitArgs []any
	for _, lot := range dealLots {
		if amount == "?" {
			amount = "IF(1"
		}
		amount += ` AND (SELECT COALESCE(SUM(l.quantity), 0) FROM orders o STRAIGHT_JOIN order_lines l ON l.order_id = o.id
			WHERE o.user_id = ? AND l.lot_id = ? AND l.kind = 'DEAL' AND o.deleted_at IS NULL) <= ?`
		limitArgs = append(limitArgs, o.UserID, lot, dealLimit)
	}
	if len(dealLots) > 0 {
		amount += ", ?, NULL)"
	}
	pay := statement{query: "INSERT INTO payments (order_id, status, amount, nonce, created_at, updated_at) VALUES (?, ?, " + amount + ", ?, ?, ?)"}
	pay.add(o.ID, domain.PaymentNone)
	pay.add(limitArgs...)
	pay.add(int64(o.Total), o.Payment.Nonce, o.CreatedAt.UTC(), o.CreatedAt.UTC())
	stmts = append(stmts, ins, lines, pay)

	err := s.retry(ctx, func() error {
		_, err := s.commitBatch(ctx, stmts, true)
		return err
	})
	if isMySQLError(err, errBadNull) {
		// A NULL user id or a NULL amount: which one, the users table says.
		return s.orderRefused(ctx, o.UserID, dealLots, dealLimit)
	}
	if err != nil {
		return fmt.Errorf("create order: %w", err)
	}
	return nil
}

// orderRefused tells why CreateOrder's insert met a NULL: an unknown
// shopper, or else a shopper over the deal limit.
func (s *Store) orderRefused(ctx context.Context, userID int64, dealLots []int64, dealLimit int64) error {
	var one int
	err := s.db.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = ?", userID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("user %d: %w", userID, domain.ErrNotFound)
	case err != nil:
		return fmt.Errorf("create order: %w", err)
	}
	return fmt.Errorf("lots %v: more than %d per shopper: %w", dealLots, dealLimit, domain.ErrDealLimit)
}

const orderColumns = `o.id, o.user_id, o.status, o.step, o.reason, o.total, o.lat, o.lng, o.from_cart, o.created_at, o.updated_at, o.expires_at,
	o.deleted_at IS NOT NULL, p.tid, p.status, p.amount, p.redirect_url, p.nonce, p.pg_token, p.refunded
	FROM orders o JOIN payments p ON p.order_id = o.id`

func scanOrder(row interface{ Scan(...any) error }) (domain.Order, error) {
	var o domain.Order
	err := row.Scan(&o.ID, &o.UserID, &o.Status, &o.Step, &o.Reason, &o.Total, &o.Address.Lat, &o.Address.Lng, &o.FromCart,
		&o.CreatedAt, &o.UpdatedAt, &o.ExpiresAt, &o.Deleted, &o.Payment.TID, &o.Payment.Status, &o.Payment.Amount,
		&o.Payment.RedirectURL, &o.Payment.Nonce, &o.Payment.PGToken, &o.Payment.Refunded)
	return o, err
}

// Order reads an order, soft-deleted or not, with its lines.
func (s *Store) Order(ctx context.Context, id string) (domain.Order, error) {
	o, err := scanOrder(s.db.QueryRowContext(ctx, "SELECT "+orderColumns+" WHERE o.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return o, domain.ErrOrderNotFound
	}
	if err != nil {
		return o, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT line_no, kind, product_id, COALESCE(lot_id, 0), COALESCE(warehouse_id, 0), quantity, unit_price
		FROM order_lines WHERE order_id = ? ORDER BY line_no`, id)
	if err != nil {
		return o, err
	}
	defer rows.Close()
	for rows.Next() {
		var l domain.OrderLine
		if err := rows.Scan(&l.LineNo, &l.Kind, &l.ProductID, &l.LotID, &l.WarehouseID, &l.Quantity, &l.UnitPrice); err != nil {
			return o, err
		}
		o.Lines = append(o.Lines, l)
	}
	return o, rows.Err()
}

// MaxOrdersListed bounds one Orders call.
const MaxOrdersListed = 1000

// Orders lists orders, newest first (then by id, descending), without
// lines, from f's cursor when it has one; an order is stuck when
// it has not moved for f.StuckFor at now.
func (s *Store) Orders(ctx context.Context, f domain.OrderFilter, now time.Time) ([]domain.Order, error) {
	q := "SELECT " + orderColumns + " WHERE 1=1"
	var args []any
	if f.UserID > 0 {
		q += " AND o.user_id = ?"
		args = append(args, f.UserID)
	}
	if f.Status != "" {
		q += " AND o.status = ?"
		args = append(args, f.Status)
	}
	if f.StuckFor > 0 {
		q += " AND o.step IN ('CREATED', 'DEDUCTING', 'APPROVING') AND o.updated_at < ?"
		args = append(args, now.Add(-f.StuckFor).UTC())
	}
	if f.BeforeID != "" {
		q += " AND (o.created_at < ? OR (o.created_at = ? AND o.id < ?))"
		before := f.BeforeCreated.UTC()
		args = append(args, before, before, f.BeforeID)
	}
	if f.Limit <= 0 || f.Limit > MaxOrdersListed {
		f.Limit = 100
	}
	q += " ORDER BY o.created_at DESC, o.id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// DueOrders lists orders a sweep must look at: payments waiting past their
// validity, and sagas left mid-way (a crash) since before stuckBefore.
func (s *Store) DueOrders(ctx context.Context, now, stuckBefore time.Time) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM orders
		WHERE (step = 'READY' AND expires_at < ?) OR (step IN ('CREATED', 'DEDUCTING', 'APPROVING') AND updated_at < ?)
		ORDER BY updated_at LIMIT 1000`, now.UTC(), stuckBefore.UTC())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// UnpaidOrders counts the user's live orders not paid and not ended yet
// (CREATED, PAYMENT_READY, PROCESSING).
func (s *Store) UnpaidOrders(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders
		WHERE user_id = ? AND status IN (?, ?, ?) AND deleted_at IS NULL`,
		userID, domain.StatusCreated, domain.StatusPaymentReady, domain.StatusProcessing).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unpaid orders of user %d: %w", userID, err)
	}
	return n, nil
}
