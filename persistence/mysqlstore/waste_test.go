package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/inventory"
	"shelflife/persistence/mysqlstore"
)

// ledgerRow writes a ledger row as the lot grain would have, dated at.
func ledgerRow(t *testing.T, s *mysqlstore.Store, ctx context.Context, lotID int64, key, kind string, qty, price int64, pct int, at time.Time) {
	t.Helper()
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO lot_ledger (lot_id, order_key, kind, quantity, unit_price, discount_percent, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, lotID, key, kind, qty, price, pct, at.UTC(), at.UTC()); err != nil {
		t.Fatal(err)
	}
}

// twoWarehouses creates "<name> A" in region North and "<name> B" in South.
func twoWarehouses(t *testing.T, s *mysqlstore.Store, ctx context.Context, name string) (a, b domain.Warehouse) {
	t.Helper()
	var err error
	if a, err = s.CreateWarehouse(ctx, domain.Warehouse{Name: name + " A", Region: "North", Lat: 37.5, Lng: 127, RadiusKm: 5}); err != nil {
		t.Fatal(err)
	}
	if b, err = s.CreateWarehouse(ctx, domain.Warehouse{Name: name + " B", Region: "South", Lat: 35.1, Lng: 129, RadiusKm: 5}); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// The waste report puts, next to each day's write-offs of a warehouse, the
// units deducted at a markdown that day and what they brought in; regular
// sales, holds and deductions given back do not count, nor sales outside
// the period.
func TestWasteReportWithDealSales(t *testing.T) {
	s, ctx, at := orderStore(t, 30*time.Second)
	a, b := twoWarehouses(t, s, ctx, "Waste")
	p, err := s.CreateProduct(ctx, domain.Product{SKU: "WASTE-1", Name: "P", Category: "C", Price: 1000})
	if err != nil {
		t.Fatal(err)
	}
	mkLot := func(w domain.Warehouse, expires time.Time) int64 {
		t.Helper()
		l, err := s.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, Received: 50, ExpiresAt: expires}, at)
		if err != nil {
			t.Fatal(err)
		}
		return l.ID
	}
	soon := mkLot(a, at.Add(10*time.Hour))       // closing soon in A
	gone := mkLot(b, at.Add(-3*time.Hour))       // expired in B
	regular := mkLot(a, at.Add(20*24*time.Hour)) // regular in A
	old := mkLot(a, at.Add(-40*24*time.Hour))    // expired long before the period

	ledgerRow(t, s, ctx, soon, "o1", "DEDUCTED", 2, 700, 30, at.Add(-2*time.Hour))
	ledgerRow(t, s, ctx, soon, "o2", "DEDUCTED", 1, 500, 50, at.Add(-10*time.Hour)) // the day before
	ledgerRow(t, s, ctx, soon, "o3", "RESTORED", 3, 700, 30, at.Add(-time.Hour))
	ledgerRow(t, s, ctx, soon, "o4", "HELD", 1, 700, 30, at.Add(-time.Hour))
	ledgerRow(t, s, ctx, soon, "o5", "DEDUCTED", 4, 1000, 0, at.Add(-60*time.Hour)) // sold before its closing window
	ledgerRow(t, s, ctx, gone, "o6", "DEDUCTED", 1, 300, 70, at.Add(-5*time.Hour))
	ledgerRow(t, s, ctx, regular, "o7", "DEDUCTED", 5, 1000, 0, at.Add(-time.Hour))
	ledgerRow(t, s, ctx, old, "o8", "DEDUCTED", 9, 300, 70, at.Add(-41*24*time.Hour))
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO waste (lot_id, product_id, warehouse_id, quantity, unit_cost, value, written_off_at)
		VALUES (?, ?, ?, 2, 1000, 2000, ?)`, gone, p.ID, b.ID, at.Add(-3*time.Hour)); err != nil {
		t.Fatal(err)
	}

	got, err := s.WasteReport(ctx, at.AddDate(0, 0, -30), at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.WasteRow{
		{Day: "2026-11-23", WarehouseID: a.ID, Warehouse: "Waste A", Region: "North", DealQuantity: 1, DealRevenue: 500},
		{Day: "2026-11-24", WarehouseID: a.ID, Warehouse: "Waste A", Region: "North", DealQuantity: 2, DealRevenue: 1400},
		{Day: "2026-11-24", WarehouseID: b.ID, Warehouse: "Waste B", Region: "South", Quantity: 2, Value: 2000, DealQuantity: 1, DealRevenue: 300},
	}
	if len(got) != len(want) {
		t.Fatalf("report = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	// A period of one day keeps that day's rows only.
	day, err := s.WasteReport(ctx, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(day) != 1 || day[0] != want[0] {
		t.Errorf("report of 23 November = %+v, want [%+v]", day, want[0])
	}
}

// The at-risk list reads live lots with their list price, and each live
// lot's deductions of the window in slices counted back from now: holds,
// give-backs, rows outside the window and expired lots do not count.
func TestRiskLotsAndRecentSales(t *testing.T) {
	s, ctx, at := orderStore(t, 30*time.Second)
	a, b := twoWarehouses(t, s, ctx, "Risk")
	p, err := s.CreateProduct(ctx, domain.Product{SKU: "RISK-1", Name: "P", Category: "C", Price: 1200})
	if err != nil {
		t.Fatal(err)
	}
	q, err := s.CreateProduct(ctx, domain.Product{SKU: "RISK-2", Name: "Q", Category: "C", Price: 800})
	if err != nil {
		t.Fatal(err)
	}
	mkLot := func(w domain.Warehouse, prod domain.Product, expires time.Time) int64 {
		t.Helper()
		l, err := s.CreateLot(ctx, domain.Lot{ProductID: prod.ID, WarehouseID: w.ID, Received: 20, ExpiresAt: expires}, at)
		if err != nil {
			t.Fatal(err)
		}
		return l.ID
	}
	deal := mkLot(a, p, at.Add(10*time.Hour))
	regular := mkLot(b, p, at.Add(5*24*time.Hour))
	other := mkLot(b, q, at.Add(6*24*time.Hour))
	expired := mkLot(a, p, at.Add(-time.Hour))
	empty := mkLot(a, q, at.Add(7*24*time.Hour))
	if _, err := s.DB().ExecContext(ctx, "UPDATE lots SET on_hand = 0 WHERE id = ?", empty); err != nil {
		t.Fatal(err)
	}

	ledgerRow(t, s, ctx, deal, "d1", "DEDUCTED", 2, 840, 30, at.Add(-5*time.Minute))
	ledgerRow(t, s, ctx, deal, "d2", "DEDUCTED", 3, 840, 30, at.Add(-8*time.Minute))
	ledgerRow(t, s, ctx, deal, "d3", "DEDUCTED", 4, 840, 30, at.Add(-25*time.Minute))
	ledgerRow(t, s, ctx, deal, "d4", "HELD", 7, 840, 30, at.Add(-time.Minute))
	ledgerRow(t, s, ctx, deal, "d5", "RESTORED", 7, 840, 30, at.Add(-time.Minute))
	ledgerRow(t, s, ctx, deal, "d6", "DEDUCTED", 9, 1200, 0, at.Add(-25*time.Hour)) // before the window
	ledgerRow(t, s, ctx, deal, "d7", "DEDUCTED", 9, 840, 30, at.Add(time.Minute))   // after now (another clock)
	ledgerRow(t, s, ctx, regular, "r1", "DEDUCTED", 1, 1200, 0, at.Add(-23*time.Hour-55*time.Minute))
	ledgerRow(t, s, ctx, other, "o1", "DEDUCTED", 6, 800, 0, at.Add(-time.Hour))
	ledgerRow(t, s, ctx, expired, "x1", "DEDUCTED", 5, 360, 70, at.Add(-2*time.Hour))

	far := at.Add(30 * 24 * time.Hour)
	lots, err := s.RiskLots(ctx, at, far, 0)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]inventory.RiskLot{}
	for _, l := range lots {
		byID[l.ID] = l
	}
	if len(lots) != 3 || byID[deal].State != domain.ClosingSoon || byID[deal].Price != 1200 || byID[deal].OnHand != 20 ||
		byID[regular].State != domain.Regular || byID[other].Price != 800 {
		t.Errorf("risk lots = %+v, want the deal, the regular and the other lot", lots)
	}
	if only, err := s.RiskLots(ctx, at, far, a.ID); err != nil || len(only) != 1 || only[0].ID != deal {
		t.Errorf("risk lots of A = %+v, %v; want the deal alone", only, err)
	}

	sales, err := s.RecentSales(ctx, at.Add(-24*time.Hour), at, far, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		lot int64
		ago time.Duration
	}
	got := map[key]int64{}
	for _, x := range sales {
		got[key{x.LotID, x.Ago}] += x.Units
		if x.LotID == deal && (x.ProductID != p.ID || x.WarehouseID != a.ID) {
			t.Errorf("slice %+v names the wrong product or warehouse", x)
		}
	}
	want := map[key]int64{
		{deal, 0}: 5, {deal, 20 * time.Minute}: 4,
		{regular, 23*time.Hour + 50*time.Minute}: 1, {other, time.Hour}: 6,
	}
	if len(got) != len(want) {
		t.Errorf("slices = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("lot %d %v ago: %d units, want %d (all %v)", k.lot, k.ago, got[k], n, got)
		}
	}

	// Lots expiring after the horizon are neither listed nor read: Q's lot
	// expires in 6 days.
	soon := at.Add(5 * 24 * time.Hour)
	if near, err := s.RiskLots(ctx, at, soon, 0); err != nil || len(near) != 2 {
		t.Errorf("risk lots within 5 days = %+v, %v; want the deal and the regular lot", near, err)
	}
	if near, err := s.RecentSales(ctx, at.Add(-24*time.Hour), at, soon, 10*time.Minute); err != nil || len(near) != 3 {
		t.Errorf("sales of lots within 5 days = %+v, %v; want the deal's two slices and the regular lot's", near, err)
	}
}
