package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	pb "shelflife/actors/inventorypb"
	opb "shelflife/actors/orderpb"
	"shelflife/domain"
)

// The saga's steps, as persisted in MySQL:
//
//	(lines held by Holder, then the order stored)
//	CREATED --ready--> READY --takeHeld (holds committed, then the pg_token)--> APPROVING --approve--> DONE (PAID)
//	READY --beginDeducting (placed before holds, or a lot not answering)--> DEDUCTING --run (commit or allocate)--> APPROVING --approve--> DONE (PAID)
//	CREATED --discard--> (no order: the payment could not be made ready; holds released)
//	CREATED, READY --abort--> DONE (FAILED/EXPIRED, nothing taken, holds released)
//	READY, DEDUCTING --compensate--> DONE (FAILED, stock given back at once: compensation 1)
//	APPROVING --compensate--> DONE (FAILED, stock given back through the outbox: compensation 2)
//
// Each function below makes one transition durable before acting on it.
// A write that finds the order moved on (domain.ErrStepChanged) answers
// the order as MySQL has it; any other failure answers UNAVAILABLE and
// leaves the order where it was, for the sweep to resume.

var none = opb.Refusal_REFUSAL_NONE

// stepWriteTime bounds a step's write that must not be left undone
// because what came before it used the message's time.
const stepWriteTime = 5 * time.Second

// ready asks the payment provider for the payment: CREATED -> READY, or
// the order discarded when the provider refuses or does not answer.
func (g *grain) ready(ctx context.Context, o domain.Order) (*opb.SagaState, error) {
	g.after(StepHeld)
	tid, redirect, err := g.deps.Payments.Ready(ctx, ReadyRequest{
		OrderID: o.ID, UserID: o.UserID, ItemName: itemName(o), Quantity: totalQuantity(o), Amount: o.Total,
		ApprovalURL: g.deps.URLs.Approval(o.ID, o.Payment.Nonce), CancelURL: g.deps.URLs.Cancel(o.ID, o.Payment.Nonce),
		FailURL: g.deps.URLs.Fail(o.ID, o.Payment.Nonce),
	})
	if err != nil {
		g.log.Warn("payment ready failed", "error", err.Error())
		return g.discard(ctx, o, err)
	}
	if err := g.deps.Store.SetReady(ctx, o.ID, tid, redirect, g.now()); err != nil {
		if errors.Is(err, domain.ErrStepChanged) {
			return g.state(ctx, none)
		}
		g.log.Error("record ready payment", "error", err.Error())
		return g.unavailable(), nil
	}
	g.after(domain.StepReady)
	o.Payment.TID, o.Payment.RedirectURL, o.Payment.Status = tid, redirect, domain.PaymentReady
	return g.moved(&o, domain.StepReady, domain.StatusPaymentReady, ""), nil
}

// discard removes an order whose payment could not be made ready: the
// shopper gets an error instead of an order, nothing was held or charged,
// and the order's rows go. The refusal says whether Kakao Pay refused
// (PAYMENT_NOT_STARTED) or did not answer (PAYMENT_UNREACHABLE).
//
// The order goes first, with the order-failed event, then its holds: the
// delete is conditional on CREATED, so an activation that knew the order
// as CREATED while another made its payment ready (a member paused, a
// request delivered twice) gives back nothing of an order that may yet be
// paid. Holds that cannot be released at once are released by the event
// (and end at their deadline anyway).
func (g *grain) discard(ctx context.Context, o domain.Order, cause error) (*opb.SagaState, error) {
	msg, err := outboxMessage(g.failed(o, domain.ReasonPaymentUnavailable))
	if err != nil {
		return g.unavailable(), nil
	}
	if err := g.deps.Store.DiscardOrder(ctx, o.ID, msg); err != nil {
		if errors.Is(err, domain.ErrStepChanged) {
			return g.state(ctx, none)
		}
		g.log.Error("discard order without payment", "error", err.Error())
		return g.unavailable(), nil
	}
	g.known = nil
	if err := g.releaseHolds(ctx, o); err != nil {
		g.log.Warn("release holds of a discarded order; the outbox event will retry", "error", err.Error())
	}
	refusal := opb.Refusal_PAYMENT_NOT_STARTED
	if errors.Is(cause, ErrPaymentUnreachable) {
		refusal = opb.Refusal_PAYMENT_UNREACHABLE
	}
	return &opb.SagaState{OrderId: g.id, Refusal: refusal}, nil
}

