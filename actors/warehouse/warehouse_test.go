package warehouse_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
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

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func TestAllocateFEFOAcrossLots(t *testing.T) {
	store := mysqltest.New(t)
	clk := clock.NewFake(t0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wh, _ := store.CreateWarehouse(ctx, domain.Warehouse{Name: "W", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	milk, _ := store.CreateProduct(ctx, domain.Product{SKU: "MILK", Name: "우유", Category: "Dairy", Price: 3000})
	eggs, _ := store.CreateProduct(ctx, domain.Product{SKU: "EGGS", Name: "계란", Category: "Dairy", Price: 7000})
	mk := func(p domain.Product, qty int64, in time.Duration) int64 {
		l, err := store.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: wh.ID, ExpiresAt: t0.Add(in), Received: qty}, t0)
		if err != nil {
			t.Fatal(err)
		}
		return l.ID
	}
	late := mk(milk, 10, 10*24*time.Hour)
	early := mk(milk, 4, 5*24*time.Hour)
	middle := mk(milk, 3, 7*24*time.Hour)
	soon := mk(milk, 50, 60*time.Hour) // closing soon in 12 h

	ms := membertest.Start(t, 2,
		lot.Kind(lot.Deps{Store: store, Clock: clk, Ladder: domain.DefaultLadder()}),
		warehouse.Kind(warehouse.Deps{Store: store, Clock: clk}))
	wc := warehouse.NewClient(ms[1].Cluster)
	lots := lot.NewClient(ms[0].Cluster)

	// 60 units: soon (60 h) first, then early, middle, late.
	resp, err := wc.Allocate(ctx, wh.ID, "order-1", milk.ID, 57)
	if err != nil || resp.Reason != pb.Reason_OK {
		t.Fatalf("allocate = %v, %v", resp, err)
	}
	if got, want := takes(t, resp, 3000), map[int64]int64{soon: 50, early: 4, middle: 3}; !maps.Equal(got, want) {
		t.Errorf("takes %v, want %v", got, want)
	}
	// The same request again changes nothing.
	again, _ := wc.Allocate(ctx, wh.ID, "order-1", milk.ID, 57)
	if again.Reason != pb.Reason_OK || len(again.Takes) != 3 {
		t.Errorf("repeated allocate = %v", again)
	}
	if info, _ := lots.Get(ctx, late); info.OnHand != 10 {
		t.Errorf("late lot on hand %d, want 10 (untouched)", info.OnHand)
	}
	// Splitting works for the rest: 10 left in "late".
	short, _ := wc.Allocate(ctx, wh.ID, "order-2", milk.ID, 11)
	if short.Reason != pb.Reason_INSUFFICIENT_STOCK || short.Available != 10 {
		t.Errorf("allocate beyond stock = %v, want INSUFFICIENT_STOCK with 10 available", short)
	}
	none, _ := wc.Allocate(ctx, wh.ID, "order-3", eggs.ID, 1)
	if none.Reason != pb.Reason_PRODUCT_NOT_STOCKED {
		t.Errorf("allocate of an unstocked product = %v", none)
	}
	// A lot received after the warehouse loaded its cache is found.
	fresh := mk(eggs, 6, 20*24*time.Hour)
	if r, _ := wc.Allocate(ctx, wh.ID, "order-4", eggs.ID, 2); r.Reason != pb.Reason_OK || r.Takes[0].LotId != fresh {
		t.Errorf("allocate from a new lot = %v", r)
	}
	// Release gives everything back, once.
	rel, err := wc.Release(ctx, wh.ID, "order-1", milk.ID)
	if err != nil || rel.Reason != pb.Reason_OK || rel.Restored != 57 {
		t.Errorf("release = %v, %v", rel, err)
	}
	rel2, _ := wc.Release(ctx, wh.ID, "order-1", milk.ID)
	if rel2.Restored != 0 {
		t.Errorf("second release restored %d", rel2.Restored)
	}
	// Once "soon" is closing soon it is no longer regular stock.
	clk.Advance(13 * time.Hour)
	r, _ := wc.Allocate(ctx, wh.ID, "order-5", milk.ID, 17)
	if r.Reason != pb.Reason_OK {
		t.Fatalf("allocate after the transition = %v", r)
	}
	for _, tk := range r.Takes {
		if tk.LotId == soon {
			t.Errorf("a closing-soon lot was allocated as regular stock: %v", r.Takes)
		}
	}
	conserved(t, store, soon, early, middle, late, fresh)
}

// takes are the units an allocation took from each lot, every one at the
// regular price.
func takes(t *testing.T, resp *pb.AllocateResponse, price int64) map[int64]int64 {
	t.Helper()
	got := map[int64]int64{}
	for _, tk := range resp.Takes {
		got[tk.LotId] = tk.Quantity
		if tk.UnitPrice != price {
			t.Errorf("regular take priced %d, want %d", tk.UnitPrice, price)
		}
	}
	return got
}

// conserved checks that every lot's units add up and sums what is on hand
// and what is deducted (net of restores).
func conserved(t *testing.T, store *mysqlstore.Store, ids ...int64) (onHand, deducted int64) {
	t.Helper()
	for _, id := range ids {
		var rec, on, held, ded, res, wo int64
		store.DB().QueryRow("SELECT received, on_hand, held, deducted, restored, written_off FROM lots WHERE id = ?", id).Scan(&rec, &on, &held, &ded, &res, &wo)
		if rec != on+held+ded-res+wo {
			t.Errorf("lot %d not conserved: %d != %d+%d+%d-%d+%d", id, rec, on, held, ded, res, wo)
		}
		onHand += on
		deducted += ded - res
	}
	return onHand, deducted
}

func TestInvalidRequests(t *testing.T) {
	store := mysqltest.New(t)
	ms := membertest.Start(t, 2, lot.Kind(lot.Deps{Store: store, Ladder: domain.DefaultLadder()}), warehouse.Kind(warehouse.Deps{Store: store}))
	wc := warehouse.NewClient(ms[0].Cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, bad := range []struct {
		key        string
		product, q int64
	}{{"", 1, 1}, {"k", 0, 1}, {"k", 1, 0}} {
		r, err := wc.Allocate(ctx, 1, bad.key, bad.product, bad.q)
		if err != nil || r.Reason != pb.Reason_INVALID_ARGUMENT {
			t.Errorf("allocate %+v = %v, %v", bad, r, err)
		}
	}
}

// Many orders at once on a product split over lots: the grain plans them
// in batches and carries the plans out concurrently, yet gives out exactly
// the stock, no unit twice, and a request repeated at the same time takes
// once.
func TestConcurrentAllocationsGiveExactlyTheStock(t *testing.T) {
	store := mysqltest.New(t)
	clk := clock.NewFake(t0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wh, _ := store.CreateWarehouse(ctx, domain.Warehouse{Name: "W", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	milk, _ := store.CreateProduct(ctx, domain.Product{SKU: "MILK", Name: "우유", Category: "Dairy", Price: 3000})
	var lotIDs []int64
	for i, qty := range []int64{40, 35, 25} {
		l, err := store.CreateLot(ctx, domain.Lot{ProductID: milk.ID, WarehouseID: wh.ID, ExpiresAt: t0.Add(time.Duration(5+i) * 24 * time.Hour), Received: qty}, t0)
		if err != nil {
			t.Fatal(err)
		}
		lotIDs = append(lotIDs, l.ID)
	}
	ms := membertest.Start(t, 2,
		lot.Kind(lot.Deps{Store: store, Clock: clk, Ladder: domain.DefaultLadder()}),
		warehouse.Kind(warehouse.Deps{Store: store, Clock: clk}))
	wc := warehouse.NewClient(ms[1].Cluster)

	given, answers := allocateAll(t, ctx, wc, wh.ID, milk.ID)
	var total int64
	for _, n := range given {
		total += n
	}
	onHand, deducted := conserved(t, store, lotIDs...)
	if total != deducted || total > 100 {
		t.Errorf("answered %d units given, lots say %d deducted (stock 100)", total, deducted)
	}
	// Every order still refused must have been refused for lack of stock:
	// at most one unit can be left (a 2-unit order cannot take it).
	if onHand > 1 || answers[pb.Reason_UNAVAILABLE] > 0 {
		t.Errorf("%d units left on hand, answers %v", onHand, answers)
	}
	// Sold out, the warehouse has no regular lot of the product left.
	if answers[pb.Reason_INSUFFICIENT_STOCK]+answers[pb.Reason_PRODUCT_NOT_STOCKED] == 0 || len(answers) > 3 {
		t.Errorf("answers %v, want OK and refusals for lack of stock only", answers)
	}
}

// allocateAll places 300 orders of 1 or 2 units at once, every 30th
// delivered three times, and answers the units each order was given and
// how many answers of each reason came back. An order answered twice must
// be given the same both times.
func allocateAll(t *testing.T, ctx context.Context, wc *warehouse.Client, wh, product int64) (map[string]int64, map[pb.Reason]int) {
	const orders = 300
	type result struct {
		key  string
		resp *pb.AllocateResponse
		err  error
	}
	results := make(chan result, orders+20)
	var wg sync.WaitGroup
	for i := range orders {
		key := fmt.Sprintf("order-%d", i)
		n := 1
		if i%30 == 0 {
			n = 3 // the same request delivered three times at once
		}
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				qty := int64(1 + i%2) // 1 or 2 units
				r, err := wc.Allocate(ctx, wh, key, product, qty)
				results <- result{key, r, err}
			}()
		}
	}
	wg.Wait()
	close(results)
	given := map[string]int64{}
	answers := map[pb.Reason]int{}
	for r := range results {
		if r.err != nil {
			t.Fatalf("allocate %s: %v", r.key, r.err)
		}
		answers[r.resp.Reason]++
		if r.resp.Reason != pb.Reason_OK {
			continue
		}
		var sum int64
		for _, tk := range r.resp.Takes {
			sum += tk.Quantity
		}
		if prev, ok := given[r.key]; ok && prev != sum {
			t.Errorf("%s answered %d then %d", r.key, prev, sum)
		}
		given[r.key] = sum
	}
	return given, answers
}

// staleLot answers the first Deduct on one lot as a lot grain whose write
// was fenced off by its other activation (two members disagreeing for a
// moment on who owns it), then passes every call on.
type staleLot struct {
	*lot.Client
	lotID int64
	done  atomic.Bool
}

func (s *staleLot) Deduct(ctx context.Context, lotID int64, key string, quantity int64, ch pb.Channel) (*pb.DeductResponse, error) {
	if lotID == s.lotID && s.done.CompareAndSwap(false, true) {
		return &pb.DeductResponse{Reason: pb.Reason_STALE_OWNER, LotId: lotID}, nil
	}
	return s.Client.Deduct(ctx, lotID, key, quantity, ch)
}

// A lot's STALE_OWNER says nothing of its stock: the allocation answers
// UNAVAILABLE and keeps its plan, and the retry takes the same units. It
// used to answer STALE_OWNER, which the saga took for "not at this
// warehouse" and failed the order insufficient_stock with stock to spare.
func TestAStaleLotActivationIsUnavailableNotARefusal(t *testing.T) {
	store, ctx, wh, milk, mk := milkWarehouse(t)
	clk := clock.NewFake(t0)
	early, late := mk(4, 5*24*time.Hour), mk(10, 10*24*time.Hour)
	stale := &staleLot{lotID: late}
	ms := membertest.Start(t, 1,
		lot.Kind(lot.Deps{Store: store, Clock: clk, Ladder: domain.DefaultLadder()}),
		warehouse.Kind(warehouse.Deps{Store: store, Clock: clk, Lots: stale}))
	stale.Client = lot.NewClient(ms[0].Cluster)
	wc := warehouse.NewClient(ms[0].Cluster)

	first, err := wc.Allocate(ctx, wh.ID, "order-1", milk.ID, 6)
	if err != nil || first.Reason != pb.Reason_UNAVAILABLE {
		t.Fatalf("allocate meeting a stale lot activation = %v, %v; want UNAVAILABLE", first, err)
	}
	again, err := wc.Allocate(ctx, wh.ID, "order-1", milk.ID, 6)
	if err != nil || again.Reason != pb.Reason_OK {
		t.Fatalf("the retry = %v, %v; want OK", again, err)
	}
	if got, want := takes(t, again, 3000), map[int64]int64{early: 4, late: 2}; !maps.Equal(got, want) {
		t.Errorf("takes %v, want %v", got, want)
	}
	if _, deducted := conserved(t, store, early, late); deducted != 6 {
		t.Errorf("%d deducted, want 6", deducted)
	}
}

// gatedPlans holds the first Plans read at its gate.
type gatedPlans struct {
	warehouse.Store
	gate *membertest.Gate
}

func (s *gatedPlans) Plans(ctx context.Context, warehouseID int64, keys []warehouse.PlanKey) (map[warehouse.PlanKey][]domain.Allocation, error) {
	if err := s.gate.Pass(ctx); err != nil {
		return nil, err
	}
	return s.Store.Plans(ctx, warehouseID, keys)
}

// The cluster stops a warehouse grain (a rebalance, a node leaving) while
// a request waits in its queue behind the batch being planned: the queued
// request is answered then and asked again of the next activation, well
// within one attempt's time (3 s). The stuck batch's own caller retries
// after its attempt; in the end each order holds its units once.
func TestAStoppedWarehouseAnswersItsQueue(t *testing.T) {
	store, ctx, wh, milk, mk := milkWarehouse(t)
	clk := clock.NewFake(t0)
	lotID := mk(10, 10*24*time.Hour)
	gate := membertest.NewGate(t)
	ms := membertest.Start(t, 1,
		lot.Kind(lot.Deps{Store: store, Clock: clk, Ladder: domain.DefaultLadder()}),
		warehouse.Kind(warehouse.Deps{Store: &gatedPlans{Store: store, gate: gate}, Clock: clk}))
	wc := warehouse.NewClient(ms[0].Cluster)
	until := t0.Add(10 * time.Minute)
	first := make(chan error, 1)
	go func() {
		r, err := wc.Hold(ctx, wh.ID, "order-1", milk.ID, 3, until)
		if err == nil && r.Reason != pb.Reason_OK {
			err = fmt.Errorf("reason %v", r.Reason)
		}
		first <- err
	}()
	select {
	case <-gate.Entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first hold's batch never read its plans")
	}
	queued := make(chan error, 1)
	go func() {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		r, err := wc.Hold(qctx, wh.ID, "order-2", milk.ID, 4, until)
		if err == nil && r.Reason != pb.Reason_OK {
			err = fmt.Errorf("reason %v", r.Reason)
		}
		queued <- err
	}()
	// order-1's caller asking again (as after an attempt's timeout while
	// its plan is being saved) waits in the queue too.
	repeat := make(chan error, 1)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := wc.Hold(rctx, wh.ID, "order-1", milk.ID, 3, until)
		repeat <- err
	}()
	time.Sleep(100 * time.Millisecond) // order-2 and the repeat are in the queue
	pid := ms[0].Cluster.Get(fmt.Sprint(wh.ID), "Warehouse")
	if pid == nil {
		t.Fatal("no warehouse activation")
	}
	ms[0].System.Root.StopFuture(pid).Wait()
	if err := <-queued; err != nil {
		t.Fatalf("the queued hold when its grain stopped: %v; want OK from the next activation within the second", err)
	}
	// The repeat of the key being planned is not answered by the stopping
	// grain: asked again at once, the next activation could plan it
	// afresh before the first plan lands. It waits for its attempt.
	if err := <-repeat; err == nil {
		t.Error("the queued repeat of the key being planned was answered at once")
	}
	gate.Open()
	if err := <-first; err != nil {
		t.Fatalf("the stuck batch's hold, retried: %v", err)
	}
	var held int64
	if err := store.DB().QueryRow("SELECT held FROM lots WHERE id = ?", lotID).Scan(&held); err != nil || held != 7 {
		t.Errorf("held %d (%v), want 7", held, err)
	}
}
