package mysqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"shelflife/actors/lot"
	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// lotRow is what a test reads back of a lot and its ledger.
type lotRow struct {
	onHand, deducted, restored, writtenOff, seq int64
	state                                       string
	ledgerRows, ledgerUnits, wasteRows          int64
}

func readLot(t *testing.T, s *mysqlstore.Store, id int64) lotRow {
	t.Helper()
	var r lotRow
	db := s.DB()
	if err := db.QueryRow("SELECT on_hand, deducted, restored, written_off, seq, state FROM lots WHERE id = ?", id).
		Scan(&r.onHand, &r.deducted, &r.restored, &r.writtenOff, &r.seq, &r.state); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT COUNT(*), COALESCE(SUM(CASE kind WHEN 'DEDUCTED' THEN quantity ELSE 0 END), 0) FROM lot_ledger WHERE lot_id = ?", id).
		Scan(&r.ledgerRows, &r.ledgerUnits); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM waste WHERE lot_id = ?", id).Scan(&r.wasteRows); err != nil {
		t.Fatal(err)
	}
	return r
}

func newStoreLot(t *testing.T, s *mysqlstore.Store, received int64) (lot.State, int64) {
	t.Helper()
	ctx := context.Background()
	w, err := s.CreateWarehouse(ctx, domain.Warehouse{Name: "W", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreateProduct(ctx, domain.Product{SKU: "SKU-1", Name: "milk", Category: "dairy", Price: 1000})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, ExpiresAt: time.Now().Add(30 * 24 * time.Hour), Received: received}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := s.ClaimLot(ctx, l.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return st, l.ID
}

// deductions is a commit taking one unit for each of n keys after prev.
func deductions(st lot.State, prev lot.Commit, n int) lot.Commit {
	c := lot.Commit{LotID: st.ID, Epoch: st.Version, PrevSeq: prev.Seq, Seq: prev.Seq + 1,
		OnHand: prev.OnHand - int64(n), Deducted: prev.Deducted + int64(n), Restored: prev.Restored,
		State: domain.Regular, ProductID: st.ProductID, WarehouseID: st.WarehouseID}
	for i := 0; i < n; i++ {
		c.Entries = append(c.Entries, lot.LedgerEntry{Key: fmt.Sprintf("k%d-%d", c.Seq, i), Kind: lot.Deducted, Quantity: 1, UnitPrice: 1000})
	}
	return c
}

func TestCommitLotSmallAndLargeBatches(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()
	st, id := newStoreLot(t, s, 100_000)
	start := lot.Commit{Seq: st.Seq, OnHand: st.OnHand}

	// One round trip, and then more rows than one round trip carries (and
	// than one INSERT holds).
	small := deductions(st, start, 50)
	if err := s.CommitLot(ctx, small); err != nil {
		t.Fatalf("small commit: %v", err)
	}
	large := deductions(st, small, 4500)
	if err := s.CommitLot(ctx, large); err != nil {
		t.Fatalf("large commit: %v", err)
	}
	r := readLot(t, s, id)
	if r.ledgerRows != 4550 || r.ledgerUnits != 4550 || r.deducted != 4550 || r.onHand != 100_000-4550 || r.seq != large.Seq {
		t.Errorf("after two commits: %+v", r)
	}

	// A later commit changes earlier rows (restores) and writes off waste.
	restore := lot.Commit{LotID: id, Epoch: st.Version, PrevSeq: large.Seq, Seq: large.Seq + 1,
		OnHand: large.OnHand + 2, Deducted: large.Deducted, Restored: 2, State: domain.Regular,
		ProductID: st.ProductID, WarehouseID: st.WarehouseID,
		Entries: []lot.LedgerEntry{
			{Key: small.Entries[0].Key, Kind: lot.Restored, Quantity: 1, UnitPrice: 1000},
			{Key: large.Entries[9].Key, Kind: lot.Restored, Quantity: 1, UnitPrice: 1000},
		},
		Waste: []lot.Waste{{Quantity: 3, UnitCost: 1000, Kind: "RETURN", At: time.Now()}}}
	restore.WrittenOff = 3
	restore.OnHand -= 3
	if err := s.CommitLot(ctx, restore); err != nil {
		t.Fatalf("restore commit: %v", err)
	}
	r = readLot(t, s, id)
	if r.ledgerRows != 4550 || r.ledgerUnits != 4548 || r.restored != 2 || r.writtenOff != 3 || r.wasteRows != 1 {
		t.Errorf("after the restore: %+v", r)
	}
}

func TestCommitLotRefusedOrFailedWritesNothing(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()
	st, id := newStoreLot(t, s, 10_000)
	first := deductions(st, lot.Commit{Seq: st.Seq, OnHand: st.OnHand}, 10)
	if err := s.CommitLot(ctx, first); err != nil {
		t.Fatal(err)
	}
	want := readLot(t, s, id)

	stale := deductions(st, first, 20)
	stale.Epoch--
	stale.Waste = []lot.Waste{{Quantity: 1, UnitCost: 1000, Kind: "RETURN", At: time.Now()}}
	outOfOrder := deductions(st, first, 20)
	outOfOrder.PrevSeq--
	bigStale := deductions(st, first, 4500)
	bigStale.Epoch--
	for name, c := range map[string]lot.Commit{"old epoch": stale, "wrong seq": outOfOrder, "old epoch, large": bigStale} {
		if err := s.CommitLot(ctx, c); !errors.Is(err, lot.ErrStaleOwner) {
			t.Errorf("%s: err = %v, want ErrStaleOwner", name, err)
		}
	}
	// A statement that fails after the lot row was updated.
	bad := deductions(st, first, 5)
	bad.Entries[4].Kind = strings.Repeat("X", 40) // longer than the column
	if err := s.CommitLot(ctx, bad); err == nil || errors.Is(err, lot.ErrStaleOwner) {
		t.Errorf("failing statement: err = %v, want a write error", err)
	}
	if got := readLot(t, s, id); got != want {
		t.Errorf("refused commits changed the lot: %+v, want %+v", got, want)
	}

	// Every connection went back without a transaction left open: commits
	// on all of them still work and are seen by others.
	prev := first
	for i := 0; i < 40; i++ {
		next := deductions(st, prev, 1)
		if err := s.CommitLot(ctx, next); err != nil {
			t.Fatalf("commit %d after the refusals: %v", i, err)
		}
		prev = next
	}
	if got := readLot(t, s, id); got.deducted != 50 || got.ledgerRows != 50 || got.wasteRows != 0 {
		t.Errorf("after the refusals: %+v", got)
	}
}

// ClaimLot loads the live holds and the rows changed since the window's
// start; LedgerEntry reads any other key by the primary key.
func TestClaimLotLoadsTheWindowAndLedgerEntryTheRest(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()
	st, id := newStoreLot(t, s, 1000)
	c := deductions(st, lot.Commit{Seq: st.Seq, OnHand: st.OnHand}, 5)
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	c.Entries = append(c.Entries, lot.LedgerEntry{Key: "held", Kind: lot.Held, Quantity: 2, UnitPrice: 900, DiscountPercent: 10, HoldUntil: until})
	c.OnHand, c.Held = c.OnHand-2, 2
	if err := s.CommitLot(ctx, c); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-3 * time.Hour)
	db := s.DB()
	if _, err := db.Exec("UPDATE lot_ledger SET updated_at = ? WHERE lot_id = ? AND order_key <> ?", old, id, c.Entries[4].Key); err != nil {
		t.Fatal(err)
	}
	// The lot is younger than the window: everything is loaded.
	if st, ledger, err := s.ClaimLot(ctx, id, 4*time.Hour); err != nil || !st.LedgerFrom.IsZero() || len(ledger) != 6 {
		t.Fatalf("young lot: ledger from %s, %d rows, %v", st.LedgerFrom, len(ledger), err)
	}
	if _, err := db.Exec("UPDATE lots SET created_at = ? WHERE id = ?", old, id); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Hour)
	got, ledger, err := s.ClaimLot(ctx, id, time.Hour)
	after := time.Now().Add(-time.Hour)
	// MySQL's clock, the same machine's as this one here.
	if err != nil || got.LedgerFrom.Before(before.Add(-time.Second)) || got.LedgerFrom.After(after.Add(time.Second)) {
		t.Fatalf("ClaimLot: ledger from %s, want between %s and %s, %v", got.LedgerFrom, before, after, err)
	}
	keys := map[string]lot.LedgerEntry{}
	for _, e := range ledger {
		keys[e.Key] = e
	}
	if len(keys) != 2 || keys["held"].HoldUntil.IsZero() || keys[c.Entries[4].Key].Kind != lot.Deducted {
		t.Errorf("loaded %+v; want the live hold and the one recent row", ledger)
	}
	e, found, err := s.LedgerEntry(ctx, id, c.Entries[0].Key)
	if err != nil || !found || e.Key != c.Entries[0].Key || e.Kind != lot.Deducted || e.Quantity != 1 || e.UnitPrice != 1000 || !e.HoldUntil.IsZero() {
		t.Errorf("LedgerEntry of an old key = %+v, %v, %v", e, found, err)
	}
	e, found, err = s.LedgerEntry(ctx, id, "held")
	if err != nil || !found || !e.HoldUntil.Equal(until) || e.DiscountPercent != 10 {
		t.Errorf("LedgerEntry of the hold = %+v, %v, %v", e, found, err)
	}
	if _, found, err := s.LedgerEntry(ctx, id, "never"); err != nil || found {
		t.Errorf("LedgerEntry of an unknown key: found %v, %v", found, err)
	}
}

