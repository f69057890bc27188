package inventory

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"shelflife/clock"
	"shelflife/domain"
)

type sale struct {
	lot   int64
	units int64
	at    time.Time
}

// fakeRisk keeps lots and their deductions in memory and answers as the
// MySQL store does, at whatever now it is asked.
type fakeRisk struct {
	lots  []RiskLot
	sales []sale
}

func (f *fakeRisk) RiskLots(_ context.Context, now, until time.Time, warehouseID int64) ([]RiskLot, error) {
	var out []RiskLot
	for _, l := range f.lots {
		if l.ExpiresAt.After(now) && !l.ExpiresAt.After(until) && l.OnHand > 0 && (warehouseID == 0 || l.WarehouseID == warehouseID) {
			l.State = domain.StateAt(l.ExpiresAt, now)
			out = append(out, l)
		}
	}
	return out, nil
}

func (f *fakeRisk) RecentSales(_ context.Context, since, now, until time.Time, step time.Duration) ([]SalesSlice, error) {
	byLot := map[int64]RiskLot{}
	for _, l := range f.lots {
		byLot[l.ID] = l
	}
	sums := map[[2]int64]int64{}
	for _, s := range f.sales {
		if l := byLot[s.lot]; s.at.Before(since) || !s.at.Before(now) || !l.ExpiresAt.After(now) || l.ExpiresAt.After(until) {
			continue
		}
		sums[[2]int64{s.lot, int64(now.Sub(s.at) / step)}] += s.units
	}
	var out []SalesSlice
	for k, units := range sums {
		l := byLot[k[0]]
		out = append(out, SalesSlice{LotID: l.ID, ProductID: l.ProductID, WarehouseID: l.WarehouseID, Ago: time.Duration(k[1]) * step, Units: units})
	}
	return out, nil
}

// exactRate is the rate the sales of lot in [now-domain.RiskRateWindow, now) give at
// their exact times, which the list's time slices approximate.
func exactRate(sales []sale, lot int64, now time.Time) float64 {
	var r domain.SellRate
	for _, s := range sales {
		if s.lot == lot && !s.at.Before(now.Add(-domain.RiskRateWindow)) && s.at.Before(now) {
			r = r.Observe(int(s.units), s.at, domain.DefaultRateHalfLife)
		}
	}
	return r.Rate(now, domain.DefaultRateHalfLife)
}

const month = 31 * 24 * time.Hour

type wantRisk struct {
	lot    int64
	action domain.RiskAction
	source string
	unsold float64
}