func itemName(o domain.Order) string {
	if len(o.Lines) <= 1 {
		return "ShelfLife 주문"
	}
	return fmt.Sprintf("ShelfLife 주문 외 %d건", len(o.Lines)-1)
}

func totalQuantity(o domain.Order) int64 {
	var q int64
	for _, l := range o.Lines {
		q += l.Quantity
	}
	return q
}

// beginDeducting records the payer's pg_token: READY -> DEDUCTING. It
// answers the order to carry on with, or the answer to give when the saga
// cannot go on.
func (g *grain) beginDeducting(ctx context.Context, o domain.Order, pgToken string) (domain.Order, *opb.SagaState) {
	first := g.firstWarehouses(o)
	err := g.deps.Store.BeginDeducting(ctx, o.ID, pgToken, g.now(), first)
	switch {
	case errors.Is(err, domain.ErrStepChanged):
		// Another activation moved it on meanwhile: carry on from MySQL.
		g.known = nil
		o, err := g.order(ctx)
		if err != nil {
			st, _ := g.state(ctx, none)
			return o, st
		}
		return o, nil
	case err != nil:
		return o, g.unavailable()
	}
	g.after(domain.StepDeducting)
	o.Payment.PGToken = pgToken
	for i, l := range o.Lines {
		if w, ok := first[l.LineNo]; ok {
			o.Lines[i].WarehouseID = w
		}
	}
	g.moved(&o, domain.StepDeducting, domain.StatusProcessing, "")
	return o, nil
}

// allHeld reports whether every line of o was held at placement: a deal
// line has its lot, a regular line the warehouse that holds it. (Orders
// placed before holds have regular lines without one.)
func (g *grain) allHeld(o domain.Order) bool {
	for _, l := range o.Lines {
		if l.Kind != domain.LineDeal && l.WarehouseID == 0 {
			return false
		}
	}
	return true
}

// deduction is what deductAll answered.
type deduction struct {
	ok     bool
	reason pb.Reason
}

// takeHeld carries on after the payer approved an order whose every line
// is held: it commits the holds, then records the payer's pg_token and
// APPROVING in one write (READY -> APPROVING), then asks for the money.
// The order skips DEDUCTING: a commit that cannot fail for stock needs
// no step of its own, so a checkout costs one durable write fewer. A
// crash after the commits but before the write leaves the order READY
// with its holds taken: the payer's next callback commits again (a
// committed hold answers OK), and expiry or a cancel releases them, which
// gives a deduction back too. A refused commit (the hold lapsed) fails
// the order from READY and gives back at once what was taken
// (compensation 1). A lot that does not answer leaves the order at
// DEDUCTING, with the pg_token, for the sweep to commit again.
//
// The commits may spend most of the message's time (a lot that does not
// answer is asked again for seconds), so the write after them has a time
// of its own: the payer's approval is recorded whatever they took.
func (g *grain) takeHeld(ctx context.Context, o domain.Order, pgToken string) (*opb.SagaState, error) {
	ok, reason := g.deductAll(ctx, o)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stepWriteTime)
	defer cancel()
	switch {
	case reason == pb.Reason_UNAVAILABLE:
		if _, st := g.beginDeducting(wctx, o, pgToken); st != nil {
			return st, nil
		}
		return g.state(wctx, none)
	case !ok:
		return g.compensate(wctx, o, domain.StepReady, domain.ReasonInsufficientStock, domain.PaymentCancelled)
	}
	g.after(StepHoldsTaken)
	err := g.deps.Store.BeginApprovingHeld(wctx, o.ID, pgToken, g.now())
	switch {
	case errors.Is(err, domain.ErrStepChanged):
		// Another activation moved it on meanwhile: one that reached
		// APPROVING asks for the money itself; DEDUCTING is carried on.
		g.known = nil
		o, err := g.order(wctx)
		if err != nil || o.Step != domain.StepDeducting {
			return g.state(wctx, none)
		}
		return g.run(ctx, o)
	case err != nil:
		// Still READY; what was committed stays the order's until the
		// payer's next callback or its expiry.
		return g.unavailable(), nil
	}
	g.after(domain.StepApproving)
	o.Payment.PGToken = pgToken
	g.moved(&o, domain.StepApproving, domain.StatusProcessing, "")
	return g.approve(ctx, o)
}