func TestLotPricingPersistsAndFeedsTheProductRate(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()
	st, id := newStoreLot(t, s, 100)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := deductions(st, lot.Commit{Seq: st.Seq, OnHand: st.OnHand}, 2)
	c.Pricing = lot.Pricing{SellRate: domain.SellRate{PerHour: 3, At: now}, MarkdownPercent: 40, MarkdownDueAt: now.Add(30 * time.Minute)}
	if err := s.CommitLot(ctx, c); err != nil {
		t.Fatal(err)
	}
	again, _, err := s.ClaimLot(ctx, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if again.SellRate.PerHour != 3 || !again.SellRate.At.Equal(now) || again.MarkdownPercent != 40 || !again.MarkdownDueAt.Equal(now.Add(30*time.Minute)) {
		t.Errorf("claimed pricing %+v, want what was committed", again.Pricing)
	}
	// Another lot of the product in another warehouse, selling 1 an hour:
	// the average warehouse sells 2.
	w2, err := s.CreateWarehouse(ctx, domain.Warehouse{Name: "W2", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := s.CreateLot(ctx, domain.Lot{ProductID: st.ProductID, WarehouseID: w2.ID, ExpiresAt: now.Add(30 * 24 * time.Hour), Received: 10}, now)
	if err != nil {
		t.Fatal(err)
	}
	st2, _, err := s.ClaimLot(ctx, l2.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c2 := deductions(st2, lot.Commit{Seq: st2.Seq, OnHand: st2.OnHand}, 1)
	c2.Pricing.SellRate = domain.SellRate{PerHour: 1, At: now}
	if err := s.CommitLot(ctx, c2); err != nil {
		t.Fatal(err)
	}
	h := 6 * time.Hour
	if got, err := s.ProductSellRate(ctx, st.ProductID, now, h); err != nil || got != 2 {
		t.Errorf("product rate = %v, %v; want 2", got, err)
	}
	// Six hours on, both rates halved.
	if got, _ := s.ProductSellRate(ctx, st.ProductID, now.Add(h), h); got < 0.999 || got > 1.001 {
		t.Errorf("product rate a half-life on = %v, want 1", got)
	}
	// A lot with a past-due markdown evaluation is due for the sweeper.
	if _, err := s.DB().Exec("UPDATE lots SET state = 'CLOSING_SOON' WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}
	due, err := s.MarkdownDueLots(ctx, now.Add(time.Hour), 100)
	if err != nil || len(due) != 1 || due[0] != id {
		t.Errorf("due lots = %v, %v; want [%d]", due, err, id)
	}
}

// LotSiblings reads the product's lots in the warehouse, expiry first,
// leaving out other warehouses and products and lots that expired more than
// ten half-lives ago.
func TestLotSiblings(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()
	st, first := newStoreLot(t, s, 5)
	now := time.Now().UTC().Truncate(time.Second)
	h := 6 * time.Hour
	mk := func(product, warehouse int64, expires time.Duration, qty int64) int64 {
		l, err := s.CreateLot(ctx, domain.Lot{ProductID: product, WarehouseID: warehouse, ExpiresAt: now.Add(expires), Received: qty}, now)
		if err != nil {
			t.Fatal(err)
		}
		return l.ID
	}
	w2, err := s.CreateWarehouse(ctx, domain.Warehouse{Name: "W2", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.CreateProduct(ctx, domain.Product{SKU: "SKU-2", Name: "bread", Category: "bakery", Price: 500})
	if err != nil {
		t.Fatal(err)
	}
	soon := mk(st.ProductID, st.WarehouseID, 20*time.Hour, 3)
	recent := mk(st.ProductID, st.WarehouseID, -10*time.Hour, 4)
	mk(st.ProductID, st.WarehouseID, -61*time.Hour, 4) // expired long ago
	mk(st.ProductID, w2.ID, 20*time.Hour, 4)           // another warehouse
	mk(p2.ID, st.WarehouseID, 20*time.Hour, 4)         // another product
	if _, err := s.DB().Exec("UPDATE lots SET markdown_percent = 60, markdown_due_at = ?, sell_rate_per_hour = 1.5, sell_rate_at = ? WHERE id = ?", now.Add(time.Minute), now, soon); err != nil {
		t.Fatal(err)
	}
	got, err := s.LotSiblings(ctx, st.ProductID, st.WarehouseID, now, h)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, l := range got {
		ids = append(ids, l.ID)
	}
	if want := []int64{recent, soon, first}; !slices.Equal(ids, want) {
		t.Fatalf("siblings %v, want %v", ids, want)
	}
	if l := got[1]; l.OnHand != 3 || l.MarkdownPercent != 60 || !l.MarkdownDueAt.Equal(now.Add(time.Minute)) || l.SellRate.PerHour != 1.5 || !l.SellRate.At.Equal(now) || !l.ExpiresAt.Equal(now.Add(20*time.Hour)) {
		t.Errorf("sibling row %+v", l)
	}
	if got[0].SellRate.Known() {
		t.Errorf("a lot that never sold has a rate: %+v", got[0].SellRate)
	}
}
