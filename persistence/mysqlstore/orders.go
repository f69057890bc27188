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
// one transaction sent in one round trip, shared with the orders and saga
// steps of other shoppers that arrive meanwhile: their rows go in
// multi-row INSERTs. The bounds are checked in the payment's insert,
// which a shopper over one makes fail (a NULL amount): the shopper's
// unpaid orders, the new one included, and for an order with deal lines
// the units of each deal lot (such an order first locks the shopper's
// row, so that two orders of one shopper cannot both pass the deal
// limit). An unknown shopper fails the order's insert (a NULL user id).
// Such a failure makes the shared commit go again with each order alone,
// so that it fails by itself; the error says which bound it met
// (domain.ErrTooManyUnpaid, domain.ErrDealLimit).
func (s *Store) CreateOrder(ctx context.Context, o domain.Order, b domain.OrderBounds) error {
	if len(o.Lines) == 0 {
		return domain.ErrEmptyOrder
	}
	n := newOrderRows(o, b)
	err := s.steps.create(ctx, n)
	if isMySQLError(err, errBadNull) {
		// A NULL user id or a NULL amount: which one, the tables say.
		return s.orderRefused(ctx, o.UserID, n.dealLots, b)
	}
	if err != nil {
		return fmt.Errorf("create order: %w", err)
	}
	return nil
}

// newOrder is a new order's rows: the order's, its lines' and its
// payment's, each a row of values for a multi-row INSERT.
type newOrder struct {
	userID   int64
	dealLots []int64
	order    []any
	lines    [][]any
	// payment's amount is an expression (the deal limit's check) with
	// the arguments around it in paymentArgs.
	amount      string
	paymentArgs []any
}

const (
	orderInsert   = "INSERT INTO orders (id, user_id, status, step, total, lat, lng, from_cart, created_at, updated_at, expires_at) VALUES "
	orderRow      = "(?, (SELECT u.id FROM users u WHERE u.id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	linesInsert   = "INSERT INTO order_lines (order_id, line_no, kind, product_id, lot_id, warehouse_id, quantity, unit_price) VALUES "
	lineRow       = "(?, ?, ?, ?, ?, ?, ?, ?)"
	paymentInsert = "INSERT INTO payments (order_id, status, amount, nonce, created_at, updated_at) VALUES "
)

func newOrderRows(o domain.Order, b domain.OrderBounds) *newOrder {
	n := &newOrder{userID: o.UserID}
	for _, l := range o.Lines {
		if l.Kind == domain.LineDeal && !slices.Contains(n.dealLots, l.LotID) {
			n.dealLots = append(n.dealLots, l.LotID)
		}
	}
	n.order = []any{o.ID, o.UserID, domain.StatusCreated, domain.StepCreated, int64(o.Total), o.Address.Lat, o.Address.Lng, o.FromCart,
		o.CreatedAt.UTC(), o.CreatedAt.UTC(), o.ExpiresAt.UTC()}
	// warehouse_id: where the line's stock is held (a deal line's lot's
	// warehouse, a regular line's holding warehouse).
	for _, l := range o.Lines {
		var lot, warehouse any
		if l.LotID > 0 {
			lot = l.LotID
		}
		if l.WarehouseID > 0 {
			warehouse = l.WarehouseID
		}
		n.lines = append(n.lines, []any{o.ID, l.LineNo, l.Kind, l.ProductID, lot, warehouse, l.Quantity, int64(l.UnitPrice)})
	}
	// The shopper's unpaid orders, this one included (it is inserted
	// first in the same transaction), and the shopper's live deal lines
	// of each lot, this order's included, counted from the shopper's
	// orders: in a flash sale the lot's lines are many, one shopper's
	// orders few.
	n.amount = "?"
	var limitArgs []any
	if b.MaxUnpaid > 0 {
		n.amount = `IF(1 AND (SELECT COUNT(*) FROM orders o WHERE o.user_id = ? AND o.status IN (?, ?, ?) AND o.deleted_at IS NULL) <= ?`
		limitArgs = append(limitArgs, o.UserID, domain.StatusCreated, domain.StatusPaymentReady, domain.StatusProcessing, b.MaxUnpaid)
	}
	for _, lot := range n.dealLots {
		if n.amount == "?" {
			n.amount = "IF(1"
		}
		n.amount += ` AND (SELECT COALESCE(SUM(l.quantity), 0) FROM orders o STRAIGHT_JOIN order_lines l ON l.order_id = o.id
			WHERE o.user_id = ? AND l.lot_id = ? AND l.kind = 'DEAL' AND o.deleted_at IS NULL) <= ?`
		limitArgs = append(limitArgs, o.UserID, lot, b.DealUnits)
	}
	if n.amount != "?" {
		n.amount += ", ?, NULL)"
	}
	n.paymentArgs = append([]any{o.ID, domain.PaymentNone}, limitArgs...)
	n.paymentArgs = append(n.paymentArgs, int64(o.Total), o.Payment.Nonce, o.CreatedAt.UTC(), o.CreatedAt.UTC())
	return n
}

