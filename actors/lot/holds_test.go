package lot_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "shelflife/actors/inventorypb"
	"shelflife/domain"
)

// A hold ends by the lot's own timer: no sweep, no request.
func TestHoldExpiresByTheLotsTimer(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 10, 30*24*time.Hour)
	ctx := ctxT(t)
	r, err := f.client.Reserve(ctx, id, "o1", 4, pb.Channel_REGULAR, f.clock.Now().Add(15*time.Minute))
	if err != nil || r.Reason != pb.Reason_OK || r.OnHand != 6 {
		t.Fatalf("reserve = %v, %v; want OK with 6 free", r, err)
	}
	if got := f.checkConservation(t, id); got.held != 4 || got.onHand != 6 {
		t.Fatalf("after reserve %+v, want 4 held, 6 free", got)
	}
	if e, ok := f.events.last(id); !ok || e.OnHand != 6 || e.Held != 4 {
		t.Errorf("event after reserve %+v, want on_hand 6 held 4", e)
	}
	f.clock.Advance(15 * time.Minute)
	waitFor(t, "the hold to lapse", func() bool { return f.row(t, id).held == 0 })
	if got := f.checkConservation(t, id); got.onHand != 10 {
		t.Errorf("after the deadline %+v, want all 10 free", got)
	}
	if c, err := f.client.Commit(ctx, id, "o1"); err != nil || c.Reason != pb.Reason_HOLD_EXPIRED {
		t.Errorf("commit after the deadline = %v, %v; want HOLD_EXPIRED", c, err)
	}
	var kind string
	f.store.DB().QueryRow("SELECT kind FROM lot_ledger WHERE lot_id = ? AND order_key = 'o1'", id).Scan(&kind)
	if kind != "LAPSED" {
		t.Errorf("ledger kind %q, want LAPSED", kind)
	}
}

// Holds are durable: a new activation keeps the live ones, and one that
// starts after a deadline releases that hold.
func TestHoldsSurviveReactivation(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 10, 30*24*time.Hour)
	ctx := ctxT(t)
	now := f.clock.Now()
	for _, h := range []struct {
		key   string
		qty   int64
		until time.Duration
	}{{"short", 2, 5 * time.Minute}, {"long", 3, time.Hour}} {
		if r, err := f.client.Reserve(ctx, id, h.key, h.qty, pb.Channel_ANY, now.Add(h.until)); err != nil || r.Reason != pb.Reason_OK {
			t.Fatalf("reserve %s = %v, %v", h.key, r, err)
		}
	}
	f.stopGrain(t, id)
	// The grain is gone, so no timer fires; the next activation finds the
	// short hold past its deadline.
	f.clock.Advance(10 * time.Minute)
	if c, err := f.client.Commit(ctx, id, "long"); err != nil || c.Reason != pb.Reason_OK || c.Quantity != 3 {
		t.Fatalf("commit of the live hold = %v, %v", c, err)
	}
	if c, err := f.client.Commit(ctx, id, "short"); err != nil || c.Reason != pb.Reason_HOLD_EXPIRED {
		t.Fatalf("commit of the lapsed hold = %v, %v", c, err)
	}
	got := f.checkConservation(t, id)
	if got.onHand != 7 || got.held != 0 || got.deducted != 3 {
		t.Errorf("after reactivation %+v, want 7 free, 3 deducted", got)
	}
}

// A lot that expires with holds on it writes them off with the rest and
// refuses their commits: no money is taken for goods thrown away.
func TestLotExpiryWithHolds(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 10, 47*time.Hour) // closing soon
	ctx := ctxT(t)
	if r, err := f.client.Reserve(ctx, id, "d1", 3, pb.Channel_DEAL, f.clock.Now().Add(48*time.Hour)); err != nil || r.Reason != pb.Reason_OK {
		t.Fatalf("reserve = %v, %v", r, err)
	} else if got, want := r.HoldUntilUnixMs, f.clock.Now().Add(47*time.Hour).UnixMilli(); got != want {
		t.Errorf("hold until %d, want the lot's expiry %d", got, want)
	}
	f.clock.Advance(47 * time.Hour)
	waitFor(t, "expired", func() bool { return f.row(t, id).state == string(domain.Expired) })
	got := f.checkConservation(t, id)
	if got.held != 0 || got.writtenOff != 10 {
		t.Errorf("expired lot %+v, want nothing held, 10 written off", got)
	}
	if c, err := f.client.Commit(ctx, id, "d1"); err != nil || c.Reason != pb.Reason_LOT_EXPIRED {
		t.Errorf("commit after lot expiry = %v, %v; want LOT_EXPIRED", c, err)
	}
}

// Many shoppers on a few units: exactly the units are held, the rest are
// refused at once, and releases make units available again.
func TestConcurrentReservesNeverOverhold(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 18, 30*24*time.Hour)
	ctx := ctxT(t)
	until := f.clock.Now().Add(15 * time.Minute)
	var held, soldOut atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.client.Reserve(ctx, id, fmt.Sprintf("s%d", i), 1, pb.Channel_REGULAR, until)
			switch {
			case err != nil:
				t.Errorf("reserve s%d: %v", i, err)
			case r.Reason == pb.Reason_OK:
				held.Add(1)
			case r.Reason == pb.Reason_INSUFFICIENT_STOCK:
				soldOut.Add(1)
			default:
				t.Errorf("reserve s%d = %v", i, r)
			}
		}()
	}
	wg.Wait()
	if held.Load() != 18 || soldOut.Load() != 42 {
		t.Fatalf("held %d refused %d, want 18 and 42", held.Load(), soldOut.Load())
	}
	if got := f.checkConservation(t, id); got.held != 18 || got.onHand != 0 {
		t.Fatalf("after the rush %+v", got)
	}
}
