package node

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"shelflife/domain"
)

// TestUnpaidOrdersAreCapped: one shopper may have max_unpaid_orders orders
// waiting for payment, however many are sent at once; paying one makes
// room, and other shoppers are not held up.
func TestUnpaidOrdersAreCapped(t *testing.T) {
	s := newShop(t)
	if s.n.cfg.MaxUnpaidOrders != 3 {
		t.Fatalf("max_unpaid_orders %d, want the default 3", s.n.cfg.MaxUnpaidOrders)
	}
	shopper := s.shopper()
	item := map[string]any{"items": []map[string]any{{"product_id": s.milk.ID, "quantity": 1}}}
	const sent = 10
	var mu sync.Mutex
	var placed []orderView
	codes := map[string]int{}
	var wg sync.WaitGroup
	for range sent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var o orderView
			status, raw := shopper.do("POST", "/api/v1/orders", item, &o)
			mu.Lock()
			defer mu.Unlock()
			if status == 201 {
				placed = append(placed, o)
				return
			}
			var e struct{ Error struct{ Code string } }
			json.Unmarshal([]byte(raw), &e)
			codes[fmt.Sprintf("%d %s", status, e.Error.Code)]++
		}()
	}
	wg.Wait()
	if len(placed) != 3 || codes["409 too_many_unpaid_orders"] != sent-3 {
		t.Fatalf("%d orders placed, refusals %v; want 3 placed and %d refused with 409 too_many_unpaid_orders", len(placed), codes, sent-3)
	}
	status, raw := shopper.do("POST", "/api/v1/orders", item, nil)
	if status != 409 || !strings.Contains(raw, "too_many_unpaid_orders") {
		t.Fatalf("a fourth order: %d %s", status, raw)
	}
	s.shopper().must("POST", "/api/v1/orders", item, nil, 201) // others order

	if code, o := s.callback(s.pay(placed[0], "approve")); code != 200 || o.Status != domain.StatusPaid {
		t.Fatalf("paying: %d %+v", code, o)
	}
	shopper.must("POST", "/api/v1/orders", item, nil, 201)
}
