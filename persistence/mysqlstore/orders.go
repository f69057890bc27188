package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

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
	lines := statement{query: "INSERT INTO order_lines (order_id, line_no, kind, product_id, lot_id, quantity, unit_price) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?),", len(o.Lines)), ",")}
	for _, l := range o.Lines {
		var lot any
		if l.LotID > 0 {
			lot = l.LotID
		}
		lines.add(o.ID, l.LineNo, l.Kind, l.ProductID, lot, l.Quantity, int64(l.UnitPrice))
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

	err := retry(ctx, func() error {
		conn, err := s.batch.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := execBatch(ctx, conn, stmts, true); err != nil {
			rollback(conn)
			return err
		}
		return nil
	})
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == errBadNull {
		switch {
		case strings.Contains(me.Message, "user_id"):
			return fmt.Errorf("user %d: %w", o.UserID, domain.ErrNotFound)
		case strings.Contains(me.Message, "amount"):
			return fmt.Errorf("lots %v: more than %d per shopper: %w", dealLots, dealLimit, domain.ErrDealLimit)
		}
	}
	if err != nil {
		return fmt.Errorf("create order: %w", err)
	}
	return nil
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

// OrderFilter selects orders for listings.
type OrderFilter struct {
	UserID int64
	Status string
	// StuckBefore lists orders whose saga is mid-way (not READY or DONE)
	// and has not moved since then.
	StuckBefore time.Time
	Limit       int
}

// Orders lists orders, newest first, without lines.
func (s *Store) Orders(ctx context.Context, f OrderFilter) ([]domain.Order, error) {
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
	if !f.StuckBefore.IsZero() {
		q += " AND o.step IN ('CREATED', 'DEDUCTING', 'APPROVING') AND o.updated_at < ?"
		args = append(args, f.StuckBefore.UTC())
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	q += " ORDER BY o.created_at DESC LIMIT ?"
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

// advance moves an order from one step to another and sets fields of its
// payment, in one statement, committed with the steps of other orders that
// arrive meanwhile: it is ErrStepChanged when the order was not at from.
func (s *Store) advance(ctx context.Context, id, from, to, status string, now time.Time, paymentSet string, paymentArgs ...any) error {
	return s.advanceJoin(ctx, "", id, from, to, status, now, paymentSet, paymentArgs...)
}

// advanceJoin is advance with one more join (order_lines l) to set along
// with the payment; a step that sets nothing of the payment updates the
// order's row alone.
func (s *Store) advanceJoin(ctx context.Context, join, id, from, to, status string, now time.Time, paymentSet string, paymentArgs ...any) error {
	q := "UPDATE orders o SET o.step = ?, o.status = ?, o.updated_at = ?"
	args := []any{to, status, now.UTC()}
	if paymentSet != "" {
		// The payment changes too: its row joins the same statement.
		q = "UPDATE orders o JOIN payments p ON p.order_id = o.id " + join + " SET o.step = ?, o.status = ?, o.updated_at = ?, p.updated_at = ?, " + paymentSet
		args = append(append(args, now.UTC()), paymentArgs...)
	}
	q += " WHERE o.id = ? AND o.step = ?"
	args = append(args, id, from)
	st := statement{query: q}
	st.add(args...)
	n, err := s.steps.exec(ctx, st)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("order %s not at %s: %w", id, from, domain.ErrStepChanged)
	}
	return nil
}

// SetReady records the payment Kakao Pay made ready: the order waits for
// the payer.
func (s *Store) SetReady(ctx context.Context, id, tid, redirect string, now time.Time) error {
	return s.advance(ctx, id, domain.StepCreated, domain.StepReady, domain.StatusPaymentReady, now,
		"p.tid = ?, p.status = ?, p.redirect_url = ?", tid, domain.PaymentReady, redirect)
}

// BeginDeducting records the payer's pg_token and moves the saga on; in
// the same statement it records the warehouse each line of lineWarehouses
// (line number -> warehouse) is to be taken from first.
func (s *Store) BeginDeducting(ctx context.Context, id, pgToken string, now time.Time, lineWarehouses map[int]int64) error {
	if len(lineWarehouses) == 0 {
		return s.advance(ctx, id, domain.StepReady, domain.StepDeducting, domain.StatusProcessing, now, "p.pg_token = ?", pgToken)
	}
	set := "p.pg_token = ?, l.warehouse_id = CASE l.line_no"
	args := []any{pgToken}
	lines := slices.Sorted(maps.Keys(lineWarehouses))
	for _, n := range lines {
		set += " WHEN ? THEN ?"
		args = append(args, n, lineWarehouses[n])
	}
	set += " ELSE l.warehouse_id END"
	return s.advanceJoin(ctx, "JOIN order_lines l ON l.order_id = o.id", id, domain.StepReady, domain.StepDeducting, domain.StatusProcessing, now, set, args...)
}

// SetLineWarehouse records the warehouse a regular line is taken from.
func (s *Store) SetLineWarehouse(ctx context.Context, id string, lineNo int, warehouseID int64) error {
	st := statement{query: "UPDATE order_lines SET warehouse_id = ? WHERE order_id = ? AND line_no = ?"}
	st.add(warehouseID, id, lineNo)
	_, err := s.steps.exec(ctx, st)
	return err
}

// BeginApproving moves the saga from deducting to approving.
func (s *Store) BeginApproving(ctx context.Context, id string, now time.Time) error {
	return s.advance(ctx, id, domain.StepDeducting, domain.StepApproving, domain.StatusProcessing, now, "")
}

// MarkPaid records the approved payment: the order is paid.
func (s *Store) MarkPaid(ctx context.Context, id, aid string, now time.Time) error {
	return s.advance(ctx, id, domain.StepApproving, domain.StepDone, domain.StatusPaid, now,
		"p.status = ?, p.aid = ?, p.approved_at = ?", domain.PaymentApproved, aid, now.UTC())
}

// FailOrder ends an order that is at one of fromSteps: it is soft-deleted
// with its lines, given status and reason, its payment paymentStatus, and
// the outbox messages are written in the same transaction.
// Without messages it is one statement, committed with other orders'
// steps.
func (s *Store) FailOrder(ctx context.Context, id string, fromSteps []string, status, reason, paymentStatus string, now time.Time, msgs ...domain.OutboxMessage) error {
	q := `UPDATE orders o JOIN payments p ON p.order_id = o.id JOIN order_lines l ON l.order_id = o.id
		SET o.step = 'DONE', o.status = ?, o.reason = ?, o.updated_at = ?, o.deleted_at = ?, l.deleted_at = ?, p.status = ?, p.updated_at = ?
		WHERE o.id = ? AND o.step IN (?` + strings.Repeat(",?", len(fromSteps)-1) + ")"
	args := []any{status, reason, now.UTC(), now.UTC(), now.UTC(), paymentStatus, now.UTC(), id}
	for _, st := range fromSteps {
		args = append(args, st)
	}
	if len(msgs) == 0 {
		st := statement{query: q}
		st.add(args...)
		n, err := s.steps.exec(ctx, st)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("fail order %s: %w", id, domain.ErrStepChanged)
		}
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("fail order %s: %w", id, domain.ErrStepChanged)
		}
		for _, m := range msgs {
			if _, err := tx.ExecContext(ctx, "INSERT INTO outbox (topic, msg_key, payload) VALUES (?, ?, ?)", m.Topic, m.Key, m.Payload); err != nil {
				return err
			}
		}
		return nil
	})
}

