package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"shelflife/loadtest"
)

// checkoutResult is one shopper's checkout: order, the Kakao Pay page,
// the approval redirect (retried while it answers 503, as a payer's
// browser reloading).
type checkoutResult struct {
	start, end time.Time
	order      string
	status     string // final status answered, "" when the order was refused
	code       string // the failing step's code ("" when PAID)
	token      string // the shopper's
}

// sale is shoppers checking out one unit each, over and over, until
// stopped; a probe measures when checkouts succeed again.
type sale struct {
	c    loadtest.Config
	site loadtest.Site
	// tokens are the shoppers'.
	tokens []string

	mu      sync.Mutex
	results []checkoutResult
	stop    chan struct{}
	wg      sync.WaitGroup
}

func signup(ctx context.Context, c loadtest.Config, site loadtest.Site, n int) ([]string, error) {
	tag := fmt.Sprint(time.Now().UnixNano())
	var tokens []string
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("chaos-%s-%d@shelflife.test", tag, i)
		base := c.Client.Target()
		if err := c.Client.Do(ctx, "POST", base+"/api/v1/auth/signup", "", map[string]any{"email": email, "password": "chaos-password",
			"name": fmt.Sprintf("Chaos %d", i), "address": map[string]any{"label": "chaos", "lat": site.Lat + 0.001, "lng": site.Lng}}, nil); err != nil {
			return nil, fmt.Errorf("signup: %w", err)
		}
		var out struct{ Token string }
		if err := c.Client.Do(ctx, "POST", base+"/api/v1/auth/login", "", map[string]string{"email": email, "password": "chaos-password"}, &out); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		tokens = append(tokens, out.Token)
	}
	return tokens, nil
}

func startSale(c loadtest.Config, site loadtest.Site, tokens []string) *sale {
	s := &sale{c: c, site: site, tokens: tokens, stop: make(chan struct{})}
	for _, tok := range tokens {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				select {
				case <-s.stop:
					return
				default:
				}
				r := s.checkout(context.Background(), tok)
				s.mu.Lock()
				s.results = append(s.results, r)
				s.mu.Unlock()
				if r.code != "" {
					// A shopper refused tries again a little later.
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	return s
}

// end stops the shoppers and waits for their last checkouts.
func (s *sale) end() []checkoutResult {
	close(s.stop)
	s.wg.Wait()
	return s.results
}

func (s *sale) checkout(ctx context.Context, token string) checkoutResult {
	r := checkoutResult{start: time.Now(), token: token}
	defer func() { r.end = time.Now() }()
	base := s.c.Client.Target()
	var o struct {
		OrderID string `json:"order_id"`
		Payment struct {
			RedirectURL string `json:"redirect_url"`
		}
	}
	item := map[string]any{"product_id": s.site.ProductID, "quantity": 1}
	if err := s.c.Client.Do(ctx, "POST", base+"/api/v1/orders", token, map[string]any{"items": []any{item}}, &o); err != nil {
		r.code = "order:" + loadtest.Code(err)
		r.end = time.Now()
		return r
	}
	r.order = o.OrderID
	loc, err := s.c.Client.PressButton(ctx, o.Payment.RedirectURL, "approve")
	if err != nil {
		r.code, r.status, r.end = "kakao_page:"+loadtest.Code(err), "UNKNOWN", time.Now()
		return r
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var done struct{ Status, Reason string }
		err := s.c.Client.Do(ctx, "GET", loc, "", nil, &done)
		if err == nil {
			r.status = done.Status
			if done.Status != "PAID" {
				r.code = "approve:" + strings.ToLower(done.Status) + ":" + done.Reason
			}
			r.end = time.Now()
			return r
		}
		var ae *loadtest.APIError
		retry := !errors.As(err, &ae) || ae.Status == http.StatusServiceUnavailable
		if !retry || time.Now().After(deadline) {
			r.code, r.status, r.end = "approve:"+loadtest.Code(err), "UNKNOWN", time.Now()
			return r
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// probeRecovery checks out from restored on, one after another, until one
// is PAID, and answers how long after restored that was.
func (s *sale) probeRecovery(token string, restored time.Time, limit time.Duration) (time.Duration, checkoutResult) {
	for time.Since(restored) < limit {
		r := s.checkout(context.Background(), token)
		s.mu.Lock()
		s.results = append(s.results, r)
		s.mu.Unlock()
		if r.status == "PAID" {
			return r.end.Sub(restored), r
		}
		time.Sleep(20 * time.Millisecond)
	}
	return -1, checkoutResult{}
}

// readyWatch polls /readyz and notes when each check first failed after
// a mark.
type readyWatch struct {
	base string
	mu   sync.Mutex
	mark time.Time
	seen map[string]time.Duration
	// early counts the answers that named a check before the mark.
	early map[string]int
	stop  chan struct{}
	done  chan struct{}
}

func watchReady(base string) *readyWatch {
	w := &readyWatch{base: base, seen: map[string]time.Duration{}, early: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			resp, err := client.Get(w.base + "/readyz")
			if err != nil {
				continue
			}
			var out struct{ Checks map[string]string }
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			w.mu.Lock()
			for name, st := range out.Checks {
				if st == "ok" {
					continue
				}
				if w.mark.IsZero() {
					w.early[name]++
				} else if _, ok := w.seen[name]; !ok {
					w.seen[name] = time.Since(w.mark)
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// from starts counting at the fault's start.
func (w *readyWatch) from(t time.Time) {
	w.mu.Lock()
	w.mark = t
	w.mu.Unlock()
}

// named is how long after the mark /readyz named dep (-1: never).
func (w *readyWatch) named(dep string) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if d, ok := w.seen[dep]; ok {
		return d
	}
	return -1
}

// before says which checks /readyz named before the mark, and how many
// times ("" none): false alarms, the dependencies being up.
func (w *readyWatch) before() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for name, n := range w.early {
		parts = append(parts, fmt.Sprintf("%s named %d times", name, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func (w *readyWatch) close() { close(w.stop); <-w.done }

// codes counts the failing steps' codes.
func codes(rs []checkoutResult) string {
	n := map[string]int{}
	for _, r := range rs {
		if r.code != "" {
			n[r.code]++
		}
	}
	var keys []string
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}
