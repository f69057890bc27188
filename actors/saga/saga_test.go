package saga

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	opb "shelflife/actors/orderpb"
	"shelflife/clock"
	"shelflife/domain"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

const (
	dealLot  = 9
	near     = 1 // the nearest warehouse
	far      = 2
	milk     = 4 // a regular product
	theNonce = "n0nce"
)

// anOrder is an order at step with one deal line (2 units of lot 9) and
// one regular line (1 unit of product 4), placed with holds: the regular
// line is held at the near warehouse. Until DEDUCTING is done the fake
// stock holds both lines.
func anOrder(step domain.Step) domain.Order {
	o := domain.Order{
		ID: "o1", UserID: 7, Step: step, Total: 9000, Address: domain.Point{Lat: 37.5, Lng: 127},
		CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute),
		Lines: []domain.OrderLine{
			{LineNo: 1, Kind: domain.LineDeal, ProductID: 3, LotID: dealLot, Quantity: 2, UnitPrice: 3000},
			{LineNo: 2, Kind: domain.LineRegular, ProductID: milk, WarehouseID: near, Quantity: 1, UnitPrice: 3000},
		},
		Payment: domain.Payment{Nonce: theNonce, Status: domain.PaymentNone},
	}
	status := map[domain.Step]domain.OrderStatus{domain.StepCreated: domain.StatusCreated, domain.StepReady: domain.StatusPaymentReady,
		domain.StepDeducting: domain.StatusProcessing, domain.StepApproving: domain.StatusProcessing}
	o.Status = status[step]
	if step != domain.StepCreated {
		o.Payment.TID, o.Payment.Status = "T-o1", domain.PaymentReady
	}
	if step == domain.StepDeducting || step == domain.StepApproving {
		o.Payment.PGToken = "pg"
	}
	return o
}

// legacy is o as placed before holds: no line held, no warehouse chosen.
func legacy(o domain.Order) domain.Order {
	o.Lines = append([]domain.OrderLine(nil), o.Lines...)
	o.Lines[1].WarehouseID = 0
	return o
}

// world is one saga grain with fakes of every port.
type world struct {
	store *fakeStore
	pay   *fakePayments
	stock *fakeStock
	clk   *clock.Fake
	steps []domain.Step
	g     *grain
}

func newWorld(o domain.Order) *world {
	w := &world{store: newFakeStore(o), pay: &fakePayments{}, stock: newFakeStock(), clk: clock.NewFake(t0.Add(time.Minute))}
	w.stock.lots[dealLot] = 10
	w.stock.warehouses[[2]int64{near, milk}] = 5
	w.stock.warehouses[[2]int64{far, milk}] = 5
	if o.Lines[1].WarehouseID != 0 && (o.Step == domain.StepCreated || o.Step == domain.StepReady || o.Step == domain.StepDeducting) {
		w.stock.held["o1-l9"], w.stock.lots[dealLot] = 2, 8
		w.stock.held["o1-p4"], w.stock.warehouses[[2]int64{near, milk}] = 1, 4
	}
	deps := Deps{Store: w.store, Payments: w.pay, Stock: w.stock, URLs: urls{}, Clock: w.clk,
		Places:    places{{ID: near, Lat: 37.5, Lng: 127, RadiusKm: 10}, {ID: far, Lat: 37.6, Lng: 127.1, RadiusKm: 30}},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		AfterStep: func(_ string, s domain.Step) { w.steps = append(w.steps, s) }}.withDefaults()
	w.g = &grain{deps: &deps, id: "o1", stock: w.stock, log: deps.Logger}
	return w
}

// commitHeld turns every hold into a deduction, as a payer's callback
// does when its node dies before the pg_token's write lands: the order
// stays READY with its stock taken.
func (w *world) commitHeld() {
	for k, q := range w.stock.held {
		w.stock.taken[k] = q
		delete(w.stock.held, k)
	}
}

// want is what a message leaves behind.
type want struct {
	refusal opb.Refusal
	step    domain.Step
	status  domain.OrderStatus
	reason  domain.Reason
	payment domain.PaymentStatus
	// stock: units left of the deal lot and of milk at the near warehouse.
	lotLeft, nearLeft int64
	// restoredNow: the stock came back before the answer (compensation 1);
	// outbox: an "order failed" event was written with the failure (it
	// gives back what was not given back at once; compensation 2).
	restoredNow, outbox bool
	cancelled           bool // the payment was closed at Kakao Pay
	after               []domain.Step
	gone                bool // the order was discarded
}