// abort ends an order that took nothing, no stock and no money: CREATED or
// READY -> DONE. The failure is made durable first, with the order-failed
// event, and the holds are released at once after it; the event releases
// whatever that could not (and the holds end at their deadline anyway).
// Written the other way round, an activation holding a stale copy (the
// order paid meanwhile by another activation) would give back a paid
// order's stock before its write was refused.
func (g *grain) abort(ctx context.Context, o domain.Order, status domain.OrderStatus, reason domain.Reason) (*opb.SagaState, error) {
	f := domain.Failure{Status: status, Reason: reason, Payment: domain.PaymentCancelled}
	msg, err := outboxMessage(g.failed(o, reason))
	if err != nil {
		return g.unavailable(), nil
	}
	err = g.deps.Store.FailOrder(ctx, o.ID, []domain.Step{domain.StepCreated, domain.StepReady}, f, g.now(), msg)
	if errors.Is(err, domain.ErrStepChanged) {
		return g.state(ctx, none)
	}
	if err != nil {
		return g.unavailable(), nil
	}
	// A READY order may have had its holds committed by a callback whose
	// step write failed: the release gives a deduction back too.
	if err := g.releaseHolds(ctx, o); err != nil {
		g.log.Warn("release holds of an aborted order; the outbox event will retry", "error", err.Error())
	}
	o.Deleted, o.Payment.Status = true, domain.PaymentCancelled
	if o.Payment.TID != "" {
		// Close the payment at Kakao Pay so that it cannot be approved later.
		if err := g.deps.Payments.Cancel(ctx, o.Payment.TID, o.Total); err != nil {
			g.log.Warn("close abandoned payment", "error", err.Error())
		}
	}
	return g.moved(&o, domain.StepDone, status, reason), nil
}

// run carries the saga on from DEDUCTING (take the stock, then
// DEDUCTING -> APPROVING) or APPROVING (take the money).
func (g *grain) run(ctx context.Context, o domain.Order) (*opb.SagaState, error) {
	if o.Step == domain.StepDeducting {
		ok, reason := g.deductAll(ctx, o)
		return g.deducted(ctx, o, deduction{ok: ok, reason: reason})
	}
	if o.Step == domain.StepApproving {
		return g.approve(ctx, o)
	}
	return g.state(ctx, none)
}

// deducted carries on from DEDUCTING once the holds were committed (or
// refused): DEDUCTING -> APPROVING, then the money; compensation 1; or
// the order left for the sweep. APPROVING is written before the money is
// asked for so that, once it may have been taken, nothing gives the stock
// back but a refused payment, and only one activation asks.
func (g *grain) deducted(ctx context.Context, o domain.Order, d deduction) (*opb.SagaState, error) {
	switch {
	case d.reason == pb.Reason_UNAVAILABLE:
		// Left at DEDUCTING; the sweep resumes it.
		return g.state(ctx, none)
	case !d.ok:
		return g.compensate(ctx, o, domain.StepDeducting, domain.ReasonInsufficientStock, domain.PaymentCancelled)
	}
	g.after(StepCommitted)
	if err := g.deps.Store.BeginApproving(ctx, o.ID, g.now()); err != nil {
		if errors.Is(err, domain.ErrStepChanged) {
			return g.state(ctx, none)
		}
		return g.unavailable(), nil
	}
	g.after(domain.StepApproving)
	o.Step = domain.StepApproving
	g.remember(o)
	return g.approve(ctx, o)
}

