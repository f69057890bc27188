package stockview

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"shelflife/domain"
)

type fakeSource struct {
	products   []domain.Product
	warehouses []domain.Warehouse
	lots       []LotRow
}

func (f fakeSource) Products(context.Context) ([]domain.Product, error)     { return f.products, nil }
func (f fakeSource) Warehouses(context.Context) ([]domain.Warehouse, error) { return f.warehouses, nil }
func (f fakeSource) LiveLots(_ context.Context, fn func(LotRow)) error {
	for _, r := range f.lots {
		fn(r)
	}
	return nil
}

var (
	t0       = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	mapo     = domain.Warehouse{ID: 1, Name: "Mapo", Lat: 37.5663, Lng: 126.9016, RadiusKm: 6}
	eunpyeng = domain.Warehouse{ID: 2, Name: "Eunpyeong", Lat: 37.6027, Lng: 126.9291, RadiusKm: 5}
	songpa   = domain.Warehouse{ID: 3, Name: "Songpa", Lat: 37.5145, Lng: 127.1059, RadiusKm: 5}
	yeonhui  = domain.Point{Lat: 37.5667, Lng: 126.9300} // Mapo and Eunpyeong
	jamsil   = domain.Point{Lat: 37.5133, Lng: 127.1001} // Songpa
	suwon    = domain.Point{Lat: 37.2636, Lng: 127.0286} // nobody
)

func newView(t *testing.T, now *time.Time) *View {
	t.Helper()
	src := fakeSource{
		products: []domain.Product{
			{ID: 10, SKU: "MILK", Name: "우유", NameEn: "Milk", Category: "Dairy", Price: 3000},
			{ID: 11, SKU: "FISH", Name: "고등어", NameEn: "Mackerel", Category: "Seafood", Price: 10000, MinShelfLife: 100 * time.Hour},
		},
		warehouses: []domain.Warehouse{mapo, eunpyeng, songpa},
		lots: []LotRow{
			{ID: 100, ProductID: 10, WarehouseID: 1, ExpiresAt: t0.Add(10 * 24 * time.Hour), OnHand: 5, State: domain.Regular},
			{ID: 101, ProductID: 10, WarehouseID: 2, ExpiresAt: t0.Add(9 * 24 * time.Hour), OnHand: 7, State: domain.Regular},
			{ID: 102, ProductID: 10, WarehouseID: 3, ExpiresAt: t0.Add(8 * 24 * time.Hour), OnHand: 11, State: domain.Regular},
			{ID: 103, ProductID: 10, WarehouseID: 1, ExpiresAt: t0.Add(30 * time.Hour), OnHand: 4, State: domain.ClosingSoon},
			{ID: 104, ProductID: 11, WarehouseID: 1, ExpiresAt: t0.Add(90 * time.Hour), OnHand: 3, State: domain.Regular},
		},
	}
	v := New(src, domain.DefaultLadder(), func() time.Time { return *now })
	if err := v.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return v
}

func available(ps []ProductAvailability, id int64) int64 {
	for _, p := range ps {
		if p.ID == id {
			return p.Available
		}
	}
	return -1
}

