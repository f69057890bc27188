package lot_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot"
	"shelflife/clock"
	"shelflife/cluster/member"
	"shelflife/cluster/membertest"
	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/mysqlstore/mysqltest"
)

type recorder struct {
	mu     sync.Mutex
	events []domain.LotEvent
}

func (r *recorder) LotChanged(e domain.LotEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) last(lotID int64) (domain.LotEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.events) - 1; i >= 0; i-- {
		if r.events[i].LotID == lotID {
			return r.events[i], true
		}
	}
	return domain.LotEvent{}, false
}

type fixture struct {
	store   *mysqlstore.Store
	clock   *clock.Fake
	events  *recorder
	active  *lot.Active
	members []*member.Member
	client  *lot.Client
	product domain.Product
	wh      domain.Warehouse
}

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// newFixture starts a two-member cluster hosting lot grains on a fresh
// database with one product and one warehouse.
func newFixture(t *testing.T) *fixture { return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with the lot kind's deps changed by edit.
func newFixtureWith(t *testing.T, edit func(*lot.Deps)) *fixture {
	t.Helper()
	f := &fixture{store: mysqltest.New(t), clock: clock.NewFake(t0), events: &recorder{}, active: &lot.Active{}}
	ctx := context.Background()
	var err error
	f.wh, err = f.store.CreateWarehouse(ctx, domain.Warehouse{Name: "W", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	if err != nil {
		t.Fatal(err)
	}
	f.product, err = f.store.CreateProduct(ctx, domain.Product{SKU: "P1", Name: "우유", Category: "Dairy", Price: 10000})
	if err != nil {
		t.Fatal(err)
	}
	deps := lot.Deps{Store: f.store, Clock: f.clock, Ladder: domain.DefaultLadder(), Publisher: f.events, Active: f.active}
	if edit != nil {
		edit(&deps)
	}
	f.members = membertest.Start(t, 2, lot.Kind(deps))
	f.client = lot.NewClient(f.members[0].Cluster)
	return f
}

func (f *fixture) newLot(t *testing.T, qty int64, expiresIn time.Duration) int64 {
	t.Helper()
	l, err := f.store.CreateLot(context.Background(), domain.Lot{ProductID: f.product.ID, WarehouseID: f.wh.ID, ExpiresAt: t0.Add(expiresIn), Received: qty}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return l.ID
}

type row struct {
	received, onHand, held, deducted, restored, writtenOff int64
	state                                                  string
}

func (f *fixture) row(t *testing.T, id int64) row {
	t.Helper()
	var r row
	err := f.store.DB().QueryRow("SELECT received, on_hand, held, deducted, restored, written_off, state FROM lots WHERE id = ?", id).
		Scan(&r.received, &r.onHand, &r.held, &r.deducted, &r.restored, &r.writtenOff, &r.state)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkConservation asserts received = on_hand + held + deducted -
// restored + written_off, and that the ledger and waste tables agree with
// the counters.
func (f *fixture) checkConservation(t *testing.T, id int64) row {
	t.Helper()
	r := f.row(t, id)
	if r.received != r.onHand+r.held+r.deducted-r.restored+r.writtenOff {
		t.Errorf("lot %d not conserved: %+v", id, r)
	}
	var ledgerDeducted, ledgerRestored, ledgerHeld, waste int64
	f.store.DB().QueryRow(`SELECT COALESCE(SUM(quantity),0) FROM lot_ledger WHERE lot_id = ? AND kind = 'HELD'`, id).Scan(&ledgerHeld)
	f.store.DB().QueryRow(`SELECT COALESCE(SUM(quantity),0) FROM lot_ledger WHERE lot_id = ? AND kind IN ('DEDUCTED','RESTORED')`, id).Scan(&ledgerDeducted)
	f.store.DB().QueryRow(`SELECT COALESCE(SUM(quantity),0) FROM lot_ledger WHERE lot_id = ? AND kind = 'RESTORED'`, id).Scan(&ledgerRestored)
	f.store.DB().QueryRow(`SELECT COALESCE(SUM(quantity),0) FROM waste WHERE lot_id = ?`, id).Scan(&waste)
	if ledgerDeducted != r.deducted || ledgerRestored != r.restored || ledgerHeld != r.held || waste != r.writtenOff {
		t.Errorf("lot %d: ledger deducted %d restored %d held %d waste %d, counters %+v", id, ledgerDeducted, ledgerRestored, ledgerHeld, waste, r)
	}
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConcurrentDeductionsNeverOversell(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 100, 30*24*time.Hour)
	ctx := ctxT(t)
	var ok, short, other atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 200)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// Half the callers go through each member.
			c := lot.NewClient(f.members[i%2].Cluster)
			resp, err := c.Deduct(ctx, id, fmt.Sprintf("order-%d", i), 1, pb.Channel_ANY)
			switch {
			case err != nil:
				other.Add(1)
				t.Errorf("deduct %d: %v", i, err)
			case resp.Reason == pb.Reason_OK:
				ok.Add(1)
			case resp.Reason == pb.Reason_INSUFFICIENT_STOCK:
				short.Add(1)
			default:
				other.Add(1)
				t.Errorf("deduct %d: reason %s", i, resp.Reason)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 100 || short.Load() != 900 {
		t.Errorf("ok %d, insufficient %d, other %d; want 100, 900, 0", ok.Load(), short.Load(), other.Load())
	}
	r := f.checkConservation(t, id)
	if r.onHand != 0 || r.deducted != 100 {
		t.Errorf("lot row %+v, want on_hand 0 deducted 100", r)
	}
	var entries int
	f.store.DB().QueryRow("SELECT COUNT(*) FROM lot_ledger WHERE lot_id = ? AND kind = 'DEDUCTED'", id).Scan(&entries)
	if entries != 100 {
		t.Errorf("%d ledger rows, want 100", entries)
	}
}

func TestIdempotency(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 10, 30*24*time.Hour)
	ctx := ctxT(t)

	first, err := f.client.Deduct(ctx, id, "order-a", 3, pb.Channel_REGULAR)
	if err != nil || first.Reason != pb.Reason_OK || first.Quantity != 3 || first.UnitPrice != 10000 {
		t.Fatalf("first deduct = %v, %v", first, err)
	}
	again, err := f.client.Deduct(ctx, id, "order-a", 3, pb.Channel_REGULAR)
	if err != nil || again.Reason != pb.Reason_OK || again.Quantity != 3 {
		t.Errorf("repeated deduct = %v, %v; want the first answer", again, err)
	}
	if r := f.row(t, id); r.onHand != 7 {
		t.Errorf("on_hand %d after a duplicate deduct, want 7", r.onHand)
	}

	r1, err := f.client.Restore(ctx, id, "order-a")
	if err != nil || r1.Reason != pb.Reason_OK || r1.Restored != 3 {
		t.Errorf("restore = %v, %v", r1, err)
	}
	r2, err := f.client.Restore(ctx, id, "order-a")
	if err != nil || r2.Reason != pb.Reason_OK || r2.Restored != 0 {
		t.Errorf("second restore = %v, %v; want nothing restored", r2, err)
	}
	if r := f.row(t, id); r.onHand != 10 || r.restored != 3 {
		t.Errorf("after double restore: %+v", r)
	}
	after, _ := f.client.Deduct(ctx, id, "order-a", 3, pb.Channel_REGULAR)
	if after.Reason != pb.Reason_ALREADY_RESTORED {
		t.Errorf("deduct after its restore = %v, want ALREADY_RESTORED", after)
	}

	// Restore before deduct leaves a marker: the late deduct is refused.
	early, err := f.client.Restore(ctx, id, "order-b")
	if err != nil || early.Reason != pb.Reason_OK || early.Restored != 0 {
		t.Errorf("early restore = %v, %v", early, err)
	}
	late, _ := f.client.Deduct(ctx, id, "order-b", 2, pb.Channel_ANY)
	if late.Reason != pb.Reason_ALREADY_RESTORED {
		t.Errorf("late deduct = %v, want ALREADY_RESTORED", late)
	}
	var kind string
	f.store.DB().QueryRow("SELECT kind FROM lot_ledger WHERE lot_id = ? AND order_key = 'order-b'", id).Scan(&kind)
	if kind != lot.Tombstone {
		t.Errorf("ledger kind for order-b = %q, want TOMBSTONE", kind)
	}

	for _, bad := range []*pb.DeductRequest{{OrderKey: "", Quantity: 1}, {OrderKey: "x", Quantity: 0}, {OrderKey: "x", Quantity: -1}, {OrderKey: "주문-1", Quantity: 1}, {OrderKey: "a b", Quantity: 1}} {
		resp, _ := f.client.Deduct(ctx, id, bad.OrderKey, bad.Quantity, pb.Channel_ANY)
		if resp.Reason != pb.Reason_INVALID_ARGUMENT {
			t.Errorf("deduct %v = %v, want INVALID_ARGUMENT", bad, resp)
		}
	}
	missing, err := f.client.Deduct(ctx, 987654, "order-c", 1, pb.Channel_ANY)
	if err != nil || missing.Reason != pb.Reason_LOT_NOT_FOUND {
		t.Errorf("deduct on a missing lot = %v, %v", missing, err)
	}
	f.checkConservation(t, id)
}

// stopGrain passivates the lot's activation wherever it lives, as a node
// leaving or a rebalance would.
func (f *fixture) stopGrain(t *testing.T, id int64) {
	t.Helper()
	for _, m := range f.members {
		if pid := m.Cluster.Get(fmt.Sprint(id), "Lot"); pid != nil {
			m.System.Root.StopFuture(pid).Wait()
			return
		}
	}
	t.Fatal("no activation found")
}

func TestStopMidStreamAndReactivate(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 500, 30*24*time.Hour)
	ctx := ctxT(t)
	var acked atomic.Int64
	var mu sync.Mutex
	var unanswered []string
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				resp, err := f.client.Deduct(ctx, id, key, 1, pb.Channel_ANY)
				if err == nil && resp.Reason == pb.Reason_OK {
					acked.Add(1)
					continue
				}
				mu.Lock()
				unanswered = append(unanswered, key)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(30 * time.Millisecond)
	f.stopGrain(t, id) // mid-stream
	wg.Wait()
	// Every acknowledged deduction is durable; a deduction may be durable
	// without its answer having arrived, but never the other way round.
	r := f.checkConservation(t, id)
	if r.deducted < acked.Load() {
		t.Errorf("deducted %d in MySQL, but %d were acknowledged", r.deducted, acked.Load())
	}
	// A reactivated grain serves what MySQL holds: the same state.
	info, err := f.client.Get(ctx, id)
	if err != nil || info.OnHand != r.onHand || info.Deducted != r.deducted {
		t.Fatalf("after reactivation Get = %v, %v; want %+v", info, err, r)
	}
	// Callers that got no answer retry with the same key; afterwards every
	// deduction is acknowledged exactly once.
	for _, key := range unanswered {
		resp, err := f.client.Deduct(ctx, id, key, 1, pb.Channel_ANY)
		if err != nil || resp.Reason != pb.Reason_OK {
			t.Fatalf("retry %s = %v, %v", key, resp, err)
		}
		acked.Add(1)
	}
	if r := f.checkConservation(t, id); r.deducted != 320 || acked.Load() != 320 {
		t.Errorf("after retries deducted %d, acknowledged %d; want 320 each", r.deducted, acked.Load())
	}
	// Repeated keys change nothing.
	if resp, _ := f.client.Deduct(ctx, id, "w0-0", 1, pb.Channel_ANY); resp.Reason != pb.Reason_OK || f.row(t, id).deducted != 320 {
		t.Errorf("repeated key after reactivation = %v, deducted %d", resp, f.row(t, id).deducted)
	}
}

func TestOnlyOneActivationCanWrite(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 10, 30*24*time.Hour)
	ctx := ctxT(t)
	if resp, err := f.client.Deduct(ctx, id, "first", 1, pb.Channel_ANY); err != nil || resp.Reason != pb.Reason_OK {
		t.Fatalf("first deduct: %v %v", resp, err)
	}
	// A second activation (as in a split brain) claims the lot directly.
	other, _, err := f.store.ClaimLot(ctx, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The first activation's next write is refused, it stops, and the
	// client's retry reaches a fresh activation, which claims again.
	resp, err := f.client.Deduct(ctx, id, "second", 1, pb.Channel_ANY)
	if err != nil || resp.Reason != pb.Reason_OK {
		t.Fatalf("deduct after the takeover = %v, %v", resp, err)
	}
	// The activation claimed as "other" is now stale in turn.
	var seq int64
	f.store.DB().QueryRow("SELECT seq FROM lots WHERE id = ?", id).Scan(&seq)
	stale := lot.Commit{LotID: id, Epoch: other.Version, Seq: seq + 1, PrevSeq: seq, OnHand: 0, Deducted: 10, State: domain.Regular}
	if err := f.store.CommitLot(ctx, stale); err == nil {
		t.Error("a stale activation wrote the lot")
	}
	r := f.checkConservation(t, id)
	if r.deducted != 2 || r.onHand != 8 {
		t.Errorf("lot %+v, want deducted 2, on_hand 8", r)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExpiryTimers(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 20, 72*time.Hour) // regular for 24 h more
	ctx := ctxT(t)
	if resp, _ := f.client.Deduct(ctx, id, "deal-too-early", 1, pb.Channel_DEAL); resp.Reason != pb.Reason_NOT_SELLABLE {
		t.Errorf("deal deduct on a regular lot = %v", resp)
	}
	if resp, _ := f.client.Deduct(ctx, id, "regular", 2, pb.Channel_REGULAR); resp.Reason != pb.Reason_OK || resp.UnitPrice != 10000 {
		t.Errorf("regular deduct = %v", resp)
	}

	// 25 h later the lot is within 48 h of expiry: closing soon, 30 % off.
	f.clock.Advance(25 * time.Hour)
	waitFor(t, "closing soon", func() bool { return f.row(t, id).state == string(domain.ClosingSoon) })
	// The event follows the commit that changed the row: wait for it too.
	waitFor(t, "closing-soon event", func() bool {
		e, ok := f.events.last(id)
		return ok && e.State == domain.ClosingSoon
	})
	if resp, _ := f.client.Deduct(ctx, id, "regular-late", 1, pb.Channel_REGULAR); resp.Reason != pb.Reason_NOT_SELLABLE {
		t.Errorf("regular deduct on a closing-soon lot = %v", resp)
	}
	deal, _ := f.client.Deduct(ctx, id, "deal", 2, pb.Channel_DEAL)
	if deal.Reason != pb.Reason_OK || deal.DiscountPercent != 30 || deal.UnitPrice != 7000 {
		t.Errorf("deal at 47 h = %v, want 30 %% off 10000", deal)
	}
	// 42 h later only 5 h are left: 70 % off, price snapshotted per deduction.
	f.clock.Advance(42 * time.Hour)
	deal2, _ := f.client.Deduct(ctx, id, "deal-2", 1, pb.Channel_DEAL)
	if deal2.DiscountPercent != 70 || deal2.UnitPrice != 3000 {
		t.Errorf("deal at 5 h = %v, want 70 %% off", deal2)
	}
	var snap int64
	f.store.DB().QueryRow("SELECT unit_price FROM lot_ledger WHERE lot_id = ? AND order_key = 'deal'", id).Scan(&snap)
	if snap != 7000 {
		t.Errorf("the first deal's ledger price is %d, want 7000 as sold", snap)
	}

	// At expiry the rest is written off and the grain stops.
	f.clock.Advance(5 * time.Hour)
	waitFor(t, "expired", func() bool { return f.row(t, id).state == string(domain.Expired) })
	r := f.checkConservation(t, id)
	if r.onHand != 0 || r.writtenOff != 15 {
		t.Errorf("expired lot %+v, want on_hand 0, written_off 15", r)
	}
	var value int64
	f.store.DB().QueryRow("SELECT value FROM waste WHERE lot_id = ? AND kind = 'EXPIRY'", id).Scan(&value)
	if value != 15*10000 {
		t.Errorf("waste value %d, want %d", value, 15*10000)
	}
	if resp, _ := f.client.Deduct(ctx, id, "too-late", 1, pb.Channel_ANY); resp.Reason != pb.Reason_LOT_EXPIRED {
		t.Errorf("deduct on an expired lot = %v", resp)
	}
	// A restore after expiry returns the goods as waste, still conserved.
	if resp, _ := f.client.Restore(ctx, id, "deal"); resp.Reason != pb.Reason_OK || resp.Restored != 2 {
		t.Errorf("restore after expiry = %v", resp)
	}
	r = f.checkConservation(t, id)
	if r.writtenOff != 17 || r.onHand != 0 {
		t.Errorf("after late restore %+v, want written_off 17", r)
	}
}

func TestFreshnessGuarantee(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	p, err := f.store.CreateProduct(ctx, domain.Product{SKU: "FISH", Name: "고등어", Category: "Seafood", Price: 9000, MinShelfLife: 96 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.store.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: f.wh.ID, ExpiresAt: t0.Add(72 * time.Hour), Received: 5}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.client.Deduct(ctx, l.ID, "fresh", 1, pb.Channel_REGULAR); resp.Reason != pb.Reason_NOT_SELLABLE {
		t.Errorf("regular sale below the freshness guarantee = %v", resp)
	}
}

// A repeat older than the ledger an activation loads is answered from
// MySQL, as if the whole ledger were in memory: the deduction is not taken
// again, a restored key stays restored, a live hold (loaded whatever its
// age) can be committed, and new keys still take stock.
func TestRepeatOlderThanTheLoadedLedger(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 100, 30*24*time.Hour)
	ctx := ctxT(t)
	orderKey := func(at time.Time, n int) string { return fmt.Sprintf("o%x%010x-p1", at.UnixMilli(), n) }
	old := orderKey(t0.Add(-2*time.Hour), 1)
	mustOK := func(what string, reason pb.Reason, err error) {
		t.Helper()
		if err != nil || reason != pb.Reason_OK {
			t.Fatalf("%s: %v, %v", what, reason, err)
		}
	}
	d, err := f.client.Deduct(ctx, id, "old-deducted", 3, pb.Channel_ANY)
	mustOK("deduct", d.GetReason(), err)
	d, err = f.client.Deduct(ctx, id, "old-restored", 4, pb.Channel_ANY)
	mustOK("deduct", d.GetReason(), err)
	r, err := f.client.Restore(ctx, id, "old-restored")
	mustOK("restore", r.GetReason(), err)
	d, err = f.client.Deduct(ctx, id, old, 2, pb.Channel_ANY)
	mustOK("deduct", d.GetReason(), err)
	h, err := f.client.Reserve(ctx, id, "old-held", 1, pb.Channel_ANY, t0.Add(30*time.Minute))
	mustOK("reserve", h.GetReason(), err)

	// Age the lot and its ledger past the window (an hour before the
	// clock), and reactivate.
	db := f.store.DB()
	if _, err := db.Exec("UPDATE lot_ledger SET created_at = ?, updated_at = ? WHERE lot_id = ?", t0.Add(-2*time.Hour), t0.Add(-2*time.Hour), id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE lots SET created_at = ? WHERE id = ?", t0.Add(-72*time.Hour), id); err != nil {
		t.Fatal(err)
	}
	f.stopGrain(t, id)
	st, loaded, err := f.store.ClaimLot(ctx, id, lot.DefaultLedgerWindow)
	if err != nil || st.LedgerFrom.IsZero() || len(loaded) != 1 || loaded[0].Key != "old-held" {
		t.Fatalf("an activation now loads %+v (ledger from %s), %v; want only the live hold", loaded, st.LedgerFrom, err)
	}
	before := f.row(t, id)

	d, err = f.client.Deduct(ctx, id, "old-deducted", 3, pb.Channel_ANY)
	if err != nil || d.Reason != pb.Reason_OK || d.Quantity != 3 || d.UnitPrice != 10000 {
		t.Errorf("repeated old deduction = %v, %v; want OK for 3 at 10000", d, err)
	}
	d, err = f.client.Deduct(ctx, id, old, 2, pb.Channel_ANY)
	if err != nil || d.Reason != pb.Reason_OK || d.Quantity != 2 {
		t.Errorf("repeated old order's deduction = %v, %v; want OK for 2", d, err)
	}
	d, err = f.client.Deduct(ctx, id, "old-restored", 4, pb.Channel_ANY)
	if err != nil || d.Reason != pb.Reason_ALREADY_RESTORED {
		t.Errorf("deduct of an old restored key = %v, %v; want ALREADY_RESTORED", d, err)
	}
	if after := f.row(t, id); after != before {
		t.Fatalf("repeats changed the lot: %+v, was %+v", after, before)
	}
	c, err := f.client.Commit(ctx, id, "old-held")
	if err != nil || c.Reason != pb.Reason_OK || c.Quantity != 1 {
		t.Errorf("commit of an old hold = %v, %v", c, err)
	}
	// An old deduction is restored once; its repeat gives back nothing.
	for i, want := range []int64{3, 0} {
		r, err := f.client.Restore(ctx, id, "old-deducted")
		if err != nil || r.Reason != pb.Reason_OK || r.Restored != want {
			t.Errorf("restore %d of an old deduction = %v, %v; want %d back", i, r, err, want)
		}
	}
	// New keys, one that must be asked about and one whose order is
	// younger than the window, take stock.
	for _, key := range []string{"new-key", orderKey(t0, 2)} {
		d, err := f.client.Deduct(ctx, id, key, 5, pb.Channel_ANY)
		if err != nil || d.Reason != pb.Reason_OK || d.Quantity != 5 {
			t.Errorf("deduct %s = %v, %v", key, d, err)
		}
	}
	got := f.checkConservation(t, id)
	// 100 - 3 - 2 - 1 (committed hold) + 3 (restored) - 10 (new keys).
	if got.onHand != 87 || got.held != 0 || got.deducted != 4+3+2+1+10 || got.restored != 4+3 {
		t.Errorf("lot %+v", got)
	}
}

// The grains' clock ten days ahead of MySQL's (as in a simulation): the
// loaded window is MySQL's last hour, so an order dated by the grains'
// clock and repeated after a reactivation is still a repeat.
func TestRepeatWhenTheClockIsAheadOfMySQL(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 100, 30*24*time.Hour)
	ctx := ctxT(t)
	f.clock.Advance(time.Since(t0) + 10*24*time.Hour)
	key := fmt.Sprintf("o%x%010x-p1", f.clock.Now().UnixMilli(), 7)
	for i := range 2 {
		d, err := f.client.Deduct(ctx, id, key, 4, pb.Channel_ANY)
		if err != nil || d.Reason != pb.Reason_OK || d.Quantity != 4 {
			t.Fatalf("deduct %d = %v, %v", i, d, err)
		}
		f.stopGrain(t, id)
	}
	if r := f.checkConservation(t, id); r.deducted != 4 || r.onHand != 96 {
		t.Errorf("lot %+v, want 4 deducted once", r)
	}
}

// gatedStore holds the first commit at its gate.
type gatedStore struct {
	lot.Store
	gate *membertest.Gate
}

func (s *gatedStore) CommitLot(ctx context.Context, c lot.Commit) error {
	if err := s.gate.Pass(ctx); err != nil {
		return err
	}
	return s.Store.CommitLot(ctx, c)
}

// The cluster stops a grain (a rebalance, a node leaving) while a request
// waits for its commit: the request is answered then, and its caller's
// retry reaches the next activation, well within one attempt's time (2 s);
// the commit that lands late changes nothing twice.
func TestAStoppedGrainAnswersWhatWaitsForItsCommit(t *testing.T) {
	gate := membertest.NewGate(t)
	f := newFixtureWith(t, func(d *lot.Deps) { d.Store = &gatedStore{Store: d.Store, gate: gate} })
	id := f.newLot(t, 10, 30*24*time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	type answer struct {
		resp *pb.DeductResponse
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := f.client.Deduct(ctx, id, "held-up", 2, pb.Channel_ANY)
		done <- answer{resp, err}
	}()
	select {
	case <-gate.Entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the deduction's commit never started")
	}
	f.stopGrain(t, id)
	a := <-done
	if a.err != nil || a.resp.Reason != pb.Reason_OK {
		t.Fatalf("deduction waiting when its grain stopped = %v, %v; want OK from the next activation within the second", a.resp, a.err)
	}
	gate.Open()
	// The first activation's commit, released now, is refused (its epoch
	// is gone) or, had it landed, answered by the repeat: once either way.
	time.Sleep(200 * time.Millisecond)
	if r := f.checkConservation(t, id); r.deducted != 2 || r.onHand != 8 {
		t.Errorf("after the late commit: %+v; want 2 deducted, 8 on hand", r)
	}
	resp, err := f.client.Deduct(ctxT(t), id, "held-up", 2, pb.Channel_ANY)
	if err != nil || resp.Reason != pb.Reason_OK || f.row(t, id).deducted != 2 {
		t.Errorf("repeat = %v, %v; deducted %d", resp, err, f.row(t, id).deducted)
	}
}