func TestSagaTransitions(t *testing.T) {
	unknown := errors.Join(ErrOutcomeUnknown, errors.New("timeout"))
	badToken := errors.Join(ErrBadPGToken, errors.New("kakaopay -708"))
	tests := []struct {
		name  string
		order domain.Order
		setup func(*world)
		send  func(*grain) (*opb.SagaState, error)
		want  want
	}{
		{"start: CREATED -> READY, the holds kept", anOrder(domain.StepCreated), nil, start,
			want{step: domain.StepReady, status: domain.StatusPaymentReady, payment: domain.PaymentReady, lotLeft: 8, nearLeft: 4,
				after: []domain.Step{StepHeld, domain.StepReady}}},
		{"start: ready refused -> no order, PAYMENT_NOT_STARTED, holds released", anOrder(domain.StepCreated),
			func(w *world) { w.pay.readyErr = errors.New("kakao says no") }, start,
			want{refusal: opb.Refusal_PAYMENT_NOT_STARTED, gone: true, lotLeft: 10, nearLeft: 5, restoredNow: true, outbox: true, after: []domain.Step{StepHeld}}},
		{"start: ready unanswered -> no order, PAYMENT_UNREACHABLE, holds released", anOrder(domain.StepCreated),
			func(w *world) { w.pay.readyErr = errors.Join(ErrPaymentUnreachable, errors.New("timeout")) }, start,
			want{refusal: opb.Refusal_PAYMENT_UNREACHABLE, gone: true, lotLeft: 10, nearLeft: 5, restoredNow: true, outbox: true, after: []domain.Step{StepHeld}}},
		{"start: ready refused, holds not released -> no order; the outbox event releases them", anOrder(domain.StepCreated),
			func(w *world) { w.pay.readyErr, w.stock.unavailable = errors.New("kakao says no"), true }, start,
			want{refusal: opb.Refusal_PAYMENT_NOT_STARTED, gone: true, lotLeft: 8, nearLeft: 4, outbox: true, after: []domain.Step{StepHeld}}},
		{"start: ready refused, the discard not written -> UNAVAILABLE, left CREATED with its holds for the sweep", anOrder(domain.StepCreated),
			func(w *world) {
				w.pay.readyErr, w.store.fail["DiscardOrder"] = errors.New("kakao says no"), errors.New("mysql gone")
			}, start,
			want{refusal: opb.Refusal_UNAVAILABLE, step: domain.StepCreated, status: domain.StatusCreated, payment: domain.PaymentNone,
				lotLeft: 8, nearLeft: 4, after: []domain.Step{StepHeld}}},
		{"start: the ready payment not recorded -> UNAVAILABLE, still CREATED", anOrder(domain.StepCreated),
			func(w *world) { w.store.fail["SetReady"] = errors.New("mysql gone") }, start,
			want{refusal: opb.Refusal_UNAVAILABLE, step: domain.StepCreated, status: domain.StatusCreated, payment: domain.PaymentNone,
				lotLeft: 8, nearLeft: 4, after: []domain.Step{StepHeld}}},
		{"start: an order past CREATED is answered as it is", anOrder(domain.StepReady), nil, start,
			want{step: domain.StepReady, status: domain.StatusPaymentReady, payment: domain.PaymentReady, lotLeft: 8, nearLeft: 4}},
		{"approve: READY -> holds committed -> APPROVING -> PAID, DEDUCTING never written", anOrder(domain.StepReady), nil, approve(theNonce),
			want{step: domain.StepDone, status: domain.StatusPaid, payment: domain.PaymentApproved, lotLeft: 8, nearLeft: 4,
				after: []domain.Step{StepHoldsTaken, domain.StepApproving, StepApproved}}},
		{"approve: a forged nonce is refused", anOrder(domain.StepReady), nil, approve("forged"),
			want{refusal: opb.Refusal_BAD_CALLBACK, step: domain.StepReady, status: domain.StatusPaymentReady, payment: domain.PaymentReady,
				lotLeft: 8, nearLeft: 4}},
		{"approve: past the payment's validity -> EXPIRED, holds released", anOrder(domain.StepReady),
			func(w *world) { w.clk.Advance(time.Hour) }, approve(theNonce),
			want{step: domain.StepDone, status: domain.StatusExpired, reason: domain.ReasonExpired, payment: domain.PaymentCancelled,
				outbox: true, lotLeft: 10, nearLeft: 5, cancelled: true, restoredNow: true}},
		{"approve: the step not recorded -> UNAVAILABLE, still READY", anOrder(domain.StepReady),
			func(w *world) { w.store.fail["BeginApprovingHeld"] = errors.New("mysql gone") }, approve(theNonce),
			want{refusal: opb.Refusal_UNAVAILABLE, step: domain.StepReady, status: domain.StatusPaymentReady, payment: domain.PaymentReady,
				lotLeft: 8, nearLeft: 4, after: []domain.Step{StepHoldsTaken}}},
		{"approve: the holds lapsed -> compensation 1, no money", anOrder(domain.StepReady),
			func(w *world) { w.stock.lapse = true }, approve(theNonce),
			want{step: domain.StepDone, status: domain.StatusFailed, reason: domain.ReasonInsufficientStock, payment: domain.PaymentCancelled,
				lotLeft: 10, nearLeft: 5, restoredNow: true, outbox: true, cancelled: true}},
		{"approve, placed before holds: the deal sold out -> compensation 1", legacy(anOrder(domain.StepReady)),
			func(w *world) { w.stock.lots[dealLot] = 1 }, approve(theNonce),
			want{step: domain.StepDone, status: domain.StatusFailed, reason: domain.ReasonInsufficientStock, payment: domain.PaymentCancelled,
				lotLeft: 1, nearLeft: 5, restoredNow: true, outbox: true, cancelled: true, after: []domain.Step{domain.StepDeducting}}},
		{"approve, placed before holds: no warehouse has the milk -> compensation 1", legacy(anOrder(domain.StepReady)),
			func(w *world) {
				w.stock.warehouses[[2]int64{near, milk}], w.stock.warehouses[[2]int64{far, milk}] = 0, 0
			}, approve(theNonce),
			want{step: domain.StepDone, status: domain.StatusFailed, reason: domain.ReasonInsufficientStock, payment: domain.PaymentCancelled,
				lotLeft: 10, nearLeft: 0, restoredNow: true, outbox: true, cancelled: true, after: []domain.Step{domain.StepDeducting}}},
		{"approve, placed before holds: the nearest warehouse lacks the milk -> taken from the next", legacy(anOrder(domain.StepReady)),
			func(w *world) { w.stock.warehouses[[2]int64{near, milk}] = 0 }, approve(theNonce),
			want{step: domain.StepDone, status: domain.StatusPaid, payment: domain.PaymentApproved, lotLeft: 8, nearLeft: 0,
				after: []domain.Step{domain.StepDeducting, StepCommitted, domain.StepApproving, StepApproved}}},
		// Seen with two nodes: approvals failed insufficient_stock with
		// stock to spare. A regular line's commit met a lot activation that
		// never saw the hold (NO_HOLD); the warehouse's deduction then met
		// the activation fenced off by the other (STALE_OWNER), which the
		// saga took for "not at this warehouse".
		{"approve: lots with two activations (NO_HOLD, then STALE_OWNER) -> left at DEDUCTING, not insufficient_stock", anOrder(domain.StepReady),
			func(w *world) { w.stock.superseded = true }, approve(theNonce),
			want{step: domain.StepDeducting, status: domain.StatusProcessing, payment: domain.PaymentReady, lotLeft: 8, nearLeft: 4,
				after: []domain.Step{domain.StepDeducting}}},
		// The lot client's retries can end on an activation that is
		// stopping (STALE_OWNER): that says nothing of the deal's stock.
		{"approve, placed before holds: the deal lot's activation stopping (STALE_OWNER) -> left at DEDUCTING, not insufficient_stock",
			legacy(anOrder(domain.StepReady)), func(w *world) { w.stock.superseded = true }, approve(theNonce),
			want{step: domain.StepDeducting, status: domain.StatusProcessing, payment: domain.PaymentReady, lotLeft: 10, nearLeft: 5,
				after: []domain.Step{domain.StepDeducting}}},
		{"approve: stock unreachable -> left at DEDUCTING for the sweep", anOrder(domain.StepReady),
			func(w *world) { w.stock.unavailable = true }, approve(theNonce),
			want{step: domain.StepDeducting, status: domain.StatusProcessing, payment: domain.PaymentReady, lotLeft: 8, nearLeft: 4,
				after: []domain.Step{domain.StepDeducting}}},
		{"approve: payment declined -> compensation 2 through the outbox", anOrder(domain.StepReady),
			func(w *world) { w.pay.approveErr = errors.New("card declined") }, approve(theNonce),
			want{step: domain.StepDone, status: domain.StatusFailed, reason: domain.ReasonPaymentDeclined, payment: domain.PaymentDeclined,
				lotLeft: 8, nearLeft: 4, outbox: true, after: []domain.Step{StepHoldsTaken, domain.StepApproving}}},
		{"approve: the pg_token refused -> waits at APPROVING for the payer's redirect, nothing given back", anOrder(domain.StepReady),
			func(w *world) { w.pay.approveErr = badToken }, approve(theNonce),
			want{refusal: opb.Refusal_BAD_CALLBACK, step: domain.StepApproving, status: domain.StatusProcessing, payment: domain.PaymentReady,
				lotLeft: 8, nearLeft: 4, after: []domain.Step{StepHoldsTaken, domain.StepApproving}}},
		{"approve at APPROVING with another pg_token -> tried in its place -> PAID", anOrder(domain.StepApproving),
			func(w *world) { w.pay.needToken = "pg-2" }, approveWith(theNonce, "pg-2"),
			want{step: domain.StepDone, status: domain.StatusPaid, payment: domain.PaymentApproved, lotLeft: 10, nearLeft: 5, after: []domain.Step{StepApproved}}},
		{"resume: the pg_token refused past the payment's validity -> compensation 2", anOrder(domain.StepApproving),
			func(w *world) { w.pay.approveErr = badToken; w.clk.Advance(time.Hour) }, resume,
			want{step: domain.StepDone, status: domain.StatusFailed, reason: domain.ReasonPaymentDeclined, payment: domain.PaymentDeclined,
				lotLeft: 10, nearLeft: 5, outbox: true}},
		{"approve: outcome unknown, the payment went through -> PAID", anOrder(domain.StepApproving),
			func(w *world) { w.pay.approveErr, w.pay.status = unknown, PaymentTaken }, approve(theNonce),
			want{step: domain.StepDone, status: domain.StatusPaid, payment: domain.PaymentApproved, lotLeft: 10, nearLeft: 5}},
		{"approve: outcome unknown, never approved -> closed, compensation 2", anOrder(domain.StepApproving),
			func(w *world) { w.pay.approveErr, w.pay.status = unknown, PaymentPending }, approve(theNonce),
			want{step: domain.StepDone, status: domain.StatusFailed, reason: domain.ReasonPaymentDeclined, payment: domain.PaymentDeclined,
				lotLeft: 10, nearLeft: 5, outbox: true, cancelled: true}},
		{"approve: outcome not understood -> left at APPROVING", anOrder(domain.StepApproving),
			func(w *world) { w.pay.approveErr, w.pay.status = unknown, PaymentUnknown }, approve(theNonce),
			want{step: domain.StepApproving, status: domain.StatusProcessing, payment: domain.PaymentReady, lotLeft: 10, nearLeft: 5}},
		{"approve: outcome still unknown -> left at APPROVING", anOrder(domain.StepApproving),
			func(w *world) { w.pay.approveErr, w.pay.statusErr = unknown, errors.New("timeout") }, approve(theNonce),
			want{step: domain.StepApproving, status: domain.StatusProcessing, payment: domain.PaymentReady, lotLeft: 10, nearLeft: 5}},
		{"approve: the paid order not recorded -> UNAVAILABLE, still APPROVING", anOrder(domain.StepApproving),
			func(w *world) { w.store.fail["MarkPaid"] = errors.New("mysql gone") }, approve(theNonce),
			want{refusal: opb.Refusal_UNAVAILABLE, step: domain.StepApproving, status: domain.StatusProcessing, payment: domain.PaymentReady,
				lotLeft: 10, nearLeft: 5, after: []domain.Step{StepApproved}}},
		{"resume: CREATED never reached the payer -> no order, holds released", anOrder(domain.StepCreated), nil, resume,
			want{refusal: opb.Refusal_PAYMENT_UNREACHABLE, gone: true, lotLeft: 10, nearLeft: 5, restoredNow: true, outbox: true}},
		{"resume: READY within its validity waits", anOrder(domain.StepReady), nil, resume,
			want{step: domain.StepReady, status: domain.StatusPaymentReady, payment: domain.PaymentReady, lotLeft: 8, nearLeft: 4}},
		{"resume: READY past its validity -> EXPIRED, holds released", anOrder(domain.StepReady), func(w *world) { w.clk.Advance(time.Hour) }, resume,
			want{step: domain.StepDone, status: domain.StatusExpired, reason: domain.ReasonExpired, payment: domain.PaymentCancelled,
				outbox: true, lotLeft: 10, nearLeft: 5, cancelled: true, restoredNow: true}},
		{"resume: DEDUCTING carries on to PAID", anOrder(domain.StepDeducting), nil, resume,
			want{step: domain.StepDone, status: domain.StatusPaid, payment: domain.PaymentApproved, lotLeft: 8, nearLeft: 4,
				after: []domain.Step{StepCommitted, domain.StepApproving, StepApproved}}},
		{"resume, placed before holds: DEDUCTING carries on to PAID", legacy(anOrder(domain.StepDeducting)), nil, resume,
			want{step: domain.StepDone, status: domain.StatusPaid, payment: domain.PaymentApproved, lotLeft: 8, nearLeft: 4,
				after: []domain.Step{StepCommitted, domain.StepApproving, StepApproved}}},
		{"abort: the payer cancelled -> FAILED payment_cancelled, holds released", anOrder(domain.StepReady), nil,
			abort(domain.ReasonPaymentCancelled, theNonce),
			want{step: domain.StepDone, status: domain.StatusFailed, reason: domain.ReasonPaymentCancelled, payment: domain.PaymentCancelled,
				outbox: true, lotLeft: 10, nearLeft: 5, cancelled: true, restoredNow: true}},
		{"abort: holds not released at once -> the outbox event releases them", anOrder(domain.StepReady),
			func(w *world) { w.stock.unavailable = true }, abort(domain.ReasonPaymentCancelled, theNonce),
			want{step: domain.StepDone, status: domain.StatusFailed, reason: domain.ReasonPaymentCancelled, payment: domain.PaymentCancelled,
				lotLeft: 8, nearLeft: 4, cancelled: true, outbox: true}},
		{"abort: any other reason is payment_failed", anOrder(domain.StepReady), nil, abort(domain.ReasonInsufficientStock, theNonce),
			want{step: domain.StepDone, status: domain.StatusFailed, reason: domain.ReasonPaymentFailed, payment: domain.PaymentCancelled,
				outbox: true, lotLeft: 10, nearLeft: 5, cancelled: true, restoredNow: true}},
		{"abort: a forged nonce is refused", anOrder(domain.StepReady), nil, abort(domain.ReasonPaymentCancelled, "forged"),
			want{refusal: opb.Refusal_BAD_CALLBACK, step: domain.StepReady, status: domain.StatusPaymentReady, payment: domain.PaymentReady,
				lotLeft: 8, nearLeft: 4}},
		{"abort: an order being approved goes on", anOrder(domain.StepApproving), nil, abort(domain.ReasonPaymentCancelled, theNonce),
			want{step: domain.StepApproving, status: domain.StatusProcessing, payment: domain.PaymentReady, lotLeft: 10, nearLeft: 5}},
		{"expire: READY whose holds a cut callback committed -> EXPIRED, the deductions given back", anOrder(domain.StepReady),
			func(w *world) { w.commitHeld(); w.clk.Advance(time.Hour) }, expire,
			want{step: domain.StepDone, status: domain.StatusExpired, reason: domain.ReasonExpired, payment: domain.PaymentCancelled,
				outbox: true, lotLeft: 10, nearLeft: 5, cancelled: true, restoredNow: true}},
		{"approve again: READY whose holds a cut callback committed -> PAID, nothing taken twice", anOrder(domain.StepReady),
			func(w *world) { w.commitHeld() }, approve(theNonce),
			want{step: domain.StepDone, status: domain.StatusPaid, payment: domain.PaymentApproved, lotLeft: 8, nearLeft: 4,
				after: []domain.Step{StepHoldsTaken, domain.StepApproving, StepApproved}}},
		{"expire: READY within its validity stays", anOrder(domain.StepReady), nil, expire,
			want{step: domain.StepReady, status: domain.StatusPaymentReady, payment: domain.PaymentReady, lotLeft: 8, nearLeft: 4}},
		{"expire: READY past its validity -> EXPIRED, holds released", anOrder(domain.StepReady), func(w *world) { w.clk.Advance(time.Hour) }, expire,
			want{step: domain.StepDone, status: domain.StatusExpired, reason: domain.ReasonExpired, payment: domain.PaymentCancelled,
				outbox: true, lotLeft: 10, nearLeft: 5, cancelled: true, restoredNow: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(tc.order)
			if tc.setup != nil {
				tc.setup(w)
			}
			st, err := tc.send(w.g)
			if err != nil {
				t.Fatal(err)
			}
			w.check(t, st, tc.want)
		})
	}
}

