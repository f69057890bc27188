package warehouse_test

import (
	"context"
	"maps"
	"testing"
	"time"

	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot"
	"shelflife/actors/warehouse"
	"shelflife/clock"
	"shelflife/cluster/membertest"
	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// milkWarehouse is a warehouse with a product, milk, and mk, which
// receives a lot of it (qty units, expiring in in) and answers its id.
func milkWarehouse(t *testing.T) (*mysqlstore.Store, context.Context, domain.Warehouse, domain.Product, func(qty int64, in time.Duration) int64) {
	store := mysqltest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	wh, _ := store.CreateWarehouse(ctx, domain.Warehouse{Name: "W", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	milk, _ := store.CreateProduct(ctx, domain.Product{SKU: "MILK", Name: "우유", Category: "Dairy", Price: 3000})
	mk := func(qty int64, in time.Duration) int64 {
		l, err := store.CreateLot(ctx, domain.Lot{ProductID: milk.ID, WarehouseID: wh.ID, ExpiresAt: t0.Add(in), Received: qty}, t0)
		if err != nil {
			t.Fatal(err)
		}
		return l.ID
	}
	return store, ctx, wh, milk, mk
}

// A regular line is held FEFO across the warehouse's lots; Commit deducts
// the same plan; Release gives back what is held or deducted.
func TestHoldCommitReleaseFEFO(t *testing.T) {
	store, ctx, wh, milk, mk := milkWarehouse(t)
	clk := clock.NewFake(t0)
	late := mk(10, 10*24*time.Hour)
	early := mk(4, 5*24*time.Hour)
	ms := membertest.Start(t, 2,
		lot.Kind(lot.Deps{Store: store, Clock: clk, Ladder: domain.DefaultLadder()}),
		warehouse.Kind(warehouse.Deps{Store: store, Clock: clk}))
	wc := warehouse.NewClient(ms[1].Cluster)
	lots := lot.NewClient(ms[0].Cluster)
	until := t0.Add(15 * time.Minute)

	h, err := wc.Hold(ctx, wh.ID, "o1", milk.ID, 6, until)
	if err != nil || h.Reason != pb.Reason_OK {
		t.Fatalf("hold = %v, %v", h, err)
	}
	if got, want := takes(t, h, 3000), map[int64]int64{early: 4, late: 2}; !maps.Equal(got, want) {
		t.Errorf("held %v, want %v", got, want)
	}
	if info, _ := lots.Get(ctx, late); info.OnHand != 8 || info.Held != 2 || info.Deducted != 0 {
		t.Errorf("late lot after the hold %+v, want 8 free, 2 held", info)
	}
	// What is held is not for others.
	if r, _ := wc.Hold(ctx, wh.ID, "o2", milk.ID, 9, until); r.Reason != pb.Reason_INSUFFICIENT_STOCK || r.Available != 8 {
		t.Errorf("hold beyond the free units = %v, want INSUFFICIENT_STOCK with 8 available", r)
	}
	c, err := wc.Commit(ctx, wh.ID, "o1", milk.ID)
	if err != nil || c.Reason != pb.Reason_OK || len(c.Takes) != 2 {
		t.Fatalf("commit = %v, %v", c, err)
	}
	if again, _ := wc.Commit(ctx, wh.ID, "o1", milk.ID); again.Reason != pb.Reason_OK {
		t.Errorf("repeated commit = %v", again)
	}
	if _, deducted := conserved(t, store, late, early); deducted != 6 {
		t.Errorf("deducted %d, want 6", deducted)
	}
	// A second order's hold lapses: its commit is refused, nothing taken.
	if r, _ := wc.Hold(ctx, wh.ID, "o3", milk.ID, 3, t0.Add(time.Minute)); r.Reason != pb.Reason_OK {
		t.Fatalf("hold o3 = %v", r)
	}
	clk.Advance(2 * time.Minute)
	if r, _ := wc.Commit(ctx, wh.ID, "o3", milk.ID); r.Reason != pb.Reason_HOLD_EXPIRED {
		t.Errorf("commit after the deadline = %v, want HOLD_EXPIRED", r)
	}
	if r, _ := wc.Commit(ctx, wh.ID, "nobody", milk.ID); r.Reason != pb.Reason_NO_HOLD {
		t.Errorf("commit without a plan = %v, want NO_HOLD", r)
	}
	// Release of the committed line restores it, once.
	if rel, err := wc.Release(ctx, wh.ID, "o1", milk.ID); err != nil || rel.Restored != 6 {
		t.Errorf("release = %v, %v, want 6 restored", rel, err)
	}
	if onHand, deducted := conserved(t, store, late, early); onHand != 14 || deducted != 0 {
		t.Errorf("after release: %d free, %d deducted, want 14 and 0", onHand, deducted)
	}
}
