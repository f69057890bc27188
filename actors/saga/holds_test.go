package saga

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	pb "shelflife/actors/inventorypb"
	"shelflife/domain"
)

func TestHolderHoldsEveryLineOrNone(t *testing.T) {
	placed := func() domain.Order { return legacy(anOrder(domain.StepCreated)) }
	until := t0.Add(15 * time.Minute)
	tests := []struct {
		name      string
		setup     func(*fakeStock)
		wantErr   error
		available int64
		warehouse int64 // where the regular line is held
		held      map[string]int64
	}{
		{name: "both lines held, the milk at the nearest warehouse", warehouse: near,
			held: map[string]int64{"o1-l9": 2, "o1-p4": 1}},
		{name: "the nearest warehouse has no milk: held at the next", warehouse: far,
			setup: func(s *fakeStock) { s.warehouses[[2]int64{near, milk}] = 0 },
			held:  map[string]int64{"o1-l9": 2, "o1-p4": 1}},
		{name: "the deal is sold out: nothing held, how many are left said",
			setup:   func(s *fakeStock) { s.lots[dealLot] = 1 },
			wantErr: domain.ErrSoldOut, available: 1, held: map[string]int64{}},
		{name: "no warehouse can hold the milk: the deal's hold is given back",
			setup: func(s *fakeStock) {
				s.warehouses[[2]int64{near, milk}], s.warehouses[[2]int64{far, milk}] = 0, 0
			},
			wantErr: domain.ErrSoldOut, held: map[string]int64{}},
		{name: "stock unreachable", setup: func(s *fakeStock) { s.unavailable = true },
			wantErr: domain.ErrUnavailable, held: map[string]int64{}},
		{name: "a lot's write fenced off by its other activation: unavailable (try again), not sold out",
			setup:   func(s *fakeStock) { s.superseded = true },
			wantErr: domain.ErrUnavailable, held: map[string]int64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(placed())
			if tc.setup != nil {
				tc.setup(w.stock)
			}
			h := Holder{Stock: w.stock, Places: w.g.deps.Places}
			o := placed()
			err := h.Hold(t.Context(), &o, until, until)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Hold = %v, want %v", err, tc.wantErr)
			}
			var so *domain.SoldOutError
			if errors.As(err, &so) && so.Available != tc.available {
				t.Errorf("available %d, want %d", so.Available, tc.available)
			}
			if err == nil && o.Lines[1].WarehouseID != tc.warehouse {
				t.Errorf("milk held at %d, want %d", o.Lines[1].WarehouseID, tc.warehouse)
			}
			if !maps.Equal(w.stock.held, tc.held) {
				t.Errorf("held %v, want %v", w.stock.held, tc.held)
			}
		})
	}
}

// unreachableReturns is stock whose give-backs never get an answer: each
// waits for its context to end, as a grain client's retries do.
type unreachableReturns struct {
	*fakeStock
	mu       sync.Mutex
	calls    int
	liveCtxs int // calls whose context had not ended on entry
}

func (s *unreachableReturns) wait(ctx context.Context) error {
	s.mu.Lock()
	s.calls++
	if ctx.Err() == nil {
		s.liveCtxs++
	}
	s.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func (s *unreachableReturns) Release(ctx context.Context, _ int64, _ string, _ int64) error {
	return s.wait(ctx)
}

func (s *unreachableReturns) RestoreDeal(ctx context.Context, _ int64, _ string) error {
	return s.wait(ctx)
}

// A give-back is tried even when the placement's request has ended (that
// is when it is needed most), and ends on its own when the stock never
// answers: it must not hold the request, and a node's graceful stop, for
// as long as the grains stay unreachable.
func TestReleaseOutlivesTheRequestButNotItsBound(t *testing.T) {
	w := newWorld(legacy(anOrder(domain.StepCreated)))
	stock := &unreachableReturns{fakeStock: w.stock}
	h := Holder{Stock: stock, Places: w.g.deps.Places, ReleaseWithin: 50 * time.Millisecond}
	ended, cancel := context.WithCancel(t.Context())
	cancel()

	done := make(chan error, 1)
	go func() { done <- h.Release(ended, legacy(anOrder(domain.StepCreated))) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Release = %v, want its own deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Release did not end while the stock stayed unreachable")
	}
	stock.mu.Lock()
	defer stock.mu.Unlock()
	if stock.calls == 0 || stock.liveCtxs == 0 {
		t.Errorf("%d give-backs tried, %d with a live context: a request that ended must still give back", stock.calls, stock.liveCtxs)
	}
}

// unreachableLot is stock whose deal lot never answers a give-back; the
// warehouses do.
type unreachableLot struct{ *fakeStock }

func (s unreachableLot) RestoreDeal(ctx context.Context, _ int64, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}

// Release answers as a grain client does: nothing once ctx has ended.
func (s unreachableLot) Release(ctx context.Context, w int64, key string, product int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.fakeStock.Release(ctx, w, key, product)
}

// One line's lot that does not answer must not keep the other lines'
// units held: each line is given back on its own.
func TestReleaseGivesBackEveryLineItCan(t *testing.T) {
	w := newWorld(legacy(anOrder(domain.StepCreated)))
	h := Holder{Stock: w.stock, Places: w.g.deps.Places}
	o := legacy(anOrder(domain.StepCreated))
	until := t0.Add(15 * time.Minute)
	if err := h.Hold(t.Context(), &o, until, until); err != nil {
		t.Fatal(err)
	}
	held := maps.Clone(w.stock.held)
	if len(held) != 2 {
		t.Fatalf("held %v, want both lines", held)
	}
	h.Stock, h.ReleaseWithin = unreachableLot{w.stock}, 100*time.Millisecond
	if err := h.Release(t.Context(), o); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Release = %v, want the unreachable lot's deadline", err)
	}
	w.stock.mu.Lock()
	defer w.stock.mu.Unlock()
	for key := range held {
		_, still := w.stock.held[key]
		if deal := key == o.Lines[0].Key(o.ID); still != deal {
			t.Errorf("line %s still held: %v (only the unreachable deal line should be)", key, still)
		}
	}
}

