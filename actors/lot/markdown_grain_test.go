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
