package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// CrossNodeResult is what CrossNode saw: the orders placed, those whose
// PAID reached the socket on another node, and those whose did not.
type CrossNodeResult struct {
	Orders  int
	Reached int
	// Missed names the orders whose socket never showed PAID, with why.
	Missed []string
}

// CrossNode has c.Shoppers shoppers each buy one unit of the site's
// product the way a cluster splits one checkout: shopper i places the
// order on node i, watches it on the order socket of node i+1 and comes
// back from Kakao Pay to node i+2 (nodes taken modulo their count), so
// the approval's status change must travel between nodes to reach the
// socket. It records, per status change received, the time from the
// change's commit to its arrival ("order_ws_other_node"), and checks that
// every socket received PAID. c.Concurrency shoppers run at once. The
// site's product needs c.Shoppers units of regular stock.
func CrossNode(ctx context.Context, c Config, site Site, nodes []string, rec *Recorder) (CrossNodeResult, error) {
	if len(nodes) < 2 {
		return CrossNodeResult{}, errors.New("cross-node check: needs two nodes at least")
	}
	res := CrossNodeResult{Orders: c.Shoppers}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(c.Concurrency, 1))
	tag := fmt.Sprintf("%d", time.Now().UnixNano())
	for i := 0; i < c.Shoppers; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			place, watch, back := nodes[i%len(nodes)], nodes[(i+1)%len(nodes)], nodes[(i+2)%len(nodes)]
			err := crossNodeOrder(ctx, c, site, fmt.Sprintf("cross-%s-%d@shelflife.test", tag, i), place, watch, back, rec)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Missed = append(res.Missed, fmt.Sprintf("shopper %d (placed on %s, watched on %s, approved on %s): %v", i, place, watch, back, err))
				return
			}
			res.Reached++
		}()
	}
	wg.Wait()
	return res, ctx.Err()
}

func crossNodeOrder(ctx context.Context, c Config, site Site, email, place, watch, back string, rec *Recorder) error {
	token, o, err := placeOn(ctx, c, site, email, place, rec)
	if err != nil {
		return err
	}
	paid, closeSocket, err := watchOrder(ctx, watch, o.OrderID, token, rec)
	if err != nil {
		return err
	}
	defer closeSocket()
	t0 := time.Now()
	loc, err := c.Client.PressButton(ctx, o.Payment.RedirectURL, "approve")
	rec.Observe("kakao_page", time.Since(t0), Code(err))
	if err != nil {
		return fmt.Errorf("kakao page: %w", err)
	}
	approval, err := onNode(loc, back)
	if err != nil {
		return err
	}
	var done struct{ Status, Reason string }
	t0 = time.Now()
	err = c.Client.Do(ctx, "GET", approval, "", nil, &done)
	rec.Observe("approve", time.Since(t0), Code(err))
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	if done.Status != "PAID" {
		return fmt.Errorf("approve answered %s %s", done.Status, done.Reason)
	}
	select {
	case err := <-paid:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("no PAID on the socket within 10 s of the approval")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// placedOrder is what crossNodeOrder needs of a new order.
type placedOrder struct {
	OrderID string `json:"order_id"`
	Payment struct {
		RedirectURL string `json:"redirect_url"`
	}
}

// placeOn signs a shopper up on node place and orders a unit there.
func placeOn(ctx context.Context, c Config, site Site, email, place string, rec *Recorder) (string, placedOrder, error) {
	var o placedOrder
	err := c.Client.Do(ctx, "POST", place+"/api/v1/auth/signup", "", map[string]any{"email": email, "password": "load-password",
		"name": "Cross node", "address": map[string]any{"label": "load", "lat": site.Lat + 0.001, "lng": site.Lng}}, nil)
	if err != nil {
		return "", o, fmt.Errorf("signup: %w", err)
	}
	var tok struct{ Token string }
	if err := c.Client.Do(ctx, "POST", place+"/api/v1/auth/login", "", map[string]string{"email": email, "password": "load-password"}, &tok); err != nil {
		return "", o, fmt.Errorf("login: %w", err)
	}
	t0 := time.Now()
	err = c.Client.Do(ctx, "POST", place+"/api/v1/orders", tok.Token, map[string]any{"items": []any{map[string]any{"product_id": site.ProductID, "quantity": 1}}}, &o)
	rec.Observe("order", time.Since(t0), Code(err))
	if err != nil {
		return "", o, fmt.Errorf("order: %w", err)
	}
	return tok.Token, o, nil
}

// watchOrder opens the order's socket on node watch; the channel gets nil
// when PAID arrives, or why it never will.
func watchOrder(ctx context.Context, watch, orderID, token string, rec *Recorder) (<-chan error, func(), error) {
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	wsURL := "ws" + trimScheme(watch) + "/api/v1/ws/orders/" + orderID + "?token=" + url.QueryEscape(token)
	conn, _, err := dialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("order socket: %w", err)
	}
	type message struct {
		Type   string
		Status string
		At     time.Time
	}
	var first message
	if err := conn.ReadJSON(&first); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("order socket's first message: %w", err)
	}
	paid := make(chan error, 1)
	go func() {
		for {
			var m message
			if err := conn.ReadJSON(&m); err != nil {
				paid <- fmt.Errorf("socket ended before PAID: %w", err)
				return
			}
			if m.Type != "order" {
				continue
			}
			rec.Observe("order_ws_other_node", time.Since(m.At), "")
			if m.Status == "PAID" {
				paid <- nil
				return
			}
		}
	}()
	return paid, func() { conn.Close() }, nil
}

// onNode moves a callback URL onto node (a base URL), keeping its path
// and query.
func onNode(callback, node string) (string, error) {
	u, err := url.Parse(callback)
	if err != nil {
		return "", fmt.Errorf("callback URL %q: %w", callback, err)
	}
	n, err := url.Parse(node)
	if err != nil {
		return "", fmt.Errorf("node URL %q: %w", node, err)
	}
	u.Scheme, u.Host = n.Scheme, n.Host
	return u.String(), nil
}

func trimScheme(base string) string {
	if len(base) >= 4 && base[:4] == "http" {
		return base[4:]
	}
	return base
}