func TestAvailabilityByAddress(t *testing.T) {
	now := t0
	v := newView(t, &now)
	tests := []struct {
		name   string
		addr   domain.Point
		listed int
		milk   int64
		fish   int64
		deal   int
	}{
		{"served by two", yeonhui, 2, 12, 0, 1}, // fish is below its freshness guarantee
		{"served by one", jamsil, 2, 11, 0, 0},
		// No warehouse delivers there: nothing is listed (not the whole
		// catalogue as sold out).
		{"served by none", suwon, 0, -1, -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := v.Products(tt.addr, Filter{})
			if len(ps) != tt.listed {
				t.Fatalf("%d products listed, want %d", len(ps), tt.listed)
			}
			if got := available(ps, 10); got != tt.milk {
				t.Errorf("milk available %d, want %d", got, tt.milk)
			}
			if got := available(ps, 11); got != tt.fish {
				t.Errorf("fish available %d, want %d", got, tt.fish)
			}
			if got := len(v.Deals(tt.addr)); got != tt.deal {
				t.Errorf("%d deals, want %d", got, tt.deal)
			}
		})
	}
	for kind, get := range map[string]func() ([]byte, error){
		"products": func() ([]byte, error) {
			b, _, err := v.ProductsJSON(suwon, Filter{}, Page{Limit: DefaultPageSize})
			return b, err
		},
		"deals": func() ([]byte, error) {
			b, _, err := v.DealsJSON(suwon, Page{Limit: DefaultPageSize})
			return b, err
		},
	} {
		if body, err := get(); err != nil || string(body) != "[]" {
			t.Errorf("%s JSON for an unserved address = %s, %v; want []", kind, body, err)
		}
	}
	d := v.Deals(yeonhui)[0]
	if d.LotID != 103 || d.DiscountPercent != 30 || d.DealPrice != 2100 || d.Price != 3000 || d.Available != 4 {
		t.Errorf("deal = %+v", d)
	}
	if got := v.Products(yeonhui, Filter{Category: "seafood"}); len(got) != 1 || got[0].ID != 11 {
		t.Errorf("category filter = %+v", got)
	}
	if got := v.Products(yeonhui, Filter{Query: "milk"}); len(got) != 1 || got[0].ID != 10 {
		t.Errorf("query filter = %+v", got)
	}
}

func TestSoldOutDealIsQuotedWithNothingLeft(t *testing.T) {
	now := t0
	v := newView(t, &now)
	if d, ok := v.DealNear(yeonhui, 103); !ok || d.Available != 4 {
		t.Fatalf("deal 103 before the sale = %+v, %v", d, ok)
	}
	v.mu.Lock()
	v.lots[103].OnHand = 0
	v.mu.Unlock()
	d, ok := v.DealNear(yeonhui, 103)
	if !ok || d.Available != 0 || d.DealPrice != 2100 {
		t.Errorf("sold-out deal 103 = %+v, %v; want it quoted with 0 available", d, ok)
	}
	if got := len(v.Deals(yeonhui)); got != 0 {
		t.Errorf("%d deals listed, want the sold-out one hidden", got)
	}
	for _, tc := range []struct {
		name string
		addr domain.Point
		lot  int64
	}{{"not served", jamsil, 103}, {"not closing soon", yeonhui, 100}, {"unknown", yeonhui, 999}} {
		if d, ok := v.DealNear(tc.addr, tc.lot); ok {
			t.Errorf("%s: lot %d quoted as a deal: %+v", tc.name, tc.lot, d)
		}
	}
}

func TestTimeMovesLotsBetweenListings(t *testing.T) {
	now := t0
	v := newView(t, &now)
	// Lot 100 (10 days) enters the deals at 8 days; lot 103 leaves at expiry.
	now = t0.Add(8*24*time.Hour + time.Minute)
	deals := v.Deals(yeonhui)
	ids := map[int64]bool{}
	for _, d := range deals {
		ids[d.LotID] = true
	}
	if !ids[100] || !ids[101] || ids[103] {
		t.Errorf("deals at +8 d = %v, want lots 100 and 101 but not the expired 103", ids)
	}
	if got := available(v.Products(yeonhui, Filter{}), 10); got != 0 {
		t.Errorf("regular milk at +8 d = %d, want 0", got)
	}
}

