// Package saga is the order saga grain: one virtual actor per order
// (identity: the order id) that runs the order's steps in order — payment
// ready, stock deducted, money approved — and the compensations when a step
// fails. Every step is persisted before the saga acts on it, so a saga
// resumes from MySQL on whichever node reactivates it; every message is
// idempotent. Money is never taken before the stock is secured.
//
// Files: ports.go declares what the saga needs (Store, Payments, Stock,
// Places, Notifier, URLs) and its Deps; grain.go receives the four
// messages; steps.go holds the transitions between steps and the
// compensations, one function each; stock.go is Stock over the lot and
// warehouse grains and Restore; client.go calls saga grains. The wire
// codec of orders, reasons and refusals is in package orderpb.
package saga

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"shelflife/actors/lot"
	opb "shelflife/actors/orderpb"
	"shelflife/actors/warehouse"
	"shelflife/domain"
)

type grain struct {
	deps  *Deps
	id    string
	stock Stock
	log   *slog.Logger
	// known is the order as this activation last read or wrote it, so that
	// a step costs no read. Every step's write is conditional on the step
	// it came from: a stale copy (another activation moved the order) makes
	// the write fail with ErrStepChanged, and the saga reads MySQL again.
	known *domain.Order
}

var _ opb.OrderSaga = (*grain)(nil)

func (g *grain) Init(ctx cluster.GrainContext) {
	g.id = ctx.Identity()
	g.log = g.deps.Logger.With("order", g.id)
	g.stock = g.deps.Stock
	if g.stock == nil {
		g.stock = ClusterStock{Lots: lot.ClientFor(ctx.Cluster()), Warehouses: warehouse.NewClient(ctx.Cluster())}
	}
}

func (g *grain) Terminate(cluster.GrainContext)      {}
func (g *grain) ReceiveDefault(cluster.GrainContext) {}

// Start asks the payment provider for the payment (step CREATED -> READY).
//
// The request may carry the order as its caller just stored it; a fresh
// activation takes it instead of reading MySQL. Payment-ready is
// conditional on the order still being CREATED, so a stale copy cannot
// move it twice.
func (g *grain) Start(req *opb.StartRequest, _ cluster.GrainContext) (*opb.SagaState, error) {
	return g.guard(func(ctx context.Context) (*opb.SagaState, error) {
		if g.known == nil && req.GetOrder() != nil {
			if o, err := opb.DecodeOrder(req.GetOrder()); err == nil && o.ID == g.id {
				g.remember(o)
			}
		}
		o, err := g.order(ctx)
		if err != nil || o.Step != domain.StepCreated {
			return g.state(ctx, opb.Refusal_REFUSAL_NONE)
		}
		return g.ready(ctx, o)
	})
}

// Approve runs the saga to its end after the payer approved: deduct every
// line, then take the money.
func (g *grain) Approve(req *opb.ApproveRequest, _ cluster.GrainContext) (*opb.SagaState, error) {
	return g.guard(func(ctx context.Context) (*opb.SagaState, error) {
		o, err := g.order(ctx)
		if err != nil && !errors.Is(err, domain.ErrOrderNotFound) {
			// MySQL did not answer: the approval is not taken, and the
			// payer must hear so (503, reload) rather than the order's
			// state as if nothing had come.
			return g.unavailable(), nil
		}
		if err != nil {
			return g.state(ctx, opb.Refusal_REFUSAL_NONE)
		}
		if req.GetNonce() == "" || req.GetNonce() != o.Payment.Nonce || req.GetPgToken() == "" {
			return g.state(ctx, opb.Refusal_BAD_CALLBACK)
		}
		if o.Step == domain.StepReady {
			if g.now().After(o.ExpiresAt) {
				return g.abort(ctx, o, domain.StatusExpired, domain.ReasonExpired)
			}
			if g.allHeld(o) {
				return g.takeHeld(ctx, o, req.GetPgToken())
			}
			var st *opb.SagaState
			if o, st = g.beginDeducting(ctx, o, req.GetPgToken()); st != nil {
				return st, nil
			}
		}
		if o.Step == domain.StepApproving && req.GetPgToken() != o.Payment.PGToken {
			// An approval refused for its token waits for another: this
			// callback's token is tried in its place.
			if err := g.deps.Store.SetPGToken(ctx, o.ID, req.GetPgToken(), g.now()); err != nil {
				return g.state(ctx, opb.Refusal_REFUSAL_NONE)
			}
			o.Payment.PGToken = req.GetPgToken()
			g.remember(o)
		}
		return g.run(ctx, o)
	})
}