func (w *world) check(t *testing.T, st *opb.SagaState, want want) {
	t.Helper()
	if st.GetRefusal() != want.refusal {
		t.Errorf("refusal %v, want %v", st.GetRefusal(), want.refusal)
	}
	if _, err := w.store.Order(t.Context(), "o1"); want.gone != errors.Is(err, domain.ErrOrderNotFound) {
		t.Errorf("order discarded: %v, want %v", err, want.gone)
	}
	o := w.store.get("o1")
	if o.Step != want.step || o.Status != want.status || o.Reason != want.reason || o.Payment.Status != want.payment {
		t.Errorf("stored %s/%s/%q payment %s, want %s/%s/%q payment %s",
			o.Step, o.Status, o.Reason, o.Payment.Status, want.step, want.status, want.reason, want.payment)
	}
	if want.refusal == opb.Refusal_REFUSAL_NONE {
		got, err := opb.Answer(st)
		if err != nil || got.Status != want.status || got.Step != want.step || got.Reason != want.reason {
			t.Errorf("answered %s/%s/%q (%v), want %s/%s/%q", got.Step, got.Status, got.Reason, err, want.step, want.status, want.reason)
		}
	}
	if lot, nearMilk := w.stock.lots[dealLot], w.stock.warehouses[[2]int64{near, milk}]; lot != want.lotLeft || nearMilk != want.nearLeft {
		t.Errorf("stock left: lot %d, near milk %d; want %d, %d", lot, nearMilk, want.lotLeft, want.nearLeft)
	}
	if got := len(w.stock.restored) > 0; got != want.restoredNow {
		t.Errorf("restored at once: %v, want %v", w.stock.restored, want.restoredNow)
	}
	if got := len(w.store.outbox) > 0; got != want.outbox {
		t.Errorf("outbox %v, want an event: %v", w.store.outbox, want.outbox)
	} else if got && w.store.outbox[0].Topic != OrderFailedTopic {
		t.Errorf("outbox topic %q", w.store.outbox[0].Topic)
	}
	if got := len(w.pay.cancelled) > 0; got != want.cancelled {
		t.Errorf("payment closed: %v, want %v", w.pay.cancelled, want.cancelled)
	}
	if !slices.Equal(w.steps, want.after) {
		t.Errorf("steps reached %v, want %v", w.steps, want.after)
	}
}

