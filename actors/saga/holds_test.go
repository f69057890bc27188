package saga

import (
	"errors"
	"maps"
	"testing"
	"time"

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