func TestApplyIsIdempotentAndOrdered(t *testing.T) {
	now := t0
	v := newView(t, &now)
	var notified int
	unsub := v.Subscribe(func(Change) { notified++ })
	defer unsub()
	e := domain.LotEvent{LotID: 100, ProductID: 10, WarehouseID: 1, ExpiresAt: t0.Add(10 * 24 * time.Hour), OnHand: 2, State: domain.Regular, Seq: 3}
	if !v.Apply(e) {
		t.Error("a newer event was not applied")
	}
	if v.Apply(e) {
		t.Error("the same event applied twice")
	}
	older := e
	older.Seq, older.OnHand = 2, 4
	if v.Apply(older) {
		t.Error("an older event was applied")
	}
	if got := available(v.Products(yeonhui, Filter{}), 10); got != 9 {
		t.Errorf("milk near yeonhui = %d, want 2 + 7", got)
	}
	// A new lot appears; an expired one disappears.
	v.Apply(domain.LotEvent{LotID: 200, ProductID: 10, WarehouseID: 3, ExpiresAt: t0.Add(20 * 24 * time.Hour), OnHand: 6, State: domain.Regular, Seq: 1})
	v.Apply(domain.LotEvent{LotID: 102, ProductID: 10, WarehouseID: 3, State: domain.Expired, Seq: 9})
	if got := available(v.Products(jamsil, Filter{}), 10); got != 6 {
		t.Errorf("milk near jamsil = %d, want 6", got)
	}
	if _, ok := v.Lot(102); ok {
		t.Error("an expired lot is still in the view")
	}
	if notified != 3 {
		t.Errorf("%d notifications, want 3", notified)
	}
}

// A bulk change (the lot sweep's) applies what is newer, skips the rest,
// and tells listeners once with the events applied.
func TestApplyAllTellsListenersOnce(t *testing.T) {
	now := t0
	v := newView(t, &now)
	var changes []Change
	unsub := v.Subscribe(func(c Change) { changes = append(changes, c) })
	defer unsub()
	v.Apply(domain.LotEvent{LotID: 101, ProductID: 10, WarehouseID: 2, OnHand: 7, State: domain.Regular, Seq: 5})
	bulk := []domain.LotEvent{
		{LotID: 100, ProductID: 10, WarehouseID: 1, ExpiresAt: t0.Add(10 * 24 * time.Hour), OnHand: 5, State: domain.ClosingSoon, Seq: 1},
		{LotID: 101, ProductID: 10, WarehouseID: 2, OnHand: 0, State: domain.Expired, Seq: 4}, // older than the view's
		{LotID: 102, ProductID: 10, WarehouseID: 3, State: domain.Expired, Seq: 1},
	}
	if n := v.ApplyAll(bulk); n != 2 {
		t.Errorf("applied %d, want 2", n)
	}
	if len(changes) != 2 || len(changes[1].Events) != 2 || changes[1].Events[0].LotID != 100 || changes[1].Events[1].LotID != 102 {
		t.Fatalf("changes heard %+v, want one single and one bulk of lots 100 and 102", changes)
	}
	if _, ok := v.Lot(102); ok {
		t.Error("an expired lot is still in the view")
	}
	if got := available(v.Products(yeonhui, Filter{}), 10); got != 7 {
		t.Errorf("milk near yeonhui = %d, want only lot 101's 7 (lot 100 closes soon)", got)
	}
	if v.ApplyAll(bulk) != 0 || len(changes) != 2 {
		t.Error("a repeated bulk change was applied or heard")
	}
}

func decodeListing(t *testing.T, body []byte) []ProductAvailability {
	t.Helper()
	var ps []ProductAvailability
	if err := json.Unmarshal(body, &ps); err != nil {
		t.Fatalf("listing %q: %v", body, err)
	}
	return ps
}

