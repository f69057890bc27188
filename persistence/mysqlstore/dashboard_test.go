package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
)

// The dashboard's figures come from the rows: stock by warehouse and
// category split by state, lots expiring soon, last week's waste, orders by
// status, stuck sagas and units of paid orders per minute.
func TestDashboardFigures(t *testing.T) {
	s, ctx, at := orderStore(t, 30*time.Second)
	w, veg := seedDashboardStock(t, s, ctx, at)
	minute := seedDashboardOrders(t, s, ctx, at, veg)
	got, err := s.DashboardSummary(ctx, at, at.Add(-5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	wantStock := []domain.StockCell{
		{WarehouseID: w.ID, Category: "Seafood", Regular: 0, Deal: 3},
		{WarehouseID: w.ID, Category: "Vegetables", Regular: 10, Deal: 4},
	}
	if len(got.Stock) != len(wantStock) {
		t.Fatalf("stock = %+v, want %+v", got.Stock, wantStock)
	}
	for i := range wantStock {
		if got.Stock[i] != wantStock[i] {
			t.Errorf("stock[%d] = %+v, want %+v", i, got.Stock[i], wantStock[i])
		}
	}
	if got.LotsExpiring48h != 2 || got.LotsExpiring6h != 1 {
		t.Errorf("expiring 48h, 6h = %d, %d; want 2, 1", got.LotsExpiring48h, got.LotsExpiring6h)
	}
	if got.WasteWeekQuantity != 2 || got.WasteWeekValue != 10000 {
		t.Errorf("waste this week = %d units, %d KRW; want 2, 10000", got.WasteWeekQuantity, got.WasteWeekValue)
	}
	wantOrders := map[domain.OrderStatus]int64{domain.StatusPaid: 3, domain.StatusPaymentReady: 1, domain.StatusCreated: 1}
	for st, n := range wantOrders {
		if got.OrdersByStatus[st] != n {
			t.Errorf("orders %s = %d, want %d (all: %v)", st, got.OrdersByStatus[st], n, got.OrdersByStatus)
		}
	}
	if got.StuckSagas != 1 {
		t.Errorf("stuck sagas = %d, want 1", got.StuckSagas)
	}

	checkSoldPerMinute(t, s, ctx, at, minute)
}

// seedDashboardStock receives a regular lot, two deal lots and an expired
// lot with waste a day and eight days old.
func seedDashboardStock(t *testing.T, s *mysqlstore.Store, ctx context.Context, at time.Time) (domain.Warehouse, domain.Product) {
	t.Helper()
	w, err := s.CreateWarehouse(ctx, domain.Warehouse{Name: "Dash", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	if err != nil {
		t.Fatal(err)
	}
	veg, _ := s.CreateProduct(ctx, domain.Product{SKU: "DASH-VEG", Name: "V", Category: "Vegetables", Price: 1000})
	fish, _ := s.CreateProduct(ctx, domain.Product{SKU: "DASH-FISH", Name: "F", Category: "Seafood", Price: 5000})
	for _, l := range []domain.Lot{
		{ProductID: veg.ID, WarehouseID: w.ID, Received: 10, ExpiresAt: at.Add(100 * time.Hour)}, // regular
		{ProductID: veg.ID, WarehouseID: w.ID, Received: 4, ExpiresAt: at.Add(5 * time.Hour)},    // deal, within 6 h
		{ProductID: fish.ID, WarehouseID: w.ID, Received: 3, ExpiresAt: at.Add(30 * time.Hour)},  // deal, within 48 h
	} {
		if _, err := s.CreateLot(ctx, l, at); err != nil {
			t.Fatal(err)
		}
	}
	// A lot past its expiry whose write-off has not run yet counts nowhere.
	expired, err := s.CreateLot(ctx, domain.Lot{ProductID: fish.ID, WarehouseID: w.ID, Received: 2, ExpiresAt: at.Add(-time.Hour)}, at.Add(-50*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		qty   int64
		value int64
		when  time.Time
	}{{2, 10000, at.Add(-24 * time.Hour)}, {1, 5000, at.Add(-8 * 24 * time.Hour)}} {
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO waste (lot_id, product_id, warehouse_id, quantity, unit_cost, value, written_off_at)
			VALUES (?, ?, ?, ?, 5000, ?, ?)`, expired.ID, fish.ID, w.ID, x.qty, x.value, x.when); err != nil {
			t.Fatal(err)
		}
	}

	return w, veg
}

// seedDashboardOrders places three orders paid within two minutes, one
// waiting for payment and one stuck at CREATED; it answers the minute of
// the first payments.
func seedDashboardOrders(t *testing.T, s *mysqlstore.Store, ctx context.Context, at time.Time, veg domain.Product) time.Time {
	t.Helper()
	u, err := s.CreateUser(ctx, domain.User{Email: "dash@shelflife.test", Name: "D", Role: domain.RoleShopper, PasswordHash: "x", CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	place := func(id string, qty int64, when time.Time) {
		t.Helper()
		o := domain.Order{ID: id, UserID: u.ID, Total: domain.KRW(qty * 1000), CreatedAt: when, ExpiresAt: when.Add(15 * time.Minute),
			Lines:   []domain.OrderLine{{LineNo: 1, Kind: domain.LineRegular, ProductID: veg.ID, Quantity: qty, UnitPrice: 1000}},
			Payment: domain.Payment{Nonce: "n-" + id}}
		if err := s.CreateOrder(ctx, o, domain.OrderBounds{DealUnits: 5}); err != nil {
			t.Fatal(err)
		}
	}
	pay := func(id string, when time.Time) {
		t.Helper()
		for _, step := range []error{
			s.SetReady(ctx, id, "T-"+id, "http://kakao/"+id, when),
			s.BeginDeducting(ctx, id, "pg", when, nil),
			s.BeginApproving(ctx, id, when),
			s.MarkPaid(ctx, id, "A-"+id, when),
		} {
			if step != nil {
				t.Fatalf("pay %s: %v", id, step)
			}
		}
	}
	minute := at.Add(-10 * time.Minute).Truncate(time.Minute)
	place("o-dash-1", 2, minute)
	pay("o-dash-1", minute.Add(10*time.Second))
	place("o-dash-2", 3, minute)
	pay("o-dash-2", minute.Add(50*time.Second))
	place("o-dash-3", 1, minute)
	pay("o-dash-3", minute.Add(2*time.Minute))
	place("o-dash-ready", 1, at.Add(-time.Minute))
	if err := s.SetReady(ctx, "o-dash-ready", "T", "http://kakao/T", at.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	place("o-dash-stuck", 1, at.Add(-time.Hour)) // saga left at CREATED an hour ago

	return minute
}

func checkSoldPerMinute(t *testing.T, s *mysqlstore.Store, ctx context.Context, at, minute time.Time) {
	t.Helper()
	sales, err := s.SoldPerMinute(ctx, at.Add(-30*time.Minute), at)
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.MinuteSales{{Minute: minute, Units: 5}, {Minute: minute.Add(2 * time.Minute), Units: 1}}
	if len(sales) != len(want) {
		t.Fatalf("sold per minute = %+v, want %+v", sales, want)
	}
	for i := range want {
		if !sales[i].Minute.Equal(want[i].Minute) || sales[i].Units != want[i].Units {
			t.Errorf("sold per minute[%d] = %+v, want %+v", i, sales[i], want[i])
		}
	}
	if late, err := s.SoldPerMinute(ctx, at.Add(-time.Minute), at); err != nil || len(late) != 0 {
		t.Errorf("sold in the last minute = %+v, %v; want none", late, err)
	}
}