// Resume continues a saga left mid-way (a crash, an unavailable step) and
// expires one whose payment waited too long.
func (g *grain) Resume(_ *opb.ResumeRequest, _ cluster.GrainContext) (*opb.SagaState, error) {
	return g.guard(func(ctx context.Context) (*opb.SagaState, error) {
		// A sweep's resume reads MySQL: the order may have been left by
		// another activation.
		g.known = nil
		o, err := g.order(ctx)
		if err != nil {
			return g.state(ctx, opb.Refusal_REFUSAL_NONE)
		}
		switch o.Step {
		case domain.StepCreated:
			// Start never finished: nobody can have paid a payment whose
			// URL never reached them, so the order goes as if never placed.
			return g.discard(ctx, o, ErrPaymentUnreachable)
		case domain.StepReady:
			if g.now().After(o.ExpiresAt) {
				return g.abort(ctx, o, domain.StatusExpired, domain.ReasonExpired)
			}
			return g.state(ctx, opb.Refusal_REFUSAL_NONE)
		default:
			return g.run(ctx, o)
		}
	})
}

// Abort ends an order whose payer cancelled or failed at Kakao Pay, or
// whose payment expired. Only an order still waiting for the payer can be
// aborted; one already being approved goes on.
func (g *grain) Abort(req *opb.AbortRequest, _ cluster.GrainContext) (*opb.SagaState, error) {
	return g.guard(func(ctx context.Context) (*opb.SagaState, error) {
		o, err := g.order(ctx)
		if err != nil {
			return g.state(ctx, opb.Refusal_REFUSAL_NONE)
		}
		if req.GetExpire() {
			if o.Step == domain.StepReady && g.now().After(o.ExpiresAt) {
				return g.abort(ctx, o, domain.StatusExpired, domain.ReasonExpired)
			}
			return g.state(ctx, opb.Refusal_REFUSAL_NONE)
		}
		if req.GetNonce() == "" || req.GetNonce() != o.Payment.Nonce {
			return g.state(ctx, opb.Refusal_BAD_CALLBACK)
		}
		reason := req.GetReason().Domain()
		if reason != domain.ReasonPaymentCancelled && reason != domain.ReasonPaymentFailed {
			reason = domain.ReasonPaymentFailed
		}
		if o.Step != domain.StepReady {
			return g.state(ctx, opb.Refusal_REFUSAL_NONE)
		}
		return g.abort(ctx, o, domain.StatusFailed, reason)
	})
}

func (g *grain) now() time.Time { return g.deps.Clock.Now() }

func (g *grain) after(step domain.Step) {
	if g.deps.AfterStep != nil {
		g.deps.AfterStep(g.id, step)
	}
}

// guard runs one message's work with a deadline and never lets a panic
// reset the grain silently.
func (g *grain) guard(work func(ctx context.Context) (*opb.SagaState, error)) (st *opb.SagaState, err error) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("saga panic", "panic", fmt.Sprint(r))
			st, err = g.unavailable(), nil
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), g.deps.StepTimeout)
	defer cancel()
	return work(ctx)
}

// order is the order as this activation knows it, read from MySQL when it
// knows nothing. The copy is the caller's to change.
func (g *grain) order(ctx context.Context) (domain.Order, error) {
	if g.known == nil {
		o, err := g.deps.Store.Order(ctx, g.id)
		if err != nil {
			return o, err
		}
		g.remember(o)
	}
	return copyOrder(*g.known), nil
}

func (g *grain) remember(o domain.Order) {
	c := copyOrder(o)
	g.known = &c
}

func copyOrder(o domain.Order) domain.Order {
	o.Lines = append([]domain.OrderLine(nil), o.Lines...)
	return o
}

// state reads the order from MySQL (what this activation knew may be
// stale) and answers it, or the refusal.
func (g *grain) state(ctx context.Context, refusal opb.Refusal) (*opb.SagaState, error) {
	g.known = nil
	o, err := g.order(ctx)
	if errors.Is(err, domain.ErrOrderNotFound) {
		return &opb.SagaState{OrderId: g.id, Refusal: opb.Refusal_NOT_FOUND}, nil
	}
	if err != nil {
		g.log.Error("read order", "error", err.Error())
		return &opb.SagaState{OrderId: g.id, Refusal: opb.Refusal_UNAVAILABLE}, nil
	}
	st := &opb.SagaState{OrderId: o.ID, Status: string(o.Status), Reason: opb.ReasonOf(o.Reason), Step: string(o.Step), Refusal: refusal}
	if refusal == opb.Refusal_REFUSAL_NONE {
		st.Order = opb.EncodeOrder(o)
	}
	return st, nil
}

// unavailable answers a step that could not be made durable; what this
// activation knew of the order is forgotten.
func (g *grain) unavailable() *opb.SagaState {
	g.known = nil
	return &opb.SagaState{OrderId: g.id, Refusal: opb.Refusal_UNAVAILABLE}
}

// moved records in memory the step the store just made durable, tells the
// notifier, and answers it, so that a step costs no read back.
func (g *grain) moved(o *domain.Order, step domain.Step, status domain.OrderStatus, reason domain.Reason) *opb.SagaState {
	o.Step, o.Status, o.Reason, o.UpdatedAt = step, status, reason, g.now()
	g.remember(*o)
	if g.deps.Notifier != nil {
		g.deps.Notifier.OrderChanged(*o)
	}
	return &opb.SagaState{OrderId: o.ID, Status: string(status), Reason: opb.ReasonOf(reason), Step: string(step), Order: opb.EncodeOrder(*o)}
}