// serving lists the warehouses that serve the order's address, nearest
// first.
func (g *grain) serving(o domain.Order) []domain.Warehouse {
	return servingNearest(g.deps.Places, o.Address)
}

func servingNearest(p Places, addr domain.Point) []domain.Warehouse {
	serving := p.Serving(addr)
	// Equally near warehouses in the order of their ids, so that every
	// node tries them alike.
	sort.SliceStable(serving, func(i, j int) bool {
		di, dj := domain.DistanceKm(addr, serving[i].Area().Center), domain.DistanceKm(addr, serving[j].Area().Center)
		if di != dj {
			return di < dj
		}
		return serving[i].ID < serving[j].ID
	})
	return serving
}

// firstWarehouses is the warehouse each regular line without one will be
// tried at first: the nearest that serves the address. Recording it with
// the step spares a write per line.
func (g *grain) firstWarehouses(o domain.Order) map[int]int64 {
	var serving []domain.Warehouse
	first := map[int]int64{}
	for _, l := range o.Lines {
		if l.Kind == domain.LineDeal || l.WarehouseID != 0 {
			continue
		}
		if serving == nil {
			if serving = g.serving(o); len(serving) == 0 {
				return nil
			}
		}
		first[l.LineNo] = serving[0].ID
	}
	return first
}

// deductAll takes every line's stock: it commits the line's hold; a line
// without one (an order placed before holds) is deducted as it was then —
// a deal line from its lot, a regular line from the nearest serving
// warehouse that has it all (FEFO inside).
func (g *grain) deductAll(ctx context.Context, o domain.Order) (bool, pb.Reason) {
	var serving []domain.Warehouse
	for i, l := range o.Lines {
		r := g.commitLine(ctx, o, l)
		committed := r
		if r == pb.Reason_NO_HOLD {
			if l.Kind == domain.LineDeal {
				r = g.deductDeal(ctx, o, l)
			} else {
				if serving == nil {
					serving = g.serving(o)
				}
				r = g.allocate(ctx, o, i, serving)
			}
		}
		if r != pb.Reason_OK {
			if r != pb.Reason_UNAVAILABLE {
				// A held line should not be refused: say why it was.
				g.log.Warn("order line refused at deduction", "order", o.ID, "line", l.LineNo, "warehouse", l.WarehouseID,
					"lot", l.LotID, "commit", committed.String(), "reason", r.String(), "serving", len(serving))
			}
			return false, r
		}
	}
	return true, pb.Reason_OK
}

// commitLine turns a line's hold into a deduction.
func (g *grain) commitLine(ctx context.Context, o domain.Order, l domain.OrderLine) pb.Reason {
	var r pb.Reason
	var err error
	switch {
	case l.Kind == domain.LineDeal:
		r, err = g.stock.CommitDeal(ctx, l.LotID, l.Key(o.ID))
	case l.WarehouseID != 0:
		r, err = g.stock.CommitRegular(ctx, l.WarehouseID, l.Key(o.ID), l.ProductID)
	default:
		return pb.Reason_NO_HOLD
	}
	if err != nil || r == pb.Reason_UNAVAILABLE || r == pb.Reason_STALE_OWNER {
		g.log.Warn("commit line", "line", l.LineNo, "error", fmt.Sprint(err))
		return pb.Reason_UNAVAILABLE
	}
	return r
}

// deductDeal takes a deal line from its lot.
func (g *grain) deductDeal(ctx context.Context, o domain.Order, l domain.OrderLine) pb.Reason {
	r, err := g.stock.DeductDeal(ctx, l.LotID, l.Key(o.ID), l.Quantity)
	// STALE_OWNER (the lot's retries ended on a stopping activation) says
	// nothing of its stock.
	if err != nil || r == pb.Reason_UNAVAILABLE || r == pb.Reason_STALE_OWNER {
		g.log.Warn("deduct deal line", "lot", l.LotID, "error", fmt.Sprint(err))
		return pb.Reason_UNAVAILABLE
	}
	return r
}

