package api

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"shelflife/domain"
)

// The waste report answers each row with its deal sales next to its
// write-offs, and totals of both; the fields it had keep their names.
func TestWasteReportShape(t *testing.T) {
	ts, store, w, now := newExpiryShop(t)
	ctx := t.Context()
	p, err := store.CreateProduct(ctx, domain.Product{SKU: "W-1", Name: "두부", Category: "Tofu", Price: 2000})
	if err != nil {
		t.Fatal(err)
	}
	l, err := store.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, Received: 10, ExpiresAt: now.Add(-time.Hour)}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO lot_ledger (lot_id, order_key, kind, quantity, unit_price, discount_percent, created_at, updated_at)
			VALUES (%d, 'k1', 'DEDUCTED', 3, 1000, 50, '2026-11-30 05:00:00', '2026-11-30 05:00:00')`, l.ID),
		fmt.Sprintf(`INSERT INTO waste (lot_id, product_id, warehouse_id, quantity, unit_cost, value, written_off_at)
			VALUES (%d, %d, %d, 4, 2000, 8000, '2026-11-30 11:00:00')`, l.ID, p.ID, w.ID),
	} {
		if _, err := store.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	body := ts.mustDo("GET", "/api/v1/admin/waste", ts.admin, "", 200)
	var got map[string]json.RawMessage
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"total_quantity": "4", "total_value": "8000", "total_deal_quantity": "3", "total_deal_revenue": "3000"} {
		if string(got[field]) != want {
			t.Errorf("%s = %s, want %s (body %s)", field, got[field], want, body)
		}
	}
	var rows []map[string]any
	if err := json.Unmarshal(got["rows"], &rows); err != nil || len(rows) != 1 {
		t.Fatalf("rows = %s, want one row", got["rows"])
	}
	want := map[string]any{"day": "2026-11-30", "warehouse_id": float64(w.ID), "warehouse": "Mapo", "region": "Seoul",
		"quantity": float64(4), "value": float64(8000), "deal_quantity": float64(3), "deal_revenue": float64(3000)}
	if len(rows[0]) != len(want) {
		t.Errorf("row fields = %v, want %v", rows[0], want)
	}
	for k, v := range want {
		if rows[0][k] != v {
			t.Errorf("row %s = %v, want %v", k, rows[0][k], v)
		}
	}

	if status, body := ts.do("GET", "/api/v1/admin/waste?from=yesterday", ts.admin, ""); status != 400 || errorCode(t, body) != "invalid_query" {
		t.Errorf("bad from: %d %s, want 400 invalid_query", status, body)
	}
	if status, _ := ts.do("GET", "/api/v1/admin/waste", ts.shopper, ""); status != 403 {
		t.Errorf("waste report as a shopper: %d, want 403", status)
	}
}