// stockedPlaces is places whose read model shows shown units of milk per
// warehouse.
type stockedPlaces struct {
	places
	shown map[int64]int64
}

func (p stockedPlaces) RegularAt(w, product int64) int64 {
	if product != milk {
		return 0
	}
	return p.shown[w]
}

// countingStock counts the regular holds asked of each warehouse.
type countingStock struct {
	*fakeStock
	asked map[int64]int
}

func (s *countingStock) HoldRegular(ctx context.Context, w int64, key string, product, qty int64, until time.Time) (pb.Reason, int64, error) {
	s.asked[w]++
	return s.fakeStock.HoldRegular(ctx, w, key, product, qty, until)
}

// A regular line is asked first of the warehouses the read model shows
// holding it, nearest first; the others still come after, since the read
// model may not have heard of a receipt yet.
func TestRegularLineAsksAWarehouseShownHoldingItFirst(t *testing.T) {
	until := t0.Add(15 * time.Minute)
	serving := places{{ID: near, Lat: 37.5, Lng: 127, RadiusKm: 10}, {ID: far, Lat: 37.6, Lng: 127.1, RadiusKm: 30}}
	tests := []struct {
		name        string
		stock       map[int64]int64 // milk each warehouse really holds
		shown       map[int64]int64 // what the read model shows
		asked       map[int64]int
		heldAt      int64
		wantSoldOut bool
	}{
		{name: "only the far warehouse shown holding it: the near one is not asked",
			stock: map[int64]int64{far: 5}, shown: map[int64]int64{far: 5},
			asked: map[int64]int{far: 1}, heldAt: far},
		{name: "both shown: the nearest",
			stock: map[int64]int64{near: 5, far: 5}, shown: map[int64]int64{near: 5, far: 5},
			asked: map[int64]int{near: 1}, heldAt: near},
		{name: "shown too few at the near one: the far one first",
			stock: map[int64]int64{near: 5, far: 5}, shown: map[int64]int64{far: 5},
			asked: map[int64]int{far: 1}, heldAt: far},
		{name: "the read model has not heard of the near one's receipt: asked after the far one refused",
			stock: map[int64]int64{near: 5}, shown: map[int64]int64{far: 5},
			asked: map[int64]int{far: 1, near: 1}, heldAt: near},
		{name: "shown nowhere, held where it is",
			stock: map[int64]int64{far: 5}, shown: map[int64]int64{},
			asked: map[int64]int{near: 1, far: 1}, heldAt: far},
		{name: "nowhere: sold out after asking every one",
			stock: map[int64]int64{}, shown: map[int64]int64{near: 5},
			asked: map[int64]int{near: 1, far: 1}, wantSoldOut: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stock := &countingStock{fakeStock: newFakeStock(), asked: map[int64]int{}}
			stock.lots[dealLot] = 5
			for w, n := range tc.stock {
				stock.warehouses[[2]int64{w, milk}] = n
			}
			h := Holder{Stock: stock, Places: stockedPlaces{places: serving, shown: tc.shown}}
			o := legacy(anOrder(domain.StepCreated))
			err := h.Hold(t.Context(), &o, until, until)
			if tc.wantSoldOut {
				if !errors.Is(err, domain.ErrSoldOut) {
					t.Fatalf("Hold = %v, want sold out", err)
				}
			} else if err != nil {
				t.Fatalf("Hold = %v", err)
			} else if o.Lines[1].WarehouseID != tc.heldAt {
				t.Errorf("milk held at %d, want %d", o.Lines[1].WarehouseID, tc.heldAt)
			}
			if !maps.Equal(stock.asked, tc.asked) {
				t.Errorf("asked %v, want %v", stock.asked, tc.asked)
			}
		})
	}
}