// allocate takes regular line i from the first serving warehouse that has
// it all. A warehouse tried before a crash goes first: its saved plan makes
// the retry take the same lots.
func (g *grain) allocate(ctx context.Context, o domain.Order, i int, serving []domain.Warehouse) pb.Reason {
	l := o.Lines[i]
	order := make([]int64, 0, len(serving)+1)
	if l.WarehouseID != 0 {
		order = append(order, l.WarehouseID)
	}
	for _, w := range serving {
		if w.ID != l.WarehouseID {
			order = append(order, w.ID)
		}
	}
	for _, w := range order {
		// Recorded before asking, so that a retry after a crash asks the
		// same warehouse first.
		if o.Lines[i].WarehouseID != w {
			if err := g.deps.Store.SetLineWarehouse(ctx, o.ID, l.LineNo, w); err != nil {
				return pb.Reason_UNAVAILABLE
			}
			o.Lines[i].WarehouseID = w
		}
		r, err := g.stock.Allocate(ctx, w, l.Key(o.ID), l.ProductID, l.Quantity)
		// STALE_OWNER: a lot's write was fenced off by its other
		// activation (members disagreeing on its owner for a moment):
		// nothing was refused, ask again; not a reason to try elsewhere.
		if err != nil || r == pb.Reason_UNAVAILABLE || r == pb.Reason_STALE_OWNER {
			g.log.Warn("allocate regular line", "warehouse", w, "error", fmt.Sprint(err))
			return pb.Reason_UNAVAILABLE
		}
		if r == pb.Reason_OK {
			return pb.Reason_OK
		}
	}
	return pb.Reason_INSUFFICIENT_STOCK
}

// approve takes the money: APPROVING -> DONE (PAID), or compensation 2
// when the payment is refused. When the answer is lost it asks for the
// payment's status before deciding.
func (g *grain) approve(ctx context.Context, o domain.Order) (*opb.SagaState, error) {
	aid, err := g.deps.Payments.Approve(ctx, o.Payment.TID, o.ID, o.UserID, o.Payment.PGToken, o.Total)
	if err == nil {
		g.after(StepApproved)
		return g.paid(ctx, o, aid)
	}
	if errors.Is(err, ErrBadPGToken) && !g.now().After(o.ExpiresAt) {
		// A wrong pg_token (a forged or mistyped callback that carried the
		// right nonce) takes nothing: the stock stays the order's and the
		// payer's genuine redirect may still come, until the payment
		// expires; the sweep then compensates.
		g.log.Info("payment approval refused for its pg_token; waiting for the payer", "error", err.Error())
		return g.state(ctx, opb.Refusal_BAD_CALLBACK)
	}
	if !errors.Is(err, ErrOutcomeUnknown) && !errors.Is(err, ErrAlreadyApproved) {
		g.log.Info("payment refused", "error", err.Error())
		return g.compensate(ctx, o, domain.StepApproving, domain.ReasonPaymentDeclined, domain.PaymentDeclined)
	}
	status, serr := g.deps.Payments.Status(ctx, o.Payment.TID)
	if serr != nil {
		// Still unknown: stay at APPROVING; the sweep asks again.
		g.log.Warn("payment status unknown", "approve", err.Error(), "status", serr.Error())
		return g.state(ctx, none)
	}
	switch status {
	case PaymentTaken:
		return g.paid(ctx, o, "")
	case PaymentPending:
		// The approval never happened; close the payment so that it cannot
		// happen later, then give the stock back.
		if cerr := g.deps.Payments.Cancel(ctx, o.Payment.TID, o.Total); cerr != nil {
			g.log.Warn("close unapproved payment", "error", cerr.Error())
			return g.state(ctx, none)
		}
		return g.compensate(ctx, o, domain.StepApproving, domain.ReasonPaymentDeclined, domain.PaymentDeclined)
	case PaymentNotTaken:
		return g.compensate(ctx, o, domain.StepApproving, domain.ReasonPaymentDeclined, domain.PaymentDeclined)
	default:
		// Nothing can be concluded: stay at APPROVING; the sweep asks again.
		g.log.Warn("payment status not understood; asking again later", "approve", err.Error())
		return g.state(ctx, none)
	}
}

