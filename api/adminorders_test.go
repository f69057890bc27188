package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// listedOrders is an Orders whose List pages over a fixed set the way the
// store does: newest first, then id descending, after the cursor.
type listedOrders struct {
	Orders
	all   []domain.Order
	calls []domain.OrderFilter
}

func (l *listedOrders) List(_ context.Context, f domain.OrderFilter) ([]domain.Order, error) {
	l.calls = append(l.calls, f)
	sorted := slices.Clone(l.all)
	slices.SortFunc(sorted, func(a, b domain.Order) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var out []domain.Order
	for _, o := range sorted {
		if f.Status != "" && o.Status != f.Status {
			continue
		}
		if f.BeforeID != "" && !(o.CreatedAt.Before(f.BeforeCreated) || (o.CreatedAt.Equal(f.BeforeCreated) && o.ID < f.BeforeID)) {
			continue
		}
		if len(out) == f.Limit {
			break
		}
		out = append(out, o)
	}
	return out, nil
}

func TestAdminOrdersPageWithNext(t *testing.T) {
	store := mysqltest.New(t)
	at := time.Date(2026, 11, 24, 9, 0, 0, 123456000, time.UTC)
	orders := &listedOrders{}
	for i := range 1002 {
		orders.all = append(orders.all, domain.Order{ID: fmt.Sprintf("o-%04d", i), Status: domain.StatusPaid,
			CreatedAt: at.Add(time.Duration(i/2) * time.Millisecond)})
	}
	srv, err := New(Config{JWTSecret: testSecret, BcryptCost: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Deps{Users: store, Catalog: store, Orders: orders})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, srv: srv}
	hash, _ := HashPassword("admin-password", 4)
	if _, err := store.EnsureUser(t.Context(), domain.User{Email: "root@shop.test", Name: "Root", Role: domain.RoleAdmin, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	admin := ts.login("root@shop.test", "admin-password")

	type page struct {
		Orders []struct {
			ID string `json:"order_id"`
		} `json:"orders"`
		Next *string `json:"next"`
	}
	seen := map[string]bool{}
	pages := 0
	path := "/api/v1/admin/orders"
	var body []byte
	for {
		var p page
		body = ts.mustDo("GET", path, admin, "", 200)
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range p.Orders {
			if seen[o.ID] {
				t.Fatalf("order %s on two pages", o.ID)
			}
			seen[o.ID] = true
		}
		if p.Next == nil {
			break
		}
		if len(p.Orders) != defaultOrderPage {
			t.Errorf("page %d has %d orders and a next, want %d", pages, len(p.Orders), defaultOrderPage)
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		path = "/api/v1/admin/orders?cursor=" + url.QueryEscape(*p.Next)
	}
	if len(seen) != 1002 || pages != 6 {
		t.Errorf("%d orders over %d pages, want 1002 over 6 (200 a page)", len(seen), pages)
	}

	// The last page says there is no next (null, not absent).
	if !strings.Contains(string(body), `"next":null`) {
		t.Errorf("the last page does not say next null: %.200s", body)
	}
	body = ts.mustDo("GET", "/api/v1/admin/orders?limit=3", admin, "", 200)
	var p page
	if err := json.Unmarshal(body, &p); err != nil || len(p.Orders) != 3 || p.Next == nil {
		t.Errorf("limit=3: %s", body)
	}
	if last := orders.calls[len(orders.calls)-1]; last.Limit != 4 {
		t.Errorf("the store was asked for %d orders, want limit+1 = 4", last.Limit)
	}

	for _, q := range []string{"limit=0", "limit=501", "limit=many", "cursor=not-a-cursor", "cursor=" + url.QueryEscape("bm90LWEtY3Vyc29y")} {
		code, body := ts.do("GET", "/api/v1/admin/orders?"+q, admin, "")
		if code != 400 || errorCode(t, body) != "invalid_query" {
			t.Errorf("?%s: %d %s, want 400 invalid_query", q, code, body)
		}
	}
}

func TestOrderCursorRoundTrip(t *testing.T) {
	c := OrderCursor{CreatedAt: time.Date(2026, 11, 30, 18, 0, 0, 123456000, time.UTC), ID: "0193a7b2-order"}
	got, err := ParseOrderCursor(c.String())
	if err != nil || !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID {
		t.Errorf("ParseOrderCursor(%q) = %+v, %v; want %+v", c.String(), got, err, c)
	}
}
