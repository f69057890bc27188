package node

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"shelflife/config"
	"shelflife/domain"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With metrics_addr set, metrics and the profiler are served to operators
// there, and no longer to anyone on the public address.
func TestMetricsOnOperatorAddress(t *testing.T) {
	addr := freeAddr(t)
	s := newShop(t, func(c *config.Node) { c.MetricsAddr = addr })
	get(t, s.n.URL()+"/healthz")
	if status, _ := get(t, s.n.URL()+"/metrics"); status != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404", status)
	}
	status, body := get(t, "http://"+addr+"/metrics")
	if status != 200 || !strings.Contains(body, "shelflife_http_requests_total") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("operator /metrics = %d: %.200s", status, body)
	}
	if status, _ := get(t, "http://"+addr+"/debug/pprof/"); status != 200 {
		t.Errorf("operator /debug/pprof/ = %d", status)
	}
}

// Someone who signs up with the configured admin email before the node
// starts is not made admin: the node refuses to start and says why, and the
// account stays a shopper.
func TestAdminEmailTakenByAShopperStopsStart(t *testing.T) {
	s := newShop(t)
	client{t: t, base: s.n.URL()}.must("POST", "/api/v1/auth/signup", map[string]any{"email": "boss@shop.test",
		"password": "attacker-pass-1", "name": "Not the boss"}, nil, 201)

	cfg := s.n.cfg
	cfg.AdminEmail, cfg.AdminPassword = "boss@shop.test", "operator-pass-1"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if n != nil {
		defer n.Shutdown(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "admin_email boss@shop.test") {
		t.Fatalf("start with a shopper's email as admin_email = %v, want a refusal naming admin_email", err)
	}
	u, err := s.n.Store().UserByEmail(ctx, "boss@shop.test")
	if err != nil || u.Role != domain.RoleShopper {
		t.Errorf("the shopper's account = %+v, %v; want it left a shopper", u, err)
	}
	if status, _ := (client{t: t, base: s.n.URL()}).do("POST", "/api/v1/auth/login", map[string]any{"email": "boss@shop.test", "password": "operator-pass-1"}, nil); status != http.StatusUnauthorized {
		t.Errorf("login with the operator's password = %d, want 401", status)
	}
}

// A callback with the right nonce but a wrong pg_token, sent before the
// payer's own redirect, does not end the order: the genuine redirect that
// follows pays it, once.
func TestWrongPGTokenFirstDoesNotEndTheOrder(t *testing.T) {
	s := newShop(t)
	c := s.shopper()
	o := s.order(c, map[string]any{"items": []map[string]any{{"product_id": s.milk.ID, "quantity": 1}}})
	genuine := s.pay(o, "approve")
	u, err := url.Parse(genuine)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pg_token", "not-the-payers-token")
	u.RawQuery = q.Encode()
	if status, got := s.callback(u.String()); status != http.StatusForbidden || got.Status == domain.StatusFailed {
		t.Fatalf("wrong pg_token first = %d %+v, want 403 and the order not failed", status, got)
	}
	status, got := s.callback(genuine)
	if status != 200 || got.Status != domain.StatusPaid {
		t.Fatalf("the genuine redirect after it = %d %+v, want PAID", status, got)
	}
	if p, _ := s.n.KakaoFake().Payment(o.OrderID); p.Approvals != 1 {
		t.Errorf("approvals = %d, want 1", p.Approvals)
	}
}