func (g *grain) paid(ctx context.Context, o domain.Order, aid string) (*opb.SagaState, error) {
	if err := g.deps.Store.MarkPaid(ctx, o.ID, aid, g.now()); err != nil {
		if errors.Is(err, domain.ErrStepChanged) {
			return g.state(ctx, none)
		}
		g.log.Error("record paid order", "error", err.Error())
		return g.unavailable(), nil
	}
	o.Payment.Status = domain.PaymentApproved
	return g.moved(&o, domain.StepDone, domain.StatusPaid, ""), nil
}

// compensate fails the order and gives its stock back. The order and its
// lines are soft-deleted and the "order failed" event written to the outbox
// in one transaction; inventory consumes it and restores idempotently
// (compensation 2). For a failed deduction (compensation 1) the saga also
// restores at once after that write, so the stock is back before it
// answers. The write comes first so that an activation acting on a stale
// copy of the order (another one moved it on) gives nothing back.
func (g *grain) compensate(ctx context.Context, o domain.Order, from domain.Step, reason domain.Reason, payment domain.PaymentStatus) (*opb.SagaState, error) {
	ev := g.failed(o, reason)
	msg, err := outboxMessage(ev)
	if err != nil {
		return g.unavailable(), nil
	}
	f := domain.Failure{Status: domain.StatusFailed, Reason: reason, Payment: payment}
	if err := g.deps.Store.FailOrder(ctx, o.ID, []domain.Step{from}, f, g.now(), msg); err != nil {
		if errors.Is(err, domain.ErrStepChanged) {
			return g.state(ctx, none)
		}
		g.log.Error("fail order", "error", err.Error())
		return g.unavailable(), nil
	}
	if from != domain.StepApproving {
		// Compensation 1: nothing was paid; what was taken goes back now.
		if err := Restore(ctx, g.stock, ev); err != nil {
			g.log.Warn("restore after a failed deduction; the outbox event will retry", "error", err.Error())
		}
	}
	o.Deleted, o.Payment.Status = true, payment
	if from != domain.StepApproving && o.Payment.TID != "" {
		if err := g.deps.Payments.Cancel(ctx, o.Payment.TID, o.Total); err != nil {
			g.log.Warn("close payment of a failed order", "error", err.Error())
		}
	}
	return g.moved(&o, domain.StepDone, domain.StatusFailed, reason), nil
}

// failed is the order-failed event of o: its lines and the warehouses that
// may have allocated them.
func (g *grain) failed(o domain.Order, reason domain.Reason) domain.OrderFailedEvent {
	ev := domain.OrderFailedEvent{EventID: "order-failed:" + o.ID, OrderID: o.ID, Reason: reason, Lines: o.Lines, At: g.now()}
	for _, w := range g.deps.Places.Serving(o.Address) {
		ev.Warehouses = append(ev.Warehouses, w.ID)
	}
	return ev
}

// outboxMessage is the outbox message of ev, an order-failed event: it
// gives the order's stock back (compensation 2, or what a give-back at once
// could not).
func outboxMessage(ev domain.OrderFailedEvent) (domain.OutboxMessage, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return domain.OutboxMessage{}, err
	}
	return domain.OutboxMessage{Topic: OrderFailedTopic, Key: ev.OrderID, Payload: payload}, nil
}

// releaseHolds gives back what an order that never reached DEDUCTING
// holds: each line where it was held. Lines without a warehouse (orders
// placed before holds) hold nothing.
func (g *grain) releaseHolds(ctx context.Context, o domain.Order) error {
	lines := make([]domain.OrderLine, 0, len(o.Lines))
	for _, l := range o.Lines {
		if l.Kind == domain.LineDeal || l.WarehouseID != 0 {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return Restore(ctx, g.stock, domain.OrderFailedEvent{OrderID: o.ID, Lines: lines})
}