func start(g *grain) (*opb.SagaState, error)  { return g.Start(&opb.StartRequest{}, nil) }
func resume(g *grain) (*opb.SagaState, error) { return g.Resume(&opb.ResumeRequest{}, nil) }
func expire(g *grain) (*opb.SagaState, error) { return g.Abort(&opb.AbortRequest{Expire: true}, nil) }

func approve(nonce string) func(*grain) (*opb.SagaState, error) { return approveWith(nonce, "pg") }

func approveWith(nonce, pgToken string) func(*grain) (*opb.SagaState, error) {
	return func(g *grain) (*opb.SagaState, error) {
		return g.Approve(&opb.ApproveRequest{PgToken: pgToken, Nonce: nonce}, nil)
	}
}

func abort(reason domain.Reason, nonce string) func(*grain) (*opb.SagaState, error) {
	return func(g *grain) (*opb.SagaState, error) {
		return g.Abort(&opb.AbortRequest{Reason: opb.ReasonOf(reason), Nonce: nonce}, nil)
	}
}

// A message for an order that does not exist is refused NOT_FOUND, and a
// repeated approval takes neither stock nor money twice.
func TestSagaUnknownOrderAndRepeatedApproval(t *testing.T) {
	w := newWorld(anOrder(domain.StepReady))
	w.g.id = "nobody"
	if st, _ := start(w.g); st.GetRefusal() != opb.Refusal_NOT_FOUND {
		t.Errorf("start of an unknown order: %v, want NOT_FOUND", st.GetRefusal())
	}
	w = newWorld(anOrder(domain.StepReady))
	for range 2 {
		if _, err := approve(theNonce)(w.g); err != nil {
			t.Fatal(err)
		}
	}
	if w.pay.approvals != 1 || w.stock.lots[dealLot] != 8 {
		t.Errorf("after two approvals: %d payments, lot left %d; want 1 and 8", w.pay.approvals, w.stock.lots[dealLot])
	}
}

