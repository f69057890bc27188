package lot_test

import (
	"testing"
	"time"

	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot"
	"shelflife/domain"
)

// An adaptive lot that has sold nothing prices by the product's rate, read
// when it evaluates; the markdown in force is in Get, in the deal's ledger
// row, on the lot row and in the event.
func TestAdaptiveLotGrainPricesByTheProductRate(t *testing.T) {
	f := newFixtureWith(t, func(d *lot.Deps) {
		d.Markdown = lot.Markdown{Mode: domain.AdaptiveMarkdown}
		d.Rates = d.Store.(lot.ProductRates)
	})
	ctx := ctxT(t)
	// Another lot of the product sold 0.25 list units an hour lately.
	other := f.newLot(t, 10, 10*24*time.Hour)
	if _, err := f.store.DB().Exec("UPDATE lots SET sell_rate_per_hour = 0.25, sell_rate_at = ? WHERE id = ?", t0, other); err != nil {
		t.Fatal(err)
	}
	// 30 units, 40 h left: 0.75/h needed; 30 % off sells 0.51/h, 40 %
	// 0.69/h, 50 % 1/h.
	id := f.newLot(t, 30, 40*time.Hour)
	info, err := f.client.Get(ctx, id)
	if err != nil || info.GetReason() != pb.Reason_OK {
		t.Fatalf("get: %v %v", info, err)
	}
	if info.GetDiscountPercent() != 50 {
		t.Errorf("Get discount %d, want 50", info.GetDiscountPercent())
	}
	d, err := f.client.Deduct(ctx, id, "deal-1", 2, pb.Channel_DEAL)
	if err != nil || d.GetReason() != pb.Reason_OK || d.GetDiscountPercent() != 50 || d.GetUnitPrice() != 5000 {
		t.Fatalf("deal: %+v %v", d, err)
	}
	var pct int
	var due time.Time
	if err := f.store.DB().QueryRow("SELECT markdown_percent, markdown_due_at FROM lots WHERE id = ?", id).Scan(&pct, &due); err != nil {
		t.Fatal(err)
	}
	if pct != 50 || !due.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("lot row: %d %% due %s, want 50 %% due in 30 min", pct, due)
	}
	if e, ok := f.events.last(id); !ok || e.DiscountPercent != 50 {
		t.Errorf("event %+v, want 50 %% off", e)
	}
	// The timer re-evaluates: 16 h on, the next evaluation is due half an
	// hour after that, and the markdown is never below the ladder's 50 %.
	f.clock.Advance(16 * time.Hour)
	waitFor(t, "the evaluation 16 h on", func() bool {
		err := f.store.DB().QueryRow("SELECT markdown_percent, markdown_due_at FROM lots WHERE id = ?", id).Scan(&pct, &due)
		return err == nil && due.Equal(t0.Add(16*time.Hour+30*time.Minute))
	})
	if pct < 50 {
		t.Errorf("markdown %d %% at 24 h left, below the ladder's 50", pct)
	}
}

// Two closing-soon lots of one product in one warehouse, the younger with
// far more stock: each grain reads its sibling's row when it evaluates, and
// at no evaluation is the younger lot as deep as the older one; within one
// more evaluation both are at the joint plan's markdowns.
func TestAdaptiveSiblingsArePricedJointly(t *testing.T) {
	f := newFixtureWith(t, func(d *lot.Deps) {
		d.Markdown = lot.Markdown{Mode: domain.AdaptiveMarkdown}
		d.Rates = d.Store.(lot.ProductRates)
		d.Siblings = d.Store.(lot.Siblings)
	})
	ctx := ctxT(t)
	old := f.newLot(t, 10, 20*time.Hour)
	young := f.newLot(t, 200, 40*time.Hour)
	// Each sold 0.5 list units an hour lately: the product sells 1/h here.
	if _, err := f.store.DB().Exec("UPDATE lots SET sell_rate_per_hour = 0.5, sell_rate_at = ?", t0); err != nil {
		t.Fatal(err)
	}
	markdown := func(id int64) (int, time.Time) {
		var pct int
		var due time.Time
		if err := f.store.DB().QueryRow("SELECT markdown_percent, markdown_due_at FROM lots WHERE id = ?", id).Scan(&pct, &due); err != nil {
			return -1, time.Time{}
		}
		return pct, due
	}
	evaluated := func(id int64, at time.Time) func() bool {
		return func() bool { _, due := markdown(id); return due.Equal(at.Add(30 * time.Minute)) }
	}
	discount := func(id int64) int32 {
		info, err := f.client.Get(ctx, id)
		if err != nil || info.GetReason() != pb.Reason_OK {
			t.Fatalf("get %d: %v %v", id, info, err)
		}
		return info.GetDiscountPercent()
	}
	// The younger lot evaluates first: the plan is 60 % for it (210 units
	// in 40 h need 5.25/h; 60 % off sells 6.25/h) and a step more, 70 %,
	// for the older lot, which is due to evaluate too and so counts at
	// its plan.
	if y := discount(young); y != 60 {
		t.Errorf("younger lot first: %d %%, want 60", y)
	}
	waitFor(t, "the younger lot's evaluation", evaluated(young, t0))
	if o := discount(old); o != 70 {
		t.Errorf("older lot: %d %%, want 70", o)
	}
	waitFor(t, "the older lot's evaluation", evaluated(old, t0))
	// Both timers fire half an hour on; the younger lot catches up.
	f.clock.Advance(30 * time.Minute)
	at := t0.Add(30 * time.Minute)
	waitFor(t, "the next evaluations", func() bool { return evaluated(young, at)() && evaluated(old, at)() })
	y, _ := markdown(young)
	o, _ := markdown(old)
	if y != 60 || o != 70 {
		t.Errorf("after the next evaluations: younger %d %%, older %d %%, want 60 and 70", y, o)
	}
	if gy, go_ := discount(young), discount(old); gy >= go_ {
		t.Errorf("in force: younger %d %%, older %d %%", gy, go_)
	}
}
