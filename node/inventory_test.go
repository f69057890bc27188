package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	pb "shelflife/actors/inventorypb"
	"shelflife/clock"
	"shelflife/config"
	"shelflife/domain"
)

type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path string, body any, out any) (int, string) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

func (c client) must(method, path string, body any, out any, want int) {
	c.t.Helper()
	if got, raw := c.do(method, path, body, out); got != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
}

func login(t *testing.T, base, email, password string) client {
	t.Helper()
	var out struct{ Token string }
	client{t: t, base: base}.must("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &out, 200)
	return client{t: t, base: base, token: out.Token}
}

type socket struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan map[string]any
}

func dial(t *testing.T, url string) *socket {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	s := &socket{t: t, conn: conn, msgs: make(chan map[string]any, 100)}
	go func() {
		for {
			var m map[string]any
			if err := conn.ReadJSON(&m); err != nil {
				close(s.msgs)
				return
			}
			s.msgs <- m
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return s
}

// await returns the first message for which match is true.
func (s *socket) await(what string, match func(map[string]any) bool) map[string]any {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				s.t.Fatalf("socket closed while waiting for %s", what)
			}
			if match(m) {
				return m
			}
		case <-timeout:
			s.t.Fatalf("no %s within 10 s", what)
		}
	}
}

func num(m map[string]any, k string) int64 {
	f, _ := m[k].(float64)
	return int64(f)
}

var (
	yeonhui = "lat=37.5667&lng=126.9300"
	jamsil  = "lat=37.5133&lng=127.1001"
	suwon   = "lat=37.2636&lng=127.0286"
)

// invWorld is one node with three warehouses and milk in each: Mapo and
// Eunpyeong serve Yeonhui, Songpa serves Jamsil with a lot closing soon.
type invWorld struct {
	t                  *testing.T
	n                  *Node
	clk                *clock.Fake
	ctx                context.Context
	start              time.Time
	admin, anon        client
	milk               domain.Product
	mapo, eunp, songpa domain.Warehouse
	mapoLot, songpaLot lotResp
}

type lotResp struct {
	ID    int64  `json:"id"`
	State string `json:"state"`
}

type dealView struct {
	LotID           int64 `json:"lot_id"`
	DealPrice       int64 `json:"deal_price"`
	DiscountPercent int   `json:"discount_percent"`
	Available       int64
}