func TestEncodedListingFollowsChangesAndTime(t *testing.T) {
	now := t0
	v := newView(t, &now)
	get := func(addr domain.Point, f Filter) []byte {
		t.Helper()
		body, _, err := v.ProductsJSON(addr, f, Page{})
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	first := get(yeonhui, Filter{})
	want, _ := json.Marshal(v.Products(yeonhui, Filter{}))
	if !bytes.Equal(first, want) {
		t.Fatalf("encoded listing %s, want %s", first, want)
	}
	if again := get(yeonhui, Filter{}); &again[0] != &first[0] {
		t.Error("an unchanged view encoded the listing again")
	}
	if got := available(decodeListing(t, get(jamsil, Filter{})), 10); got != 11 {
		t.Errorf("Jamsil milk = %d, want 11 (another address's listing reused?)", got)
	}
	if got := decodeListing(t, get(yeonhui, Filter{Category: "seafood"})); len(got) != 1 || got[0].ID != 11 {
		t.Errorf("seafood listing = %+v", got)
	}
	if got := decodeListing(t, get(yeonhui, Filter{Query: "milk"})); len(got) != 1 || got[0].ID != 10 {
		t.Errorf("search listing = %+v", got)
	}

	deals, _, err := v.DealsJSON(yeonhui, Page{})
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := json.Marshal(v.Deals(yeonhui)); !bytes.Equal(deals, want) || bytes.Equal(deals, first) {
		t.Errorf("encoded deals %s, want %s", deals, want)
	}

	// A committed change shows at once.
	v.Apply(domain.LotEvent{LotID: 100, ProductID: 10, WarehouseID: 1, OnHand: 2, State: domain.Regular, Seq: 1})
	if got := available(decodeListing(t, get(yeonhui, Filter{})), 10); got != 9 {
		t.Errorf("milk after a deduction = %d, want 9", got)
	}

	// A move by time shows within ListingTTL. Lot 101 (7 units) leaves
	// regular stock 48 h before it expires.
	turn := t0.Add(9*24*time.Hour - 48*time.Hour)
	now = turn.Add(-ListingTTL / 2)
	if got := available(decodeListing(t, get(yeonhui, Filter{})), 10); got != 9 {
		t.Fatalf("milk before the turn = %d, want 9", got)
	}
	now = turn.Add(ListingTTL / 4)
	if got := available(decodeListing(t, get(yeonhui, Filter{})), 10); got != 9 && got != 2 {
		t.Errorf("milk just after the turn = %d, want 9 (cached) or 2", got)
	}
	now = turn.Add(ListingTTL)
	if got := available(decodeListing(t, get(yeonhui, Filter{})), 10); got != 2 {
		t.Errorf("milk a listing lifetime after the turn = %d, want 2", got)
	}
}

func TestDealFollowsTheLotsAdaptiveMarkdown(t *testing.T) {
	now := t0
	v := newView(t, &now)
	// Lot 103 (30 h left, ladder 30 %) reports an adaptive 60 %.
	v.Apply(domain.LotEvent{LotID: 103, ProductID: 10, WarehouseID: 1, ExpiresAt: t0.Add(30 * time.Hour),
		OnHand: 4, State: domain.ClosingSoon, Seq: 1, DiscountPercent: 60})
	if d, ok := v.DealNear(yeonhui, 103); !ok || d.DiscountPercent != 60 || d.DealPrice != 1200 {
		t.Errorf("deal = %+v, want 60 %% off at 1200", d)
	}
	// The ladder's floor still applies when it is deeper: at 5 h left, 70 %.
	now = t0.Add(25 * time.Hour)
	if d, _ := v.DealNear(yeonhui, 103); d.DiscountPercent != 70 {
		t.Errorf("deal at 5 h left = %d %%, want the ladder's 70", d.DiscountPercent)
	}
}

// slowCatalog answers its first Products call with the catalog as it was
// before a product was added, once released; later calls with the new one.
type slowCatalog struct {
	fakeSource
	calls           chan struct{}
	release         chan struct{}
	before, current []domain.Product
	n               int
}

func (s *slowCatalog) Products(context.Context) ([]domain.Product, error) {
	s.n++
	if s.n == 1 {
		s.calls <- struct{}{}
		<-s.release
		return s.before, nil
	}
	return s.current, nil
}

// Two announcements of catalog changes are read on different partitions at
// once: the load of the first, which read before the second change, must
// not be installed over the load of the second.
func TestALateCatalogLoadDoesNotUndoANewerOne(t *testing.T) {
	milk := domain.Product{ID: 10, SKU: "MILK", Name: "우유", Category: "Dairy", Price: 3000}
	fish := domain.Product{ID: 11, SKU: "FISH", Name: "고등어", Category: "Seafood", Price: 10000}
	src := &slowCatalog{fakeSource: fakeSource{warehouses: []domain.Warehouse{mapo}}, calls: make(chan struct{}, 1), release: make(chan struct{}),
		before: []domain.Product{milk}, current: []domain.Product{milk, fish}}
	v := New(src, domain.DefaultLadder(), func() time.Time { return t0 })
	first := make(chan error, 1)
	go func() { first <- v.LoadCatalog(context.Background()) }()
	<-src.calls // the first load has read the old catalog
	second := make(chan error, 1)
	go func() { second <- v.LoadCatalog(context.Background()) }()
	secondDone := false
	select {
	case err := <-second: // the old code: the second load ends first
		if err != nil {
			t.Fatal(err)
		}
		secondDone = true
	case <-time.After(200 * time.Millisecond): // it waits for the first
	}
	close(src.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if !secondDone {
		if err := <-second; err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := v.Product(fish.ID); !ok {
		t.Error("the product added before the second announcement is missing: the first load was installed last")
	}
}

// A node loads the view, then subscribes to other nodes' changes: what
// changed in between is taken by LoadCatalog and CatchUp, and what was
// heard since is kept.
func TestCatchUpTakesWhatTheViewMissedAndKeepsWhatItHeard(t *testing.T) {
	milk := domain.Product{ID: 10, SKU: "MILK", Name: "우유", Category: "Dairy", Price: 3000}
	fish := domain.Product{ID: 11, SKU: "FISH", Name: "고등어", Category: "Seafood", Price: 10000}
	far := t0.Add(10 * 24 * time.Hour)
	src := &fakeSource{products: []domain.Product{milk}, warehouses: []domain.Warehouse{mapo},
		lots: []LotRow{
			{ID: 100, ProductID: 10, WarehouseID: 1, ExpiresAt: far, OnHand: 5, State: domain.Regular, Seq: 1},
			{ID: 101, ProductID: 10, WarehouseID: 1, ExpiresAt: far, OnHand: 7, State: domain.Regular, Seq: 1},
			{ID: 102, ProductID: 10, WarehouseID: 1, ExpiresAt: far, OnHand: 9, State: domain.Regular, Seq: 1},
		}}
	v := New(src, domain.DefaultLadder(), func() time.Time { return t0 })
	if err := v.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Missed: fish and its lot 103 added, lot 100 sold down, lot 101
	// expired. Heard: lot 102 at seq 5, newer than the row read below.
	src.products = []domain.Product{milk, fish}
	src.lots = []LotRow{
		{ID: 100, ProductID: 10, WarehouseID: 1, ExpiresAt: far, OnHand: 2, State: domain.Regular, Seq: 3},
		{ID: 102, ProductID: 10, WarehouseID: 1, ExpiresAt: far, OnHand: 8, State: domain.Regular, Seq: 4},
		{ID: 103, ProductID: 11, WarehouseID: 1, ExpiresAt: far, OnHand: 4, State: domain.Regular, Seq: 0},
	}
	v.Apply(domain.LotEvent{LotID: 102, ProductID: 10, WarehouseID: 1, ExpiresAt: far, OnHand: 6, State: domain.Regular, Seq: 5})
	told := map[int64]domain.LotState{}
	stop := v.Subscribe(func(c Change) {
		for _, e := range append(c.Events, c.Event) {
			told[e.LotID] = e.State
		}
	})
	defer stop()
	if err := v.LoadCatalog(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, err := v.CatchUp(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("CatchUp changed %d lots, want 3 (100 sold down, 101 expired, 103 added)", n)
	}
	ps := v.Products(yeonhui, Filter{})
	if got := available(ps, 10); got != 2+6 {
		t.Errorf("milk available %d, want 8 (lot 100 as read, lot 102 as heard, lot 101 gone)", got)
	}
	if got := available(ps, 11); got != 4 {
		t.Errorf("fish available %d, want 4 (product and lot added while the view was not listening)", got)
	}
	want := map[int64]domain.LotState{100: domain.Regular, 101: domain.Expired, 103: domain.Regular}
	for id, st := range want {
		if told[id] != st {
			t.Errorf("listeners told lot %d %q, want %q", id, told[id], st)
		}
	}
	if _, ok := told[102]; ok {
		t.Error("listeners told of lot 102, whose row was older than what the view held")
	}
}

// hookedSource calls during after the first lot row it hands out: what the
// view hears while a catch-up reads MySQL.
type hookedSource struct {
	fakeSource
	during func()
}

func (h hookedSource) LiveLots(ctx context.Context, fn func(LotRow)) error {
	for i, r := range h.lots {
		fn(r)
		if i == 0 && h.during != nil {
			h.during()
		}
	}
	return nil
}

// Events heard while the catch-up reads: a lot heard expired is not put
// back by its row read before, and a lot heard created is not dropped
// because the rows, read before it, lack it.
func TestCatchUpKeepsWhatItHearsWhileReading(t *testing.T) {
	milk := domain.Product{ID: 10, SKU: "MILK", Name: "우유", Category: "Dairy", Price: 3000}
	far := t0.Add(10 * 24 * time.Hour)
	rows := []LotRow{
		{ID: 100, ProductID: 10, WarehouseID: 1, ExpiresAt: far, OnHand: 5, State: domain.Regular, Seq: 1},
		{ID: 101, ProductID: 10, WarehouseID: 1, ExpiresAt: far, OnHand: 7, State: domain.Regular, Seq: 1},
	}
	src := &hookedSource{fakeSource: fakeSource{products: []domain.Product{milk}, warehouses: []domain.Warehouse{mapo}, lots: rows}}
	v := New(src, domain.DefaultLadder(), func() time.Time { return t0 })
	if err := v.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	src.during = func() {
		v.Apply(domain.LotEvent{LotID: 101, ProductID: 10, WarehouseID: 1, ExpiresAt: far, State: domain.Expired, Seq: 2})
		v.Apply(domain.LotEvent{LotID: 102, ProductID: 10, WarehouseID: 1, ExpiresAt: far, OnHand: 3, State: domain.Regular, Seq: 0})
	}
	if _, err := v.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := available(v.Products(yeonhui, Filter{}), 10); got != 5+3 {
		t.Errorf("milk available %d, want 8: lot 100 as read, lot 101 gone (heard expired), lot 102 as heard", got)
	}
	// A second catch-up with nothing changed changes nothing.
	src.during = func() {}
	src.lots = append(rows[:1:1], LotRow{ID: 102, ProductID: 10, WarehouseID: 1, ExpiresAt: far, OnHand: 3, State: domain.Regular, Seq: 0})
	changes := 0
	stop := v.Subscribe(func(Change) { changes++ })
	defer stop()
	n, err := v.CatchUp(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := available(v.Products(yeonhui, Filter{}), 10); got != 8 || changes != 0 || n != 0 {
		t.Errorf("after a catch-up with nothing new: milk %d (want 8), %d changes told and %d counted (want 0)", got, changes, n)
	}
}

// Announcements that pile up while a load runs are answered by one load
// after it, and a caller that stops waiting is not held.
func TestCatalogLoadsThatWaitAreMerged(t *testing.T) {
	milk := domain.Product{ID: 10, SKU: "MILK", Name: "우유", Category: "Dairy", Price: 3000}
	src := &slowCatalog{fakeSource: fakeSource{warehouses: []domain.Warehouse{mapo}}, calls: make(chan struct{}, 1), release: make(chan struct{}),
		before: []domain.Product{milk}, current: []domain.Product{milk}}
	v := New(src, domain.DefaultLadder(), func() time.Time { return t0 })
	first := make(chan error, 1)
	go func() { first <- v.LoadCatalog(context.Background()) }()
	<-src.calls
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := v.LoadCatalog(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a load whose caller gave up waiting: %v, want its context's error", err)
	}
	waiting := make(chan error, 3)
	for range 3 {
		go func() { waiting <- v.LoadCatalog(context.Background()) }()
	}
	for v.loadsAsked.Load() < 5 { // the three wait for their turn
		time.Sleep(time.Millisecond)
	}
	close(src.release)
	for _, ch := range []chan error{first, waiting, waiting, waiting} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if src.n != 2 {
		t.Errorf("the catalog was read %d times, want 2: the first load, then one for the three that waited", src.n)
	}
}
