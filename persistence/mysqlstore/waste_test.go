package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"shelflife/domain"
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

// The waste report puts, next to each day's write-offs of a warehouse, the
// units deducted at a markdown that day and what they brought in; regular
// sales, holds and deductions given back do not count, nor sales outside
// the period.
func TestWasteReportWithDealSales(t *testing.T) {
	s, ctx, at := orderStore(t, 30*time.Second)
	a, err := s.CreateWarehouse(ctx, domain.Warehouse{Name: "Waste A", Region: "North", Lat: 37.5, Lng: 127, RadiusKm: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateWarehouse(ctx, domain.Warehouse{Name: "Waste B", Region: "South", Lat: 35.1, Lng: 129, RadiusKm: 5})
	if err != nil {
		t.Fatal(err)
	}
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
