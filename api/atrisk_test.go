package api

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/inventory"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// newExpiryShop is a server whose inventory service runs over its own
// store at a fixed now, with one warehouse.
func newExpiryShop(t *testing.T) (*testServer, *mysqlstore.Store, domain.Warehouse, time.Time) {
	t.Helper()
	t.Parallel()
	store := mysqltest.New(t)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	inv := &inventory.Service{Store: store, Risk: store, Now: func() time.Time { return now }}
	ts := newTestServerOn(t, store, Deps{Inventory: inv}, func(c *Config) { c.Now = func() time.Time { return now } })
	w, err := store.CreateWarehouse(t.Context(), domain.Warehouse{Name: "Mapo", Region: "Seoul", Lat: 37.55, Lng: 126.9, RadiusKm: 5})
	if err != nil {
		t.Fatal(err)
	}
	return ts, store, w, now
}

// The at-risk list answers the lots at risk, worst value first, with the
// fields the admin page reads, to admins only, and bad queries with codes.
func TestAtRiskRoute(t *testing.T) {
	ts, store, w, now := newExpiryShop(t)
	ctx := t.Context()
	tofu, _ := store.CreateProduct(ctx, domain.Product{SKU: "R-1", Name: "두부", Category: "Tofu", Price: 2000})
	beef, _ := store.CreateProduct(ctx, domain.Product{SKU: "R-2", Name: "소고기", Category: "Meat", Price: 9000})
	lot := func(p domain.Product, qty int64, left time.Duration) int64 {
		t.Helper()
		l, err := store.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, Received: qty, ExpiresAt: now.Add(left)}, now)
		if err != nil {
			t.Fatal(err)
		}
		return l.ID
	}
	idleDeal := lot(tofu, 30, 20*time.Hour) // no sale of its own
	idleBeef := lot(beef, 4, 60*time.Hour)  // no sale: 4 x 9000 at risk
	selling := lot(tofu, 2, 40*time.Hour)   // sells out
	_ = lot(beef, 5, 10*24*time.Hour)       // behind idleBeef: 5 x 9000, far out
	for i := range 12 {                     // tofu: one an hour in the other deal lot
		at := now.Add(-time.Duration(i)*time.Hour - time.Minute).UTC().Format("2006-01-02 15:04:05")
		if _, err := store.DB().ExecContext(ctx, fmt.Sprintf(`INSERT INTO lot_ledger (lot_id, order_key, kind, quantity, unit_price, discount_percent, created_at, updated_at)
			VALUES (%d, 'k%d', 'DEDUCTED', 1, 1400, 30, '%s', '%s')`, selling, i, at, at)); err != nil {
			t.Fatal(err)
		}
	}

	var got struct {
		At            time.Time        `json:"at"`
		Weighed       int              `json:"weighed"`
		AtRisk        int              `json:"at_risk"`
		WindowHours   float64          `json:"window_hours"`
		HalfLifeHours float64          `json:"half_life_hours"`
		Lots          []map[string]any `json:"lots"`
	}
	body := ts.mustDo("GET", "/api/v1/admin/lots/at-risk?within=720h", ts.admin, "", 200)
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(now) || got.Weighed != 4 || got.AtRisk != 3 || got.WindowHours != 24 || got.HalfLifeHours != 6 || len(got.Lots) != 3 {
		t.Fatalf("answer %s: want at %s, 4 weighed, 3 at risk over 24 h with a 6 h half-life", body, now)
	}
	// The beef lots have no sale of their own or of the product: all units
	// are at risk; idle tofu takes the product's rate, so less than all.
	first := got.Lots[0]
	if first["product_id"] != float64(beef.ID) || first["value_at_risk"] != float64(45000) || first["action"] != "none" || first["rate_source"] != "none" {
		t.Errorf("first = %v, want the far beef lot, 45000 at risk, no action yet", first)
	}
	second := got.Lots[1]
	if second["lot_id"] != float64(idleBeef) || second["action"] != "move_to_deals_early" || second["value_at_risk"] != float64(36000) {
		t.Errorf("second = %v, want lot %d moved to deals early with 36000 at risk", second, idleBeef)
	}
	third := got.Lots[2]
	if third["lot_id"] != float64(idleDeal) || third["action"] != "mark_down_now" || third["rate_source"] != "product" || third["state"] != "CLOSING_SOON" {
		t.Errorf("third = %v, want lot %d, marked down, on the product's rate", third, idleDeal)
	}
	if u := third["expected_unsold"].(float64); u <= 5 || u >= 25 {
		t.Errorf("idle tofu expected unsold = %v, want between 5 and 25 (30 less about 0.8 an hour for 20 h)", u)
	}
	for _, k := range []string{"lot_id", "product_id", "warehouse_id", "state", "expires_at", "hours_left", "on_hand", "rate_per_hour", "rate_source", "expected_unsold", "unit_price", "value_at_risk", "action"} {
		if _, ok := first[k]; !ok {
			t.Errorf("field %s missing from %v", k, first)
		}
	}

	body = ts.mustDo("GET", fmt.Sprintf("/api/v1/admin/lots/at-risk?limit=1&within=720h&warehouse_id=%d", w.ID), ts.admin, "", 200)
	if err := json.Unmarshal(body, &got); err != nil || got.AtRisk != 3 || len(got.Lots) != 1 {
		t.Errorf("limit 1: %s, want 3 at risk and one listed", body)
	}
	// By default the horizon is 72 h: the beef lot 10 days out is not weighed.
	body = ts.mustDo("GET", "/api/v1/admin/lots/at-risk", ts.admin, "", 200)
	if err := json.Unmarshal(body, &got); err != nil || got.Weighed != 3 || got.AtRisk != 2 || got.Lots[0]["lot_id"] != float64(idleBeef) {
		t.Errorf("default horizon: %s, want 3 weighed, lot %d first of 2", body, idleBeef)
	}
	for _, tc := range []struct {
		path, token string
		status      int
		code        string
	}{
		{"/api/v1/admin/lots/at-risk?limit=0", ts.admin, 400, "invalid_query"},
		{"/api/v1/admin/lots/at-risk?limit=1001", ts.admin, 400, "invalid_query"},
		{"/api/v1/admin/lots/at-risk?warehouse_id=abc", ts.admin, 400, "invalid_query"},
		{"/api/v1/admin/lots/at-risk?within=soon", ts.admin, 400, "invalid_query"},
		{"/api/v1/admin/lots/at-risk?within=30m", ts.admin, 400, "invalid_query"},
		{"/api/v1/admin/lots/at-risk?warehouse_id=999", ts.admin, 404, "warehouse_not_found"},
		{"/api/v1/admin/lots/at-risk", ts.shopper, 403, "forbidden"},
		{"/api/v1/admin/lots/at-risk", "", 401, "missing_token"},
	} {
		status, body := ts.do("GET", tc.path, tc.token, "")
		if status != tc.status || errorCode(t, body) != tc.code {
			t.Errorf("GET %s: %d %s, want %d %s", tc.path, status, body, tc.status, tc.code)
		}
	}
}