// The at-risk list follows the clock: a lot selling steadily is left out,
// an idle deal lot takes its product's rate across warehouses, and regular
// stock that stops selling comes onto the list as its rate fades, moved to
// the deals early only within 72 h of expiry.
func TestAtRiskOnAFakeClock(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	const apple, beef, salt = 1, 2, 3
	store := &fakeRisk{lots: []RiskLot{
		{ID: 11, ProductID: apple, WarehouseID: 1, ExpiresAt: t0.Add(20 * time.Hour), OnHand: 20, Price: 1000},   // deal, selling
		{ID: 12, ProductID: apple, WarehouseID: 2, ExpiresAt: t0.Add(10 * time.Hour), OnHand: 10, Price: 1000},   // deal, idle
		{ID: 21, ProductID: beef, WarehouseID: 1, ExpiresAt: t0.Add(80 * time.Hour), OnHand: 30, Price: 5000},    // regular, first out
		{ID: 22, ProductID: beef, WarehouseID: 1, ExpiresAt: t0.Add(150 * time.Hour), OnHand: 50, Price: 5000},   // regular, behind it
		{ID: 31, ProductID: salt, WarehouseID: 2, ExpiresAt: t0.Add(30 * 24 * time.Hour), OnHand: 3, Price: 100}, // never sold anywhere
	}}
	for at := t0.Add(-12 * time.Hour); at.Before(t0); at = at.Add(30 * time.Minute) {
		store.sales = append(store.sales, sale{11, 1, at}) // 2 an hour for 12 h
	}
	for at := t0.Add(-30 * time.Hour); at.Before(t0); at = at.Add(time.Hour) {
		store.sales = append(store.sales, sale{21, 1, at}) // 1 an hour, and older rows the window leaves out
	}
	svc := &Service{Risk: store, Now: clk.Now}

	list, err := svc.AtRisk(context.Background(), 0, month)
	if err != nil {
		t.Fatal(err)
	}
	got := list.Lots
	if list.Weighed != 5 || !list.At.Equal(t0) {
		t.Errorf("weighed %d lots at %s, want 5 at %s", list.Weighed, list.At, t0)
	}
	// Lot 11 sells about 1.45 an hour, so its 20 units go in its 20 h;
	// lot 12 gets half the product's rate (two warehouses hold apples) and
	// leaves about 10 - 0.72 x 10. Beef sells a unit an hour, plenty for
	// both lots. Salt never sold: all 3 units are expected left, but 30 days
	// out nothing is to be done yet.
	apples := exactRate(store.sales, 11, t0)
	if apples < 1.4 || apples > 1.5 {
		t.Fatalf("exact rate of lot 11 = %.3f, want about 1.45", apples)
	}
	check(t, "at t0", got, []wantRisk{
		{12, domain.MarkDownNow, "product", 10 - apples/2*10},
		{31, domain.NoAction, "none", 3},
	})
	if r := got[0].RatePerHour; math.Abs(r-apples/2) > 0.02 {
		t.Errorf("lot 12's rate = %.3f an hour, want %.3f", r, apples/2)
	}
	if want := domain.KRW(got[0].ExpectedUnsold * 1000); got[0].ValueAtRisk != want || got[0].UnitPrice != 1000 {
		t.Errorf("lot 12's value at risk = %d at %d, want %d at 1000", got[0].ValueAtRisk, got[0].UnitPrice, want)
	}

	// 12 hours later with no sale: lot 12 has expired; what sold in the
	// last 24 h fades. Lot 11 (8 h left) is marked down; beef's first lot
	// (68 h left) cannot sell its 30 and is moved to the deals early; the
	// lot behind it is worth more at risk, but 138 h out it is too early.
	clk.Advance(12 * time.Hour)
	now := clk.Now()
	apples, beefRate := exactRate(store.sales, 11, now), exactRate(store.sales, 21, now)
	list, err = svc.AtRisk(context.Background(), 0, month)
	if err != nil {
		t.Fatal(err)
	}
	got = list.Lots
	check(t, "12 h later", got, []wantRisk{
		{22, domain.NoAction, "warehouse", 50},
		{21, domain.MoveToDealsEarly, "warehouse", 30 - beefRate*68},
		{11, domain.MarkDownNow, "lot", 20 - apples*8},
		{31, domain.NoAction, "none", 3},
	})

	// One warehouse's list keeps its lots only.
	list, err = svc.AtRisk(context.Background(), 2, month)
	if err != nil {
		t.Fatal(err)
	}
	if got = list.Lots; list.Weighed != 1 || len(got) != 1 || got[0].LotID != 31 {
		t.Errorf("warehouse 2: weighed %d, listed %+v; want lot 31 alone", list.Weighed, got)
	}

	// A day and a half on, beef has sold nothing for over 24 h: no rate.
	clk.Advance(30 * time.Hour)
	list, _ = svc.AtRisk(context.Background(), 1, month)
	got = list.Lots
	if len(got) != 2 || got[0].RateSource != "none" || got[1].LotID != 21 || got[1].ExpectedUnsold != 30 {
		t.Errorf("after a day without sales: %+v, want lots 22 and 21 with no rate, all units unsold", got)
	}
}

func check(t *testing.T, when string, got []domain.AtRiskLot, want []wantRisk) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: listed %+v, want lots %+v", when, got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.LotID != w.lot || g.Action != w.action || g.RateSource != w.source || math.Abs(g.ExpectedUnsold-w.unsold) > 0.15 {
			t.Errorf("%s: [%d] = lot %d %s (rate %s %.3f/h) unsold %.2f; want lot %d %s (%s) unsold %.2f",
				when, i, g.LotID, g.Action, g.RateSource, g.RatePerHour, g.ExpectedUnsold, w.lot, w.action, w.source, w.unsold)
		}
	}
}

// A lot whose queue sells out is not listed; FEFO order decides which lot
// of a warehouse's regular stock is left over.
func TestRankAtRiskQueue(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	lots := []RiskLot{
		{ID: 2, ProductID: 1, WarehouseID: 1, State: domain.Regular, ExpiresAt: now.Add(60 * time.Hour), OnHand: 30, Price: 100},
		{ID: 1, ProductID: 1, WarehouseID: 1, State: domain.Regular, ExpiresAt: now.Add(55 * time.Hour), OnHand: 30, Price: 100},
	}
	// A steady 1 an hour for a day: about 0.94 an hour now.
	var sales []SalesSlice
	for ago := time.Duration(0); ago < 24*time.Hour; ago += time.Hour {
		sales = append(sales, SalesSlice{LotID: 1, ProductID: 1, WarehouseID: 1, Ago: ago, Units: 1})
	}
	got := RankAtRisk(now, lots, sales, domain.DefaultRateHalfLife)
	// Lot 1 sells its 30 in 55 h; lot 2 gets what is left of 60 h.
	if len(got) != 1 {
		t.Fatalf("listed %+v, want lot 2 alone", got)
	}
	r := got[0].RatePerHour
	if r < 0.93 || r > 1 {
		t.Errorf("warehouse rate = %.3f an hour, want about 1", r)
	}
	if want := 60 - r*60; got[0].LotID != 2 || math.Abs(got[0].ExpectedUnsold-want) > 1e-9 || got[0].Action != domain.MoveToDealsEarly {
		t.Errorf("listed %+v, want lot 2 with %.2f unsold, moved to deals early", got[0], want)
	}
	// With lot 2 expiring first (40 h), it goes first and sells out; lot 1
	// is left with what 55 h do not sell of both.
	lots[0].ExpiresAt = now.Add(40 * time.Hour)
	got = RankAtRisk(now, lots, sales, domain.DefaultRateHalfLife)
	if want := 60 - r*55; len(got) != 1 || got[0].LotID != 1 || math.Abs(got[0].ExpectedUnsold-want) > 1e-9 {
		t.Errorf("listed %+v, want lot 1 alone with %.2f unsold", got, want)
	}
}