// MarkRefunded records money given back for an order's payment.
func (s *Store) MarkRefunded(ctx context.Context, id string, amount domain.KRW, now time.Time) error {
	_, err := s.db.ExecContext(ctx, "UPDATE payments SET status = ?, refunded = ?, updated_at = ? WHERE order_id = ?",
		domain.PaymentRefunded, int64(amount), now.UTC(), id)
	return err
}

// PendingOutbox lists messages not yet published, oldest first.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]domain.OutboxMessage, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, topic, msg_key, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.OutboxMessage
	for rows.Next() {
		var m domain.OutboxMessage
		if err := rows.Scan(&m.ID, &m.Topic, &m.Key, &m.Payload); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MarkPublished records that the messages reached Kafka.
func (s *Store) MarkPublished(ctx context.Context, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{now.UTC()}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := s.db.ExecContext(ctx, "UPDATE outbox SET published_at = ? WHERE id IN (?"+strings.Repeat(",?", len(ids)-1)+")", args...)
	return err
}

// Processed reports whether consumer already handled event id.
func (s *Store) Processed(ctx context.Context, consumer, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM processed_events WHERE consumer = ? AND event_id = ?", consumer, id).Scan(&n)
	return n > 0, err
}

// MarkProcessed records that consumer handled event id.
func (s *Store) MarkProcessed(ctx context.Context, consumer, id string) error {
	_, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO processed_events (consumer, event_id) VALUES (?, ?)", consumer, id)
	return err
}

// Reconciliation compares what the shop's payments say with its orders.
type Reconciliation struct {
	PaidOrders         int64      `json:"paid_orders"`
	PaidTotal          domain.KRW `json:"paid_total"`
	ApprovedPayments   int64      `json:"approved_payments"`
	ApprovedTotal      domain.KRW `json:"approved_total"`
	RefundedPayments   int64      `json:"refunded_payments"`
	RefundedTotal      domain.KRW `json:"refunded_total"`
	ApprovedNotPaid    []string   `json:"approved_not_paid"`
	FailedWithApproval []string   `json:"failed_with_approval"`
}

// Reconcile sums paid orders against approved payments and lists the
// orders where they disagree.
func (s *Store) Reconcile(ctx context.Context) (Reconciliation, error) {
	r := Reconciliation{ApprovedNotPaid: []string{}, FailedWithApproval: []string{}}
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(total), 0) FROM orders WHERE status = 'PAID'").Scan(&r.PaidOrders, &r.PaidTotal)
	if err != nil {
		return r, err
	}
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM payments WHERE status = 'APPROVED'").Scan(&r.ApprovedPayments, &r.ApprovedTotal); err != nil {
		return r, err
	}
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(refunded), 0) FROM payments WHERE status = 'REFUNDED'").Scan(&r.RefundedPayments, &r.RefundedTotal); err != nil {
		return r, err
	}
	for _, q := range []struct {
		sql string
		dst *[]string
	}{
		{"SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id WHERE p.status = 'APPROVED' AND o.status <> 'PAID' LIMIT 100", &r.ApprovedNotPaid},
		{"SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.status = 'FAILED' AND p.status = 'APPROVED' LIMIT 100", &r.FailedWithApproval},
	} {
		rows, err := s.db.QueryContext(ctx, q.sql)
		if err != nil {
			return r, err
		}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			*q.dst = append(*q.dst, id)
		}
		rows.Close()
	}
	return r, nil
}

// DiscardOrder removes an order still at CREATED, with its lines and
// payment row: its payment was never made ready, so it never existed for
// the shopper and must not count towards a deal limit.
func (s *Store) DiscardOrder(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE o, l, p FROM orders o
		LEFT JOIN order_lines l ON l.order_id = o.id LEFT JOIN payments p ON p.order_id = o.id
		WHERE o.id = ? AND o.step = ?`, id, domain.StepCreated)
	if err != nil {
		return fmt.Errorf("discard order %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("discard order %s: %w", id, domain.ErrStepChanged)
	}
	return nil
}