// Restore gives every line back: a deal to its lot, a regular line to its
// own warehouse and every other serving one, each once.
func TestRestoreGivesEveryLineBack(t *testing.T) {
	s := newFakeStock()
	ev := domain.OrderFailedEvent{OrderID: "o1", Warehouses: []int64{near, far, near},
		Lines: []domain.OrderLine{{Kind: domain.LineDeal, LotID: dealLot}, {Kind: domain.LineRegular, ProductID: milk, WarehouseID: far}}}
	if err := Restore(t.Context(), s, ev); err != nil {
		t.Fatal(err)
	}
	want := []string{"o1-l9", "o1-p4", "o1-p4"}
	if !slices.Equal(s.restored, want) {
		t.Errorf("restored %v, want %v", s.restored, want)
	}
}

// flakyOrders fails the first n reads of an order, as MySQL does while it
// is cut off, then answers again.
type flakyOrders struct {
	*fakeStore
	n int
}

func (s *flakyOrders) Order(ctx context.Context, id string) (domain.Order, error) {
	if s.n > 0 {
		s.n--
		return domain.Order{}, errors.New("invalid connection")
	}
	return s.fakeStore.Order(ctx, id)
}

// A lot that does not answer may use the callback's whole time; the
// payer's approval is still recorded (DEDUCTING with the pg_token), so
// the sweep takes the order on instead of leaving it to expire.
func TestApprovalRecordedWhenTheCommitsUseItsTime(t *testing.T) {
	w := newWorld(anOrder(domain.StepReady))
	w.g.deps.StepTimeout = 20 * time.Millisecond
	w.stock.slow = true
	if _, err := approve(theNonce)(w.g); err != nil {
		t.Fatal(err)
	}
	if o := w.store.get("o1"); o.Step != domain.StepDeducting || o.Payment.PGToken != "pg" {
		t.Errorf("after the slow commits: %s with pg_token %q, want DEDUCTING with pg", o.Step, o.Payment.PGToken)
	}
	if w.pay.approvals != 0 {
		t.Errorf("%d approvals, want none before the stock is taken", w.pay.approvals)
	}
}

