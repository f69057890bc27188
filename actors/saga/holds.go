package saga

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	pb "shelflife/actors/inventorypb"
	"shelflife/domain"
)

// Holder puts a new order's lines on hold before the order is stored, so
// that a shopper is sent to pay only for stock that is held: a deal line
// on its lot, a regular line at the nearest serving warehouse the read
// model shows holding it all, else at the nearest that can (FEFO inside).
// What cannot be held refuses the placement at once (*domain.SoldOutError)
// and gives back what was held.
//
// A crash after the holds and before the order is stored leaves holds
// without an order: they end at their deadline by their lot's timer. Once
// the order is stored (step CREATED), the saga releases them on every
// path that does not end PAID.
type Holder struct {
	Stock  Stock
	Places Places
	Logger *slog.Logger
	// ReleaseWithin bounds a give-back (Release), whatever its caller's
	// context; 0 is DefaultReleaseWithin.
	ReleaseWithin time.Duration
}

// DefaultReleaseWithin is how long a give-back of a refused placement's
// holds may take. It runs after the shopper's request deadline has ended
// (a hold that got no answer in time is given back too), so without a
// bound a stock grain that stays unreachable would keep the request, and a
// node's graceful stop waiting on it, through every retry of every line.
// What is not given back in time ends at its hold deadline.
const DefaultReleaseWithin = 5 * time.Second

// Hold holds every line of o: regular lines until regularUntil, deal lines
// until dealUntil (each lot caps a hold at its expiry). It records each
// line's warehouse in o.
func (h Holder) Hold(ctx context.Context, o *domain.Order, regularUntil, dealUntil time.Time) error {
	var serving []domain.Warehouse
	for i, l := range o.Lines {
		key := l.Key(o.ID)
		var reason pb.Reason
		var available int64
		var err error
		if l.Kind == domain.LineDeal {
			reason, available, err = h.Stock.HoldDeal(ctx, l.LotID, key, l.Quantity, dealUntil)
		} else {
			if serving == nil {
				serving = servingNearest(h.Places, o.Address)
			}
			var w int64
			w, reason, available, err = h.holdRegular(ctx, serving, key, l, regularUntil)
			if reason == pb.Reason_OK {
				o.Lines[i].WarehouseID = w
			}
		}
		if err != nil || reason == pb.Reason_UNAVAILABLE || reason == pb.Reason_STALE_OWNER {
			h.release(ctx, *o, i+1)
			return fmt.Errorf("hold line %d: %v: %w", l.LineNo, err, domain.ErrUnavailable)
		}
		if reason != pb.Reason_OK {
			h.release(ctx, *o, i)
			return &domain.SoldOutError{ProductID: l.ProductID, LotID: l.LotID, Available: available}
		}
	}
	return nil
}

// holdRegular holds line l at the first serving warehouse that can hold it
// all; a refusal says the most any one of them could. The warehouses this
// node's read model shows holding enough are asked first, nearest first,
// then the others: a nearer warehouse without the product costs the line
// no request, yet one the read model has not heard of receiving it is
// still asked.
func (h Holder) holdRegular(ctx context.Context, serving []domain.Warehouse, key string, l domain.OrderLine, until time.Time) (int64, pb.Reason, int64, error) {
	var best int64
	for _, w := range stockedFirst(h.Places, serving, l.ProductID, l.Quantity) {
		r, available, err := h.Stock.HoldRegular(ctx, w.ID, key, l.ProductID, l.Quantity, until)
		// STALE_OWNER (a lot's other activation fenced the write off)
		// says nothing of the stock: the placement is to be tried again.
		if err != nil || r == pb.Reason_UNAVAILABLE || r == pb.Reason_STALE_OWNER || r == pb.Reason_OK {
			return w.ID, r, available, err
		}
		best = max(best, available)
	}
	return 0, pb.Reason_INSUFFICIENT_STOCK, best, nil
}

// stockedFirst orders serving (nearest first) so that the warehouses p
// shows holding quantity units of product come first, each part keeping
// its order. Without Stocked it is serving.
func stockedFirst(p Places, serving []domain.Warehouse, product, quantity int64) []domain.Warehouse {
	s, ok := p.(Stocked)
	if !ok || len(serving) < 2 {
		return serving
	}
	out := make([]domain.Warehouse, 0, len(serving))
	var rest []domain.Warehouse
	for _, w := range serving {
		if s.RegularAt(w.ID, product) >= quantity {
			out = append(out, w)
		} else {
			rest = append(rest, w)
		}
	}
	return append(out, rest...)
}

// Release gives back what o's lines hold (or took): an order that could
// not be stored after its holds were taken. It is not cancelled with ctx
// (a give-back is what a request past its deadline leaves to do) and ends
// at most ReleaseWithin after it starts. The lines are given back at once,
// each on its own, so that a lot that does not answer keeps no other
// line's units held.
func (h Holder) Release(ctx context.Context, o domain.Order) error {
	within := h.ReleaseWithin
	if within <= 0 {
		within = DefaultReleaseWithin
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), within)
	defer cancel()
	errs := make([]error, len(o.Lines))
	var wg sync.WaitGroup
	for i := range o.Lines {
		wg.Go(func() {
			errs[i] = Restore(ctx, h.Stock, domain.OrderFailedEvent{OrderID: o.ID, Lines: o.Lines[i : i+1]})
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// release gives back the first n lines' holds, as far as it can; what it
// cannot give back ends at its deadline.
func (h Holder) release(ctx context.Context, o domain.Order, n int) {
	if n == 0 {
		return
	}
	o.Lines = o.Lines[:n]
	if err := h.Release(ctx, o); err != nil && h.Logger != nil {
		h.Logger.Warn("release holds of a refused order; they end at their deadline", "order", o.ID, "error", err.Error())
	}
}
