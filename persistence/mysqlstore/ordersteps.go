package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"shelflife/domain"
)

// advance moves an order from one step to another and sets fields of its
// payment, in one statement, committed with the steps of other orders that
// arrive meanwhile: it is ErrStepChanged when the order was not at from.
func (s *Store) advance(ctx context.Context, id string, from, to domain.Step, status domain.OrderStatus, now time.Time, paymentSet string, paymentArgs ...any) error {
	return s.advanceJoin(ctx, "", id, from, to, status, now, paymentSet, paymentArgs...)
}

// advanceJoin is advance with one more join (order_lines l) to set along
// with the payment; a step that sets nothing of the payment updates the
// order's row alone.
func (s *Store) advanceJoin(ctx context.Context, join, id string, from, to domain.Step, status domain.OrderStatus, now time.Time, paymentSet string, paymentArgs ...any) error {
	q := "UPDATE orders o SET o.step = ?, o.status = ?, o.updated_at = ?"
	args := []any{to, status, now.UTC()}
	if paymentSet != "" {
		// The payment changes too: its row joins the same statement.
		q = "UPDATE orders o JOIN payments p ON p.order_id = o.id " + join + " SET o.step = ?, o.status = ?, o.updated_at = ?, p.updated_at = ?, " + paymentSet
		args = append(append(args, now.UTC()), paymentArgs...)
	}
	q += " WHERE o.id = ? AND o.step = ?"
	args = append(args, id, from)
	var set *setStep
	if join == "" {
		// The same step of other orders in the same batch becomes one
		// set-based statement (steps.go).
		set = &setStep{id: id, from: from, to: to, status: status, now: now.UTC(), payment: paymentSet, values: paymentArgs}
	}
	return s.stepWrite(ctx, fmt.Sprintf("order %s not at %s", id, from), set, q, args...)
}

// stepWrite commits one conditional statement with the steps of other
// orders; it is ErrStepChanged, described by what, when no row matched.
// set, when not nil, is the same step described for a set-based write.
func (s *Store) stepWrite(ctx context.Context, what string, set *setStep, q string, args ...any) error {
	st := statement{query: q}
	st.add(args...)
	n, err := s.steps.exec(ctx, st, set)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, domain.ErrStepChanged)
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
	_, err := s.steps.exec(ctx, st, nil)
	return err
}

// BeginApproving moves the saga from deducting to approving.
func (s *Store) BeginApproving(ctx context.Context, id string, now time.Time) error {
	return s.advance(ctx, id, domain.StepDeducting, domain.StepApproving, domain.StatusProcessing, now, "")
}

// BeginApprovingHeld records the payer's pg_token and moves an order
// whose holds were all committed from READY straight to APPROVING.
func (s *Store) BeginApprovingHeld(ctx context.Context, id, pgToken string, now time.Time) error {
	return s.advance(ctx, id, domain.StepReady, domain.StepApproving, domain.StatusProcessing, now, "p.pg_token = ?", pgToken)
}

// SetPGToken replaces the pg_token of an order still at APPROVING.
func (s *Store) SetPGToken(ctx context.Context, id, pgToken string, now time.Time) error {
	return s.advance(ctx, id, domain.StepApproving, domain.StepApproving, domain.StatusProcessing, now, "p.pg_token = ?", pgToken)
}

// MarkPaid records the approved payment: the order is paid.
func (s *Store) MarkPaid(ctx context.Context, id, aid string, now time.Time) error {
	return s.advance(ctx, id, domain.StepApproving, domain.StepDone, domain.StatusPaid, now,
		"p.status = ?, p.aid = ?, p.approved_at = ?", domain.PaymentApproved, aid, now.UTC())
}

// FailOrder ends an order that is at one of fromSteps: it is soft-deleted
// with its lines, given f's status and reason, its payment f's status, and
// the outbox messages (the saga's order-failed event) are written in the
// same transaction.
func (s *Store) FailOrder(ctx context.Context, id string, fromSteps []domain.Step, f domain.Failure, now time.Time, msgs ...domain.OutboxMessage) error {
	q := `UPDATE orders o JOIN payments p ON p.order_id = o.id JOIN order_lines l ON l.order_id = o.id
		SET o.step = 'DONE', o.status = ?, o.reason = ?, o.updated_at = ?, o.deleted_at = ?, l.deleted_at = ?, p.status = ?, p.updated_at = ?
		WHERE o.id = ? AND o.step IN (?` + strings.Repeat(",?", len(fromSteps)-1) + ")"
	args := []any{f.Status, f.Reason, now.UTC(), now.UTC(), now.UTC(), f.Payment, now.UTC(), id}
	for _, st := range fromSteps {
		args = append(args, st)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("fail order %s: %w", id, domain.ErrStepChanged)
		}
		return writeOutbox(ctx, tx, msgs)
	})
}

// MarkRefunded records money given back for an order's payment.
func (s *Store) MarkRefunded(ctx context.Context, id string, amount domain.KRW, now time.Time) error {
	_, err := s.db.ExecContext(ctx, "UPDATE payments SET status = ?, refunded = ?, updated_at = ? WHERE order_id = ?",
		domain.PaymentRefunded, int64(amount), now.UTC(), id)
	return err
}

// DiscardOrder removes an order still at CREATED, with its lines and
// payment row: its payment was never made ready, so it never existed for
// the shopper and must not count towards a deal limit. msgs are written to
// the outbox in the same transaction (the event that gives its holds back
// should the saga's own release fail).
func (s *Store) DiscardOrder(ctx context.Context, id string, msgs ...domain.OutboxMessage) error {
	const q = `DELETE o, l, p FROM orders o
		LEFT JOIN order_lines l ON l.order_id = o.id LEFT JOIN payments p ON p.order_id = o.id
		WHERE o.id = ? AND o.step = ?`
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, id, domain.StepCreated)
		if err != nil {
			return fmt.Errorf("discard order %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("discard order %s: %w", id, domain.ErrStepChanged)
		}
		return writeOutbox(ctx, tx, msgs)
	})
}

// writeOutbox writes msgs to the outbox within tx.
func writeOutbox(ctx context.Context, tx *sql.Tx, msgs []domain.OutboxMessage) error {
	for _, m := range msgs {
		if _, err := tx.ExecContext(ctx, "INSERT INTO outbox (topic, msg_key, payload) VALUES (?, ?, ?)", m.Topic, m.Key, m.Payload); err != nil {
			return err
		}
	}
	return nil
}