// An approval whose order could not be read is refused as unavailable (the
// payer's browser hears 503 and reloads), not answered with the order's
// state as if no approval had come; the reload then completes it.
func TestApprovalWhileTheOrderCannotBeReadIsUnavailable(t *testing.T) {
	w := newWorld(anOrder(domain.StepReady))
	w.g.deps.Store = &flakyOrders{fakeStore: w.store, n: 1}
	st, err := approve(theNonce)(w.g)
	if err != nil {
		t.Fatal(err)
	}
	if st.GetRefusal() != opb.Refusal_UNAVAILABLE || w.pay.approvals != 0 {
		t.Errorf("approval with the order unreadable: refusal %v, %d payments; want UNAVAILABLE and none", st.GetRefusal(), w.pay.approvals)
	}
	if st, _ = approve(theNonce)(w.g); st.GetStatus() != string(domain.StatusPaid) {
		t.Errorf("the reload: %v %v, want PAID", st.GetStatus(), st.GetRefusal())
	}
}

// The holds are committed before the pg_token's write. When the write
// fails, the order is still READY with its holds taken:
// the payer's next callback finishes it with one charge, and an order
// that expires instead gives every unit back and takes no money.
func TestCommittedHoldsOfAnOrderLeftReady(t *testing.T) {
	for _, then := range []string{"callback again", "expiry"} {
		t.Run(then, func(t *testing.T) {
			w := newWorld(anOrder(domain.StepReady))
			w.store.fail["BeginApprovingHeld"] = errors.New("mysql gone")
			st, err := approve(theNonce)(w.g)
			if err != nil {
				t.Fatal(err)
			}
			if st.GetRefusal() != opb.Refusal_UNAVAILABLE || w.store.get("o1").Step != domain.StepReady {
				t.Fatalf("first callback: %v, order %s; want UNAVAILABLE, READY", st.GetRefusal(), w.store.get("o1").Step)
			}
			if len(w.stock.taken) != 2 || w.pay.approvals != 0 {
				t.Fatalf("after the failed write: taken %v, approvals %d; want both lines committed, no approval", w.stock.taken, w.pay.approvals)
			}
			delete(w.store.fail, "BeginApprovingHeld")
			if then == "callback again" {
				st, err = approve(theNonce)(w.g)
				if err != nil {
					t.Fatal(err)
				}
				w.check(t, st, want{step: domain.StepDone, status: domain.StatusPaid, payment: domain.PaymentApproved, lotLeft: 8, nearLeft: 4,
					after: []domain.Step{StepHoldsTaken, StepHoldsTaken, domain.StepApproving, StepApproved}})
				if w.pay.approvals != 1 {
					t.Errorf("approvals %d, want 1", w.pay.approvals)
				}
				return
			}
			w.clk.Advance(time.Hour)
			st, err = expire(w.g)
			if err != nil {
				t.Fatal(err)
			}
			w.check(t, st, want{step: domain.StepDone, status: domain.StatusExpired, reason: domain.ReasonExpired, payment: domain.PaymentCancelled,
				outbox: true, lotLeft: 10, nearLeft: 5, cancelled: true, restoredNow: true, after: []domain.Step{StepHoldsTaken}})
			if w.pay.approvals != 0 {
				t.Errorf("approvals %d, want none", w.pay.approvals)
			}
		})
	}
}

