package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// A shopper's page on the second node follows the product's stock on a
// socket (/api/v1/ws/stock) and an order's status on another
// (/api/v1/ws/orders/{id}). The broker faults check them as a page would:
// a stock socket kept open through the fault, one opened afresh after it,
// an order's socket opened after the fault for an order paid during it.

// stockSocket reads a stock socket and keeps what it heard of one product.
type stockSocket struct {
	conn    *websocket.Conn
	product int64

	mu     sync.Mutex
	last   int64
	lastAt time.Time
	heard  int
	times  []time.Time // when each update came
	ended  error       // why the socket ended (nil while open)
	wake   chan struct{}
}

func wsURL(base, path string) string {
	return "ws" + strings.TrimPrefix(base, "http") + path
}

// openStockSocket opens the stock socket of the shop near (lat, lng) on
// the node at base.
func openStockSocket(ctx context.Context, base string, lat, lng float64, product int64) (*stockSocket, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	u := wsURL(base, fmt.Sprintf("/api/v1/ws/stock?lat=%f&lng=%f", lat, lng))
	conn, _, err := d.DialContext(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("stock socket: %w", err)
	}
	s := &stockSocket{conn: conn, product: product, wake: make(chan struct{}, 1)}
	go s.read()
	return s, nil
}

func (s *stockSocket) read() {
	for {
		var m struct {
			Type      string `json:"type"`
			ProductID int64  `json:"product_id"`
			Available int64  `json:"available"`
		}
		err := s.conn.ReadJSON(&m)
		s.mu.Lock()
		if err != nil {
			s.ended = err
		} else if m.Type == "product" && m.ProductID == s.product {
			s.last, s.lastAt, s.heard = m.Available, time.Now(), s.heard+1
			s.times = append(s.times, s.lastAt)
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// state is what the socket heard last, how many updates, and when.
func (s *stockSocket) state() (last int64, at time.Time, heard int, ended error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.lastAt, s.heard, s.ended
}

// converge waits until the socket's last update, heard after from, says
// what the listing of the node at base says, and answers when it came.
// Units given back (compensations) move the quantity up and down after a
// sale, so the socket is compared with the listing, not a number.
func (s *stockSocket) converge(e *env, base string, from time.Time, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for {
		want, lerr := listed(e, base)
		last, at, heard, ended := s.state()
		if lerr == nil && heard > 0 && !at.Before(from) && last == want {
			return at, nil
		}
		if ended != nil {
			return time.Time{}, fmt.Errorf("the socket ended (%v) having heard %d last", ended, last)
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d heard last (at %s), the listing says %d (%v)", last, at.Format("15:04:05.000"), want, lerr)
		}
		select {
		case <-s.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// between counts the updates that came from a to b.
func (s *stockSocket) between(a, b time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, at := range s.times {
		if !at.Before(a) && at.Before(b) {
			n++
		}
	}
	return n
}

// firstAfter is when the first update after t came (zero if none).
func (s *stockSocket) firstAfter(t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.times {
		if at.After(t) {
			return at
		}
	}
	return time.Time{}
}

func (s *stockSocket) close() { s.conn.Close() }

// orderSocket opens the order's socket on the node at base and answers a
// channel of the statuses it pushes, the current one first.
func orderSocket(ctx context.Context, base, orderID, token string) (<-chan string, func(), error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	u := wsURL(base, "/api/v1/ws/orders/"+orderID+"?token="+url.QueryEscape(token))
	conn, _, err := d.DialContext(ctx, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("order socket: %w", err)
	}
	out := make(chan string, 16)
	go func() {
		defer close(out)
		for {
			var m struct{ Type, Status string }
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			if m.Type == "order" {
				out <- m.Status
			}
		}
	}()
	return out, func() { conn.Close() }, nil
}

// nextStatus waits up to limit for the socket's next status.
func nextStatus(ch <-chan string, limit time.Duration) (string, error) {
	select {
	case st, ok := <-ch:
		if !ok {
			return "", errors.New("the socket ended")
		}
		return st, nil
	case <-time.After(limit):
		return "", fmt.Errorf("nothing within %s", limit)
	}
}

// listed is the product's quantity in the listing of the node at base.
func listed(e *env, base string) (int64, error) {
	var list []struct {
		ID        int64 `json:"id"`
		Available int64 `json:"available"`
	}
	u := fmt.Sprintf("%s/api/v1/products?lat=%f&lng=%f", base, e.site.Lat+0.001, e.site.Lng)
	if err := e.c.Client.Do(context.Background(), "GET", u, "", nil, &list); err != nil {
		return 0, err
	}
	for _, p := range list {
		if p.ID == e.site.ProductID {
			return p.Available, nil
		}
	}
	return 0, fmt.Errorf("product %d not listed", e.site.ProductID)
}

// socketsResume checks the peer node's sockets after a broker fault, once
// the sale has ended and both listings agree:
//   - kept, the stock socket open since before the fault, hears changes
//     after it and ends in step with the node's listing (or, if the node
//     closed it, that is noted and a page would open it again, as below);
//   - a stock socket opened now, with the listing read as a page does,
//     hears a new order placed on the selling node, in step with the
//     listing;
//   - that order's socket, opened on the peer, says PAYMENT_READY first
//     and then PAID when it is paid on the selling node;
//   - the socket of an order paid during the fault, opened now, says PAID.
//
// It answers the order it placed and paid ("" if none).
func socketsResume(e *env, kept *stockSocket, token string, results []checkoutResult, restored time.Time) (order string) {
	ctx := context.Background()
	peer := e.peer.URL()
	if _, _, heard, ended := kept.state(); ended != nil {
		e.note("the stock socket kept open was closed by the node (%v) after %d updates", ended, heard)
	} else if at, err := kept.converge(e, peer, restored, 10*time.Second); err != nil {
		e.fail("the stock socket kept open through the fault: %v", err)
	} else {
		_, _, heard, _ := kept.state()
		// Past the fault's first second (events already on their way),
		// a cut Kafka brings the other node nothing.
		e.note("stock socket kept open: %d updates, %d in the fault's last %s, the first after the return %s after it, in step with the listing once the sale ended (%s after the return)",
			heard, kept.between(e.at.Add(time.Second), restored), dur(restored.Sub(e.at.Add(time.Second))),
			dur(kept.firstAfter(restored).Sub(restored)), dur(at.Sub(restored)))
	}

	// A page opened now: the listing, then the socket, then a change.
	fresh, err := openStockSocket(ctx, peer, e.site.Lat+0.001, e.site.Lng, e.site.ProductID)
	if err != nil {
		e.fail("a stock socket after the fault: %v", err)
		return ""
	}
	defer fresh.close()
	if _, err := listed(e, peer); err != nil {
		e.fail("the peer's listing on reopening: %v", err)
	}
	var o struct {
		OrderID string `json:"order_id"`
		Payment struct {
			RedirectURL string `json:"redirect_url"`
		}
	}
	placed := time.Now()
	item := map[string]any{"product_id": e.site.ProductID, "quantity": 1}
	if err := e.c.Client.Do(ctx, "POST", e.node.URL()+"/api/v1/orders", token, map[string]any{"items": []any{item}}, &o); err != nil {
		e.fail("an order after the fault: %v", err)
		return
	}
	if at, err := fresh.converge(e, peer, placed, 5*time.Second); err != nil {
		e.fail("a stock socket opened after the fault, on an order placed on the other node: %v", err)
	} else {
		e.note("stock socket reopened: the next order heard, in step with the listing, in %s", dur(at.Sub(placed)))
	}

	statuses, closeOrder, err := orderSocket(ctx, peer, o.OrderID, token)
	if err != nil {
		e.fail("%v", err)
		return
	}
	defer closeOrder()
	if st, err := nextStatus(statuses, 5*time.Second); st != "PAYMENT_READY" {
		e.fail("the order socket's first status: %q (%v), want PAYMENT_READY", st, err)
		return
	}
	paidAt := time.Now()
	loc, err := e.c.Client.PressButton(ctx, o.Payment.RedirectURL, "approve")
	if err == nil {
		var done struct{ Status string }
		if err = e.c.Client.Do(ctx, "GET", loc, "", nil, &done); err == nil && done.Status != "PAID" {
			err = fmt.Errorf("answered %s", done.Status)
		}
	}
	if err != nil {
		e.fail("paying the order after the fault: %v", err)
		return
	}
	order = o.OrderID
	var seen []string
	for {
		st, err := nextStatus(statuses, 5*time.Second)
		if err != nil {
			e.fail("the order socket on the other node after the payment: %v after %v, want PAID", err, seen)
			break
		}
		seen = append(seen, st)
		if st == "PAID" {
			e.note("order socket on the other node: %s, PAID in %s", strings.Join(seen, " then "), dur(time.Since(paidAt)))
			break
		}
		if st != "PROCESSING" {
			e.fail("the order socket on the other node after the payment: %v, want PAID", seen)
			break
		}
	}

	// An order paid during the fault: its socket says so at once.
	for _, r := range results {
		if r.status != "PAID" || !r.start.After(e.at) || !r.end.Before(restored) {
			continue
		}
		ch, closeIt, err := orderSocket(ctx, peer, r.order, r.token)
		if err != nil {
			e.fail("%v", err)
			return
		}
		defer closeIt()
		if st, err := nextStatus(ch, 5*time.Second); st != "PAID" {
			e.fail("the socket of an order paid during the fault: %q (%v), want PAID", st, err)
		} else {
			e.note("an order paid during the fault: its socket says PAID")
		}
		return order
	}
	e.note("no order was paid during the fault to ask its socket about")
	return order
}