// countingRisk counts the weighings and can hold one up.
type countingRisk struct {
	fakeRisk
	calls   atomic.Int32
	release chan struct{}
}

func (c *countingRisk) RiskLots(ctx context.Context, now, until time.Time, warehouseID int64) ([]RiskLot, error) {
	c.calls.Add(1)
	if c.release != nil {
		<-c.release
	}
	return c.fakeRisk.RiskLots(ctx, now, until, warehouseID)
}

// A list is weighed once for the callers that come while it is weighed
// and for RiskMaxAge after; a new horizon, warehouse or time is weighed anew.
func TestAtRiskShared(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	store := &countingRisk{fakeRisk: fakeRisk{lots: []RiskLot{{ID: 1, ProductID: 1, WarehouseID: 1, ExpiresAt: t0.Add(30 * time.Hour), OnHand: 5, Price: 100}}},
		release: make(chan struct{})}
	svc := &Service{Risk: store, Now: clk.Now}
	ctx := context.Background()

	var wg sync.WaitGroup
	results := make([]domain.AtRiskList, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = svc.AtRisk(ctx, 0, 72*time.Hour)
		}()
	}
	for store.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the others arrive while it is weighed
	close(store.release)
	wg.Wait()
	if n := store.calls.Load(); n != 1 {
		t.Errorf("5 callers at once weighed %d times, want 1", n)
	}
	for i, r := range results {
		if len(r.Lots) != 1 || r.Lots[0].LotID != 1 {
			t.Errorf("caller %d got %+v, want lot 1", i, r)
		}
	}

	clk.Advance(RiskMaxAge - time.Second)
	if r, _ := svc.AtRisk(ctx, 0, 72*time.Hour); store.calls.Load() != 1 || !r.At.Equal(t0) {
		t.Errorf("within RiskMaxAge: weighed %d times, list at %s; want the first list", store.calls.Load(), r.At)
	}
	svc.AtRisk(ctx, 1, 72*time.Hour)
	svc.AtRisk(ctx, 0, 24*time.Hour)
	if n := store.calls.Load(); n != 3 {
		t.Errorf("another warehouse and horizon: weighed %d times in all, want 3", n)
	}
	clk.Advance(time.Second)
	if r, _ := svc.AtRisk(ctx, 0, 72*time.Hour); store.calls.Load() != 4 || !r.At.Equal(clk.Now()) {
		t.Errorf("after RiskMaxAge: weighed %d times, list at %s; want a new list at %s", store.calls.Load(), r.At, clk.Now())
	}
}

// A list keeps the worst MaxAtRiskListed lots and counts them all.
func TestAtRiskListBounded(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	store := &fakeRisk{}
	for i := range domain.MaxAtRiskListed + 5 {
		store.lots = append(store.lots, RiskLot{ID: int64(i + 1), ProductID: 1, WarehouseID: int64(i + 1), ExpiresAt: t0.Add(30 * time.Hour), OnHand: 2, Price: domain.KRW(i + 1)})
	}
	list, err := (&Service{Risk: store, Now: func() time.Time { return t0 }}).AtRisk(context.Background(), 0, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n := domain.MaxAtRiskListed + 5
	if list.Weighed != n || list.AtRisk != n || len(list.Lots) != domain.MaxAtRiskListed || list.Lots[0].LotID != int64(n) || list.Lots[len(list.Lots)-1].LotID != 6 {
		t.Errorf("weighed %d, at risk %d, kept %d from lot %d to %d; want %d, %d, %d from lot %d to 6",
			list.Weighed, list.AtRisk, len(list.Lots), list.Lots[0].LotID, list.Lots[len(list.Lots)-1].LotID, n, n, domain.MaxAtRiskListed, n)
	}
}