// An activation may act on a stale copy of its order: a member paused
// (or cut off) while another activation of the same saga, on another
// member, carried the order on to PAID, or a request delivered twice.
// Whatever the stale copy leads it to decide, a step that ends the order
// is written before any stock goes back, so the refused write leaves a
// paid order's stock taken and its payment alone.
func TestStaleActivationGivesNothingBackOfAPaidOrder(t *testing.T) {
	stale := func(step domain.Step) func(*world) {
		return func(w *world) { w.g.remember(anOrder(step)) }
	}
	tests := []struct {
		name  string
		setup func(*world)
		send  func(*grain) (*opb.SagaState, error)
	}{
		{"the payer's cancel meets a READY copy", stale(domain.StepReady), abort(domain.ReasonPaymentCancelled, theNonce)},
		{"expiry meets a READY copy", func(w *world) { stale(domain.StepReady)(w); w.clk.Advance(time.Hour) }, expire},
		{"a callback past the validity meets a READY copy", func(w *world) { stale(domain.StepReady)(w); w.clk.Advance(time.Hour) }, approve(theNonce)},
		{"a repeated start with the order as placed, Kakao Pay refusing", func(w *world) { w.pay.readyErr = errors.New("kakao says no") },
			func(g *grain) (*opb.SagaState, error) {
				return g.Start(&opb.StartRequest{Order: opb.EncodeOrder(anOrder(domain.StepCreated))}, nil)
			}},
		{"a lot's stale activation refuses the commit of a READY copy's callback", func(w *world) {
			stale(domain.StepReady)(w)
			w.stock.taken, w.stock.held, w.stock.lapse = map[string]int64{}, map[string]int64{"o1-l9": 2, "o1-p4": 1}, true
		}, approve(theNonce)},
		{"a lot's stale activation refuses the commit of a DEDUCTING copy", func(w *world) {
			stale(domain.StepDeducting)(w)
			// The lot answers from memory that never saw the commit.
			w.stock.taken, w.stock.held, w.stock.lapse = map[string]int64{}, map[string]int64{"o1-l9": 2, "o1-p4": 1}, true
		}, resumeKnown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			paid := anOrder(domain.StepApproving)
			paid.Step, paid.Status, paid.Payment.Status = domain.StepDone, domain.StatusPaid, domain.PaymentApproved
			w := newWorld(paid)
			w.stock.taken["o1-l9"], w.stock.lots[dealLot] = 2, 8
			w.stock.taken["o1-p4"], w.stock.warehouses[[2]int64{near, milk}] = 1, 4
			tc.setup(w)
			st, err := tc.send(w.g)
			if err != nil {
				t.Fatal(err)
			}
			if st.GetStatus() != string(domain.StatusPaid) {
				t.Errorf("answered %q (refusal %v), want the order as MySQL has it: PAID", st.GetStatus(), st.GetRefusal())
			}
			if got := w.store.get("o1"); got.Status != domain.StatusPaid {
				t.Errorf("stored %s/%s, want PAID", got.Step, got.Status)
			}
			if len(w.stock.restored) > 0 || len(w.store.outbox) > 0 || len(w.pay.cancelled) > 0 {
				t.Errorf("a paid order's stock given back %v, event %d, payment closed %v; want nothing",
					w.stock.restored, len(w.store.outbox), w.pay.cancelled)
			}
		})
	}
}

