package node

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"shelflife/config"
	"shelflife/kakaopay/kakaofake"
)

// orderRows counts the order, line and payment rows of the shop (each
// test shop has a database of its own).
func (s *shop) orderRows() (orders, lines, payments int) {
	s.t.Helper()
	db := s.n.Store().DB()
	for q, n := range map[string]*int{"orders": &orders, "order_lines": &lines, "payments": &payments} {
		if err := db.QueryRow("SELECT COUNT(*) FROM " + q).Scan(n); err != nil {
			s.t.Fatal(err)
		}
	}
	return
}

// A ready call that Kakao Pay refuses is a 502, not an order: no rows stay,
// the stock near the shopper is what it was, and the same shopper can order
// again once Kakao Pay takes payments.
func TestRefusedReadyIsAnErrorNotAnOrder(t *testing.T) {
	s := newShop(t)
	c := s.shopper()
	s.n.KakaoFake().Inject("*", kakaofake.Injection{Mode: kakaofake.RefuseReady})
	before := s.lotRow(s.deal)

	status, body := c.do("POST", "/api/v1/orders", map[string]any{"items": []map[string]any{{"lot_id": s.deal, "quantity": 2}}}, nil)
	if status != http.StatusBadGateway || !strings.Contains(body, `"code":"payment_unavailable"`) {
		t.Fatalf("order with a refused ready = %d %s, want 502 payment_unavailable", status, body)
	}
	if o, l, p := s.orderRows(); o+l+p != 0 {
		t.Errorf("a refused ready left %d orders, %d lines and %d payments", o, l, p)
	}
	if after := s.lotRow(s.deal); after != before {
		t.Errorf("deal lot changed from %+v to %+v", before, after)
	}

	s.n.KakaoFake().Inject("*", kakaofake.Injection{})
	o := s.order(c, map[string]any{"items": []map[string]any{{"lot_id": s.deal, "quantity": 2}}})
	if o.Payment.TID == "" {
		t.Fatalf("order after Kakao Pay came back = %+v", o)
	}
}

// Kakao Pay that does not answer at all is a 503 with Retry-After, and no
// order stays.
func TestUnreachableKakaoPayIsRetryable(t *testing.T) {
	s := newShop(t, func(c *config.Node) {
		c.KakaoBaseURL = "http://127.0.0.1:1" // nothing listens there
		c.KakaoTimeout = config.Duration(2 * time.Second)
	})
	c := s.shopper()
	req, _ := http.NewRequest("POST", s.n.URL()+"/api/v1/orders", strings.NewReader(fmt.Sprintf(`{"items":[{"product_id":%d,"quantity":1}]}`, s.milk.ID)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("order with Kakao Pay unreachable = %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if o, l, p := s.orderRows(); o+l+p != 0 {
		t.Errorf("an unreachable Kakao Pay left %d orders, %d lines and %d payments", o, l, p)
	}
}
