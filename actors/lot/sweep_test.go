package lot_test

import (
	"context"
	"sync"
	"testing"
	"time"

	pb "shelflife/actors/inventorypb"
	"shelflife/domain"
)

// wasteRows counts the write-off rows of lot id.
func (f *fixture) wasteRows(t *testing.T, id int64) int {
	t.Helper()
	var n int
	if err := f.store.DB().QueryRow("SELECT COUNT(*) FROM waste WHERE lot_id = ?", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The sweep's set-based path moves lots no grain holds, as their timers
// would have: closing soon at 48 h, expired at expiry with everything
// left (held units included) written off, their holds lapsed and refused,
// each lot once however often it runs.
func TestSweepMovesLotsWithoutGrains(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	closing := f.newLot(t, 5, 60*time.Hour)  // 48 h mark in 12 h
	expiring := f.newLot(t, 7, 10*time.Hour) // closing soon, expires in 10 h
	overdue := f.newLot(t, 3, 49*time.Hour)  // regular, expires in 49 h: both moments pass
	later := f.newLot(t, 4, 30*24*time.Hour) // not due
	held := f.newLot(t, 10, 11*time.Hour)    // expires with a hold on it
	if r, err := f.client.Reserve(ctx, held, "h1", 4, pb.Channel_DEAL, f.clock.Now().Add(time.Hour)); err != nil || r.Reason != pb.Reason_OK {
		t.Fatalf("reserve = %v, %v", r, err)
	}
	if r, err := f.client.Deduct(ctx, held, "d1", 1, pb.Channel_DEAL); err != nil || r.Reason != pb.Reason_OK {
		t.Fatalf("deduct = %v, %v", r, err)
	}
	if !f.active.Has(held) {
		t.Error("the active lots do not list a lot with a grain")
	}
	f.stopGrain(t, held)
	waitFor(t, "the stopped grain to leave the active lots", func() bool { return !f.active.Has(held) })

	// 50 h later: no grain runs a timer, the sweep finds the lots due.
	now := f.clock.Now().Add(50 * time.Hour)
	due, err := f.store.DueLots(ctx, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Soonest moment first: expiring (10 h), held (11 h), overdue (48 h
	// mark at 1 h), closing (48 h mark at 12 h); the not-due lot is absent.
	want := []int64{overdue, expiring, held, closing}
	if len(due) != len(want) {
		t.Fatalf("due lots %v, want %v", due, want)
	}
	for i := range want {
		if due[i] != want[i] {
			t.Fatalf("due lots %v, want %v", due, want)
		}
	}
	if short, _ := f.store.DueLots(ctx, now, 2); len(short) != 2 || short[0] != overdue {
		t.Errorf("due lots limited to 2: %v", short)
	}

	events, err := f.store.AdvanceLots(ctx, append(due, later), now, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 4 {
		t.Fatalf("moved %d lots, want 4: %+v", len(events), events)
	}
	states := map[int64]domain.LotEvent{}
	for _, e := range events {
		states[e.LotID] = e
	}
	for id, want := range map[int64]domain.LotState{closing: domain.ClosingSoon, expiring: domain.Expired, overdue: domain.Expired, held: domain.Expired} {
		r := f.checkConservation(t, id)
		if r.state != string(want) || states[id].State != want {
			t.Errorf("lot %d: row %s, event %s; want %s", id, r.state, states[id].State, want)
		}
		if e := states[id]; e.OnHand != r.onHand || e.WrittenOff != r.writtenOff || e.Held != r.held || !e.At.Equal(now) {
			t.Errorf("lot %d: event %+v does not match the row %+v", id, e, r)
		}
	}
	if r := f.row(t, held); r.writtenOff != 9 || r.held != 0 || r.deducted != 1 {
		t.Errorf("expired lot with a hold %+v, want 9 written off (5 free + 4 held), 1 sold", r)
	}
	var value int64
	f.store.DB().QueryRow("SELECT value FROM waste WHERE lot_id = ?", expiring).Scan(&value)
	if value != 7*int64(f.product.Price) {
		t.Errorf("write-off value %d, want %d", value, 7*int64(f.product.Price))
	}
	if r := f.row(t, later); r.state != string(domain.Regular) {
		t.Errorf("a lot not due moved to %s", r.state)
	}

	// Running again moves nothing and writes nothing.
	again, err := f.store.AdvanceLots(ctx, append(due, later), now, false)
	if err != nil || len(again) != 0 {
		t.Errorf("second run moved %d lots (%v)", len(again), err)
	}
	for _, id := range []int64{expiring, overdue, held} {
		if n := f.wasteRows(t, id); n != 1 {
			t.Errorf("lot %d has %d write-off rows, want 1", id, n)
		}
	}

	// The hold's commit is refused by the lot's next activation, and the
	// deduction made before stays sold.
	f.clock.Advance(50 * time.Hour)
	if c, err := f.client.Commit(ctx, held, "h1"); err != nil || c.Reason != pb.Reason_LOT_EXPIRED {
		t.Errorf("commit of a hold on a swept lot = %v, %v; want LOT_EXPIRED", c, err)
	}
	if c, err := f.client.Get(ctx, closing); err != nil || c.State != string(domain.ClosingSoon) {
		t.Errorf("swept closing-soon lot served as %v, %v", c, err)
	}
}

// A closing-soon move also gives back the holds whose deadline passed
// while no grain ran, and keeps the live ones.
func TestSweepLapsesHoldsPastTheirDeadline(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.newLot(t, 10, 50*time.Hour) // 48 h mark in 2 h
	now := f.clock.Now()
	for _, h := range []struct {
		key   string
		qty   int64
		until time.Duration
	}{{"short", 2, time.Hour}, {"long", 3, 5 * time.Hour}} {
		if r, err := f.client.Reserve(ctx, id, h.key, h.qty, pb.Channel_ANY, now.Add(h.until)); err != nil || r.Reason != pb.Reason_OK {
			t.Fatalf("reserve %s = %v, %v", h.key, r, err)
		}
	}
	f.stopGrain(t, id)
	events, err := f.store.AdvanceLots(ctx, []int64{id}, now.Add(3*time.Hour), false)
	if err != nil || len(events) != 1 {
		t.Fatalf("advance = %v, %v", events, err)
	}
	r := f.checkConservation(t, id)
	if r.state != string(domain.ClosingSoon) || r.held != 3 || r.onHand != 7 {
		t.Errorf("lot %+v, want closing soon with 3 held and 7 free", r)
	}
	f.clock.Advance(3 * time.Hour)
	if c, err := f.client.Commit(ctx, id, "short"); err != nil || c.Reason != pb.Reason_HOLD_EXPIRED {
		t.Errorf("commit of the lapsed hold = %v, %v", c, err)
	}
	if c, err := f.client.Commit(ctx, id, "long"); err != nil || c.Reason != pb.Reason_OK || c.Quantity != 3 {
		t.Errorf("commit of the live hold = %v, %v", c, err)
	}
	f.checkConservation(t, id)
}

// Under the adaptive markdown a lot the sweep moves to closing soon is due
// for its first evaluation at once (its grain makes it, woken by the
// sweep); under the ladder it has none.
func TestSweepMarksClosingLotsForTheirMarkdown(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	ladder := f.newLot(t, 5, 60*time.Hour)
	adaptive := f.newLot(t, 5, 60*time.Hour)
	now := f.clock.Now().Add(13 * time.Hour)
	for _, c := range []struct {
		id       int64
		evaluate bool
	}{{ladder, false}, {adaptive, true}} {
		if events, err := f.store.AdvanceLots(ctx, []int64{c.id}, now, c.evaluate); err != nil || len(events) != 1 {
			t.Fatalf("advance = %v, %v", events, err)
		}
	}
	due, err := f.store.MarkdownDueLots(ctx, now, 10)
	if err != nil || len(due) != 1 || due[0] != adaptive {
		t.Errorf("lots due for a markdown evaluation %v (%v), want only %d", due, err, adaptive)
	}
}

// A lot whose grain is active and whose row the sweep moves anyway (as a
// sweep on another node does): the grain's next write is fenced out, the
// caller's retry reaches a fresh activation, and the hold is refused.
func TestSweptLotFencesItsActiveGrain(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.newLot(t, 10, 20*time.Hour)
	if r, err := f.client.Reserve(ctx, id, "h1", 3, pb.Channel_DEAL, f.clock.Now().Add(time.Hour)); err != nil || r.Reason != pb.Reason_OK {
		t.Fatalf("reserve = %v, %v", r, err)
	}
	// The row is moved while the grain's clock has not reached the moment.
	if events, err := f.store.AdvanceLots(ctx, []int64{id}, f.clock.Now().Add(21*time.Hour), false); err != nil || len(events) != 1 {
		t.Fatalf("advance = %v, %v", events, err)
	}
	f.clock.Advance(21 * time.Hour)
	if c, err := f.client.Commit(ctx, id, "h1"); err != nil || c.Reason != pb.Reason_LOT_EXPIRED {
		t.Errorf("commit after the sweep = %v, %v; want LOT_EXPIRED", c, err)
	}
	if r := f.checkConservation(t, id); r.writtenOff != 10 || f.wasteRows(t, id) != 1 {
		t.Errorf("lot %+v with %d write-off rows, want 10 written off once", r, f.wasteRows(t, id))
	}
}

// Sweeps racing each other and the grains' own timers move each lot once:
// one write-off row per lot, conservation everywhere.
func TestSweepsAndTimersRaceToOneWriteOff(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	var ids []int64
	for i := range 30 {
		id := f.newLot(t, int64(5+i), 10*time.Hour)
		ids = append(ids, id)
		if i%2 == 0 { // half have a grain, with a hold, whose timer fires
			if r, err := f.client.Reserve(ctx, id, "h", 2, pb.Channel_DEAL, f.clock.Now().Add(time.Hour)); err != nil || r.Reason != pb.Reason_OK {
				t.Fatalf("reserve = %v, %v", r, err)
			}
		}
	}
	now := t0.Add(10 * time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	moved := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			events, err := f.store.AdvanceLots(context.Background(), ids, now, false)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			moved += len(events)
			mu.Unlock()
		}()
	}
	f.clock.Advance(10 * time.Hour) // the grains' timers, at the same time
	wg.Wait()
	for _, id := range ids {
		waitFor(t, "expired", func() bool { return f.row(t, id).state == string(domain.Expired) })
	}
	if moved > len(ids) {
		t.Errorf("the sweeps moved %d lots of %d", moved, len(ids))
	}
	for i, id := range ids {
		waitFor(t, "one write-off row", func() bool { return f.wasteRows(t, id) >= 1 })
		r := f.checkConservation(t, id)
		if n := f.wasteRows(t, id); n != 1 || r.writtenOff != int64(5+i) {
			t.Errorf("lot %d: %d write-off rows, %d written off; want 1 row of %d", id, n, r.writtenOff, 5+i)
		}
		if i%2 == 0 {
			if c, err := f.client.Commit(ctx, id, "h"); err != nil || c.Reason != pb.Reason_LOT_EXPIRED {
				t.Errorf("commit of a hold on lot %d = %v, %v", id, c, err)
			}
		}
	}
}