// resumeKnown carries the saga on from what the activation knows, as the
// approval callback does (Resume reads MySQL first).
func resumeKnown(g *grain) (*opb.SagaState, error) {
	return g.guard(func(ctx context.Context) (*opb.SagaState, error) {
		o, err := g.order(ctx)
		if err != nil {
			return nil, err
		}
		return g.run(ctx, o)
	})
}

// statusHeard records what the notifier heard.
type statusHeard struct{ statuses []domain.OrderStatus }

func (h *statusHeard) OrderChanged(o domain.Order) { h.statuses = append(h.statuses, o.Status) }

// A checkout tells the notifier (the order sockets, Kafka) each status
// once: the steps inside PROCESSING are not news to a shopper.
func TestACheckoutIsHeardOncePerStatus(t *testing.T) {
	w := newWorld(anOrder(domain.StepCreated))
	heard := &statusHeard{}
	w.g.deps.Notifier = heard
	if st, err := start(w.g); err != nil || st.GetRefusal() != opb.Refusal_REFUSAL_NONE {
		t.Fatalf("start: %v %v", st.GetRefusal(), err)
	}
	if st, err := approve(theNonce)(w.g); err != nil || st.GetStatus() != string(domain.StatusPaid) {
		t.Fatalf("approve: %v %v", st, err)
	}
	want := []domain.OrderStatus{domain.StatusPaymentReady, domain.StatusProcessing, domain.StatusPaid}
	if !slices.Equal(heard.statuses, want) {
		t.Errorf("heard %v, want %v", heard.statuses, want)
	}
	if !slices.Contains(w.steps, domain.StepApproving) {
		t.Errorf("steps %v: the checkout never went through APPROVING, so the test shows nothing", w.steps)
	}
}
