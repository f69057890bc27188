package api

import (
	"encoding/json"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// dashboardShop is a server over a store with one warehouse, one product
// and one lot expiring in 3 hours, at a fixed time.
type dashboardShop struct {
	ts  *testServer
	w   domain.Warehouse
	p   domain.Product
	now time.Time
}

func newDashboardShop(t *testing.T) *dashboardShop {
	t.Helper()
	store := mysqltest.New(t)
	now := time.Date(2026, 11, 30, 12, 0, 30, 0, time.UTC)
	ts := newTestServerOn(t, store, Deps{Dashboard: store}, func(c *Config) { c.Now = func() time.Time { return now } })

	ctx := t.Context()
	w, err := store.CreateWarehouse(ctx, domain.Warehouse{Name: "송파 센터 Songpa", Region: "Seoul", Lat: 37.51, Lng: 127.1, RadiusKm: 5})
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.CreateProduct(ctx, domain.Product{SKU: "D-1", Name: "시금치 300g", NameEn: "Spinach 300g", Category: "Vegetables", Price: 2980})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, Received: 7, ExpiresAt: now.Add(3 * time.Hour)}, now); err != nil {
		t.Fatal(err)
	}

	return &dashboardShop{ts: ts, w: w, p: p, now: now}
}

func TestDashboardRoutes(t *testing.T) {
	t.Parallel()
	d := newDashboardShop(t)
	ts := d.ts
	t.Run("catalog names products and warehouses for anyone", d.catalog)
	t.Run("summary", d.summary)
	t.Run("sales per minute covers whole minutes up to the current one", d.salesPerMinute)
	for _, tc := range []struct {
		path, token string
		status      int
		code        string
	}{
		{"/api/v1/admin/dashboard", "shopper", 403, ""},
		{"/api/v1/admin/dashboard", "", 401, ""},
		{"/api/v1/admin/dashboard?stuck_for=soon", "admin", 400, "invalid_query"},
		{"/api/v1/admin/sales/per-minute?minutes=0", "admin", 400, "invalid_query"},
		{"/api/v1/admin/sales/per-minute?minutes=1441", "admin", 400, "invalid_query"},
		{"/api/v1/admin/sales/per-minute", "shopper", 403, ""},
	} {
		t.Run(tc.path+" as "+tc.token, func(t *testing.T) {
			tok := map[string]string{"admin": ts.admin, "shopper": ts.shopper}[tc.token]
			status, body := ts.do("GET", tc.path, tok, "")
			if status != tc.status {
				t.Fatalf("status %d, want %d; body %s", status, tc.status, body)
			}
			if tc.code != "" {
				if got := errorCode(t, body); got != tc.code {
					t.Errorf("code %q, want %q", got, tc.code)
				}
			}
		})
	}
}

func (d *dashboardShop) catalog(t *testing.T) {
	var got struct {
		Products   []catalogProduct   `json:"products"`
		Warehouses []catalogWarehouse `json:"warehouses"`
	}
	if err := json.Unmarshal(d.ts.mustDo("GET", "/api/v1/catalog", "", "", 200), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Products) != 1 || got.Products[0] != (catalogProduct{ID: d.p.ID, SKU: "D-1", Name: "시금치 300g", NameEn: "Spinach 300g", Category: "Vegetables"}) {
		t.Errorf("products = %+v", got.Products)
	}
	if len(got.Warehouses) != 1 || got.Warehouses[0] != (catalogWarehouse{ID: d.w.ID, Name: "송파 센터 Songpa", Region: "Seoul"}) {
		t.Errorf("warehouses = %+v", got.Warehouses)
	}
}

func (d *dashboardShop) summary(t *testing.T) {
	var got domain.DashboardSummary
	if err := json.Unmarshal(d.ts.mustDo("GET", "/api/v1/admin/dashboard", d.ts.admin, "", 200), &got); err != nil {
		t.Fatal(err)
	}
	want := domain.StockCell{WarehouseID: d.w.ID, Category: "Vegetables", Deal: 7}
	if len(got.Stock) != 1 || got.Stock[0] != want {
		t.Errorf("stock = %+v, want [%+v]", got.Stock, want)
	}
	if got.LotsExpiring6h != 1 || got.LotsExpiring48h != 1 {
		t.Errorf("expiring 6h, 48h = %d, %d; want 1, 1", got.LotsExpiring6h, got.LotsExpiring48h)
	}
	if !got.StuckBefore.Equal(d.now.Add(-5 * time.Minute)) {
		t.Errorf("stuck_before = %v, want 5 minutes before %v", got.StuckBefore, d.now)
	}
	if got.OrdersByStatus == nil {
		t.Error("orders_by_status is null, want {}")
	}
}

func (d *dashboardShop) salesPerMinute(t *testing.T) {
	var got struct {
		From    time.Time            `json:"from"`
		To      time.Time            `json:"to"`
		Minutes []domain.MinuteSales `json:"minutes"`
	}
	if err := json.Unmarshal(d.ts.mustDo("GET", "/api/v1/admin/sales/per-minute?minutes=10", d.ts.admin, "", 200), &got); err != nil {
		t.Fatal(err)
	}
	wantTo := time.Date(2026, 11, 30, 12, 1, 0, 0, time.UTC)
	if !got.To.Equal(wantTo) || !got.From.Equal(wantTo.Add(-10*time.Minute)) || got.Minutes == nil || len(got.Minutes) != 0 {
		t.Errorf("got from %v to %v minutes %v; want %v to %v and []", got.From, got.To, got.Minutes, wantTo.Add(-10*time.Minute), wantTo)
	}
}

func TestDashboardWithoutFigures(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	status, body := ts.do("GET", "/api/v1/admin/dashboard", ts.admin, "")
	if status != 501 || errorCode(t, body) != "not_configured" {
		t.Errorf("status %d body %s, want 501 not_configured", status, body)
	}
}