// orderStatements are the statements that store orders: the shoppers of
// orders with deal lines locked, then each table's rows in one INSERT.
func orderStatements(orders []*newOrder) []statement {
	var lock, ins, lines, pay strings.Builder
	var lockSt, insSt, linesSt, paySt statement
	lock.WriteString("UPDATE users SET id = id WHERE id IN (")
	ins.WriteString(orderInsert)
	lines.WriteString(linesInsert)
	pay.WriteString(paymentInsert)
	sep := func(b *strings.Builder, first bool) {
		if !first {
			b.WriteString(",")
		}
	}
	for i, n := range orders {
		if len(n.dealLots) > 0 {
			sep(&lock, len(lockSt.args) == 0)
			lock.WriteString("?")
			lockSt.add(n.userID)
		}
		sep(&ins, i == 0)
		ins.WriteString(orderRow)
		insSt.add(n.order...)
		sep(&pay, i == 0)
		pay.WriteString("(?, ?, ")
		pay.WriteString(n.amount)
		pay.WriteString(", ?, ?, ?)")
		paySt.add(n.paymentArgs...)
		for _, l := range n.lines {
			sep(&lines, len(linesSt.args) == 0)
			lines.WriteString(lineRow)
			linesSt.add(l...)
		}
	}
	var stmts []statement
	if len(lockSt.args) > 0 {
		lock.WriteString(")")
		lockSt.query = lock.String()
		stmts = append(stmts, lockSt)
	}
	insSt.query, linesSt.query, paySt.query = ins.String(), lines.String(), pay.String()
	return append(stmts, insSt, linesSt, paySt)
}

// orderRefused tells why CreateOrder's insert met a NULL: an unknown
// shopper, else a shopper at the unpaid-order bound (the only bound an
// order without deal lines has), else one over the deal limit.
func (s *Store) orderRefused(ctx context.Context, userID int64, dealLots []int64, b domain.OrderBounds) error {
	var one int
	err := s.db.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = ?", userID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("user %d: %w", userID, domain.ErrNotFound)
	case err != nil:
		return fmt.Errorf("create order: %w", err)
	}
	if b.MaxUnpaid > 0 {
		unpaid := b.MaxUnpaid
		if len(dealLots) > 0 {
			if unpaid, err = s.UnpaidOrders(ctx, userID); err != nil {
				return fmt.Errorf("create order: %w", err)
			}
		}
		if unpaid >= b.MaxUnpaid {
			return fmt.Errorf("user %d is at the bound of %d unpaid orders: %w", userID, b.MaxUnpaid, domain.ErrTooManyUnpaid)
		}
	}
	return fmt.Errorf("lots %v: more than %d per shopper: %w", dealLots, b.DealUnits, domain.ErrDealLimit)
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
	return scanColumn[string](rows, err)
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