func newInvWorld(t *testing.T) *invWorld {
	cfg := testConfig(t)
	cfg.AdminPassword = "admin-pass-123"
	cfg.TokenTTL = config.Duration(30 * 24 * time.Hour) // the fake clock moves days
	w := &invWorld{t: t, start: time.Now().Truncate(time.Second)}
	w.clk = clock.NewFake(w.start)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	w.ctx = ctx
	n, err := Start(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: w.clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	w.n = n
	w.admin = login(t, n.URL(), cfg.AdminEmail, cfg.AdminPassword)
	w.anon = client{t: t, base: n.URL()}
	w.admin.must("POST", "/api/v1/admin/warehouses", map[string]any{"name": "Mapo", "region": "Seoul NW", "lat": 37.5663, "lng": 126.9016, "radius_km": 6}, &w.mapo, 201)
	w.admin.must("POST", "/api/v1/admin/warehouses", map[string]any{"name": "Eunpyeong", "region": "Seoul NW", "lat": 37.6027, "lng": 126.9291, "radius_km": 5}, &w.eunp, 201)
	w.admin.must("POST", "/api/v1/admin/warehouses", map[string]any{"name": "Songpa", "region": "Seoul SE", "lat": 37.5145, "lng": 127.1059, "radius_km": 5}, &w.songpa, 201)
	w.admin.must("POST", "/api/v1/admin/products", map[string]any{"sku": "MILK", "name": "우유", "name_en": "Milk", "category": "Dairy", "price": 3000}, &w.milk, 201)
	w.mapoLot = w.receive(w.mapo, 10, 10*24*time.Hour)
	w.receive(w.eunp, 5, 9*24*time.Hour)
	w.songpaLot = w.receive(w.songpa, 7, 30*time.Hour)
	if w.songpaLot.State != "CLOSING_SOON" || w.mapoLot.State != "REGULAR" {
		t.Errorf("states on receipt: %s, %s", w.songpaLot.State, w.mapoLot.State)
	}
	return w
}

func (w *invWorld) receive(wh domain.Warehouse, qty int, in time.Duration) lotResp {
	var l lotResp
	w.admin.must("POST", "/api/v1/admin/lots", map[string]any{"product_id": w.milk.ID, "warehouse_id": wh.ID, "quantity": qty,
		"expires_at": w.start.Add(in).Format(time.RFC3339)}, &l, 201)
	return l
}

func (w *invWorld) milkNear(q string) int64 {
	var ps []struct{ ID, Available int64 }
	w.anon.must("GET", "/api/v1/products?"+q, nil, &ps, 200)
	for _, p := range ps {
		if p.ID == w.milk.ID {
			return p.Available
		}
	}
	w.t.Fatalf("milk not listed for %s", q)
	return 0
}

func (w *invWorld) dealsNear(q string) []dealView {
	var deals []dealView
	w.anon.must("GET", "/api/v1/deals?"+q, nil, &deals, 200)
	return deals
}

// browse: shoppers see the regular stock of the warehouses serving their
// address, and the deals near it.
func (w *invWorld) browse() {
	t := w.t
	for _, tc := range []struct {
		where string
		want  int64
	}{{yeonhui, 15}, {jamsil, 0}} {
		if got := w.milkNear(tc.where); got != tc.want {
			t.Errorf("milk near %s = %d, want %d", tc.where, got, tc.want)
		}
	}
	// No warehouse serves Suwon: nothing is listed there, not milk as sold out.
	var nothing []struct{ ID int64 }
	w.anon.must("GET", "/api/v1/products?"+suwon, nil, &nothing, 200)
	if len(nothing) != 0 {
		t.Errorf("products near Suwon = %+v, want none", nothing)
	}
	if d := w.dealsNear(jamsil); len(d) != 1 || d[0].LotID != w.songpaLot.ID || d[0].DiscountPercent != 30 || d[0].DealPrice != 2100 || d[0].Available != 7 {
		t.Errorf("deals near Jamsil = %+v", d)
	}
	if d := w.dealsNear(yeonhui); len(d) != 0 {
		t.Errorf("deals near Yeonhui = %+v, want none", d)
	}
	// A signed-in shopper sees stock for the saved address.
	w.anon.must("POST", "/api/v1/auth/signup", map[string]any{"email": "lee@shop.test", "password": "lee-password", "name": "Lee",
		"address": map[string]any{"label": "잠실", "lat": 37.5133, "lng": 127.1001}}, nil, 201)
	var deals []dealView
	login(t, w.n.URL(), "lee@shop.test", "lee-password").must("GET", "/api/v1/deals", nil, &deals, 200)
	if len(deals) != 1 {
		t.Errorf("deals for the signed-in shopper = %+v", deals)
	}
	if code, body := w.anon.do("GET", "/api/v1/products", nil, nil); code != 400 || !strings.Contains(body, "address_required") {
		t.Errorf("anonymous products without an address: %d %s", code, body)
	}
	// Listings come a page at a time.
	var all, first, rest []struct{ ID int64 }
	w.anon.must("GET", "/api/v1/products?"+yeonhui, nil, &all, 200)
	w.anon.must("GET", "/api/v1/products?"+yeonhui+"&limit=1", nil, &first, 200)
	w.anon.must("GET", fmt.Sprintf("/api/v1/products?%s&offset=1&limit=%d", yeonhui, len(all)), nil, &rest, 200)
	if len(all) == 0 || len(first) != 1 || first[0] != all[0] || len(rest) != len(all)-1 || (len(rest) > 0 && rest[0] != all[1]) {
		t.Errorf("pages: all %v, first %v, rest %v", all, first, rest)
	}
	// Search, twice (the second answer is written from a reused buffer).
	for range 2 {
		if got := w.milkNear(yeonhui + "&q=" + url.QueryEscape(strings.ToUpper(w.milk.NameEn))); got != 15 {
			t.Errorf("milk searched near Yeonhui = %d, want 15", got)
		}
		if code, body := w.anon.do("GET", "/api/v1/products?"+yeonhui+"&q=no-such-product", nil, nil); code != 200 || strings.TrimSpace(body) != "[]" {
			t.Errorf("a search matching nothing: %d %s", code, body)
		}
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "offset=-1"} {
		if code, body := w.anon.do("GET", "/api/v1/products?"+yeonhui+"&"+q, nil, nil); code != 400 || !strings.Contains(body, "invalid_query") {
			t.Errorf("products with %s: %d %s", q, code, body)
		}
		if code, body := w.anon.do("GET", "/api/v1/deals?"+jamsil+"&"+q, nil, nil); code != 400 || !strings.Contains(body, "invalid_query") {
			t.Errorf("deals with %s: %d %s", q, code, body)
		}
	}
}

// sale: a deduction reaches a shopper's and an admin's socket and the
// listings.
func (w *invWorld) sale() {
	t := w.t
	wsBase := "ws" + strings.TrimPrefix(w.n.URL(), "http")
	shopperWS := dial(t, wsBase+"/api/v1/ws/stock?"+yeonhui)
	adminWS := dial(t, wsBase+"/api/v1/admin/ws/stock?token="+w.admin.token)
	time.Sleep(100 * time.Millisecond) // let the server register the subscribers
	resp, err := w.n.Lots().Deduct(w.ctx, w.mapoLot.ID, "order-1", 3, pb.Channel_REGULAR)
	if err != nil || resp.Reason != pb.Reason_OK {
		t.Fatalf("deduct = %v, %v", resp, err)
	}
	shopperWS.await("product update", func(m map[string]any) bool {
		return m["type"] == "product" && num(m, "product_id") == w.milk.ID && num(m, "available") == 12
	})
	var soldSeq int64
	adminWS.await("admin lot update", func(m map[string]any) bool {
		soldSeq = num(m, "seq")
		return num(m, "lot_id") == w.mapoLot.ID && num(m, "on_hand") == 7
	})
	// The admin listing says the same commit sequence as the message of
	// the same commit: a page keeps the newer of the two by it.
	var listed []struct {
		ID     int64
		OnHand int64 `json:"on_hand"`
		Seq    int64
	}
	w.admin.must("GET", fmt.Sprintf("/api/v1/admin/lots?product_id=%d&warehouse_id=%d", w.milk.ID, w.mapo.ID), nil, &listed, 200)
	if len(listed) != 1 || listed[0].ID != w.mapoLot.ID || listed[0].OnHand != 7 || listed[0].Seq != soldSeq || soldSeq < 1 {
		t.Errorf("the Mapo lot listed as %+v after a message with seq %d", listed, soldSeq)
	}
	if got := w.milkNear(yeonhui); got != 12 {
		t.Errorf("milk near Yeonhui after a sale = %d, want 12", got)
	}
	var lots []struct {
		ID     int64
		State  string
		OnHand int64 `json:"on_hand"`
	}
	w.admin.must("GET", "/api/v1/admin/lots?expiring_within=48h", nil, &lots, 200)
	if len(lots) != 1 || lots[0].ID != w.songpaLot.ID || lots[0].State != "CLOSING_SOON" {
		t.Errorf("lots expiring within 48 h = %+v", lots)
	}
}

// expiry: the Songpa lot's own timer writes it off.
func (w *invWorld) expiry() {
	t := w.t
	jamsilWS := dial(t, "ws"+strings.TrimPrefix(w.n.URL(), "http")+"/api/v1/ws/stock?"+jamsil)
	time.Sleep(100 * time.Millisecond) // let the server register the subscriber
	w.clk.Advance(31 * time.Hour)
	jamsilWS.await("deal gone", func(m map[string]any) bool {
		return m["type"] == "deal" && num(m, "lot_id") == w.songpaLot.ID && num(m, "available") == 0
	})
	if d := w.dealsNear(jamsil); len(d) != 0 {
		t.Errorf("deals near Jamsil after expiry = %+v", d)
	}
	var report struct {
		TotalQuantity int64 `json:"total_quantity"`
		TotalValue    int64 `json:"total_value"`
		Rows          []struct {
			Region string
		}
	}
	w.admin.must("GET", "/api/v1/admin/waste", nil, &report, 200)
	if report.TotalQuantity != 7 || report.TotalValue != 7*3000 || len(report.Rows) != 1 || report.Rows[0].Region != "Seoul SE" {
		t.Errorf("waste report = %+v", report)
	}
}

// sweep: a lot whose grain never ran (written straight to MySQL) is
// brought up to date once its transition passed.
func (w *invWorld) sweep() {
	t := w.t
	l, err := w.n.Store().CreateLot(w.ctx, domain.Lot{ProductID: w.milk.ID, WarehouseID: w.eunp.ID, ExpiresAt: w.clk.Now().Add(72 * time.Hour), Received: 4}, w.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(25 * time.Hour)
	if woke := w.n.Sweep(); woke < 1 {
		t.Errorf("sweep woke %d lots, want at least 1", woke)
	}
	var state string
	deadline := time.Now().Add(10 * time.Second)
	for state != "CLOSING_SOON" && time.Now().Before(deadline) {
		w.n.Store().DB().QueryRow("SELECT state FROM lots WHERE id = ?", l.ID).Scan(&state)
		time.Sleep(20 * time.Millisecond)
	}
	if state != "CLOSING_SOON" {
		t.Errorf("swept lot state %q, want CLOSING_SOON", state)
	}
}

func TestInventoryEndToEnd(t *testing.T) {
	w := newInvWorld(t)
	w.browse()
	w.sale()
	w.expiry()
	w.sweep()
	// Conservation over every lot.
	var bad int
	w.n.Store().DB().QueryRow("SELECT COUNT(*) FROM lots WHERE received <> on_hand + deducted - restored + written_off").Scan(&bad)
	if bad != 0 {
		t.Errorf("%d lots break conservation", bad)
	}
}

func TestReceiveLotValidation(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminPassword = "admin-pass-123"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	admin := login(t, n.URL(), cfg.AdminEmail, cfg.AdminPassword)
	var w domain.Warehouse
	var p domain.Product
	admin.must("POST", "/api/v1/admin/warehouses", map[string]any{"name": "W", "region": "R", "lat": 37.5, "lng": 127, "radius_km": 3}, &w, 201)
	admin.must("POST", "/api/v1/admin/products", map[string]any{"sku": "S", "name": "n", "category": "c", "price": 100}, &p, 201)
	future := time.Now().Add(72 * time.Hour).Format(time.RFC3339)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"zero quantity", fmt.Sprintf(`{"product_id":%d,"warehouse_id":%d,"quantity":0,"expires_at":%q}`, p.ID, w.ID, future), 400, "validation_failed"},
		{"past expiry", fmt.Sprintf(`{"product_id":%d,"warehouse_id":%d,"quantity":1,"expires_at":"2020-01-01T00:00:00Z"}`, p.ID, w.ID), 400, "validation_failed"},
		{"no offset", fmt.Sprintf(`{"product_id":%d,"warehouse_id":%d,"quantity":1,"expires_at":"2030-01-01 00:00"}`, p.ID, w.ID), 400, "validation_failed"},
		{"missing product", fmt.Sprintf(`{"warehouse_id":%d,"quantity":1,"expires_at":%q}`, w.ID, future), 400, "validation_failed"},
		{"unknown product", fmt.Sprintf(`{"product_id":999999,"warehouse_id":%d,"quantity":1,"expires_at":%q}`, w.ID, future), 404, "product_not_found"},
		{"unknown warehouse", fmt.Sprintf(`{"product_id":%d,"warehouse_id":999999,"quantity":1,"expires_at":%q}`, p.ID, future), 404, "warehouse_not_found"},
		{"quantity as text", fmt.Sprintf(`{"product_id":%d,"warehouse_id":%d,"quantity":"5","expires_at":%q}`, p.ID, w.ID, future), 400, "invalid_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", n.URL()+"/api/v1/admin/lots", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+admin.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(raw), `"code":"`+tt.code+`"`) {
				t.Errorf("status %d body %s, want %d %s", resp.StatusCode, raw, tt.status, tt.code)
			}
		})
	}
	for _, q := range []string{"expiring_within=soon", "state=FRESH", "warehouse_id=-1", "limit=0"} {
		if code, body := admin.do("GET", "/api/v1/admin/lots?"+q, nil, nil); code != 400 || !strings.Contains(body, "invalid_query") {
			t.Errorf("GET lots?%s = %d %s", q, code, body)
		}
	}
	var none []any
	admin.must("GET", "/api/v1/admin/lots?state=EXPIRED", nil, &none, 200)
	if len(none) != 0 {
		t.Errorf("expired lots = %v", none)
	}
}
