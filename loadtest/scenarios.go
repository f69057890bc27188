package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is what every scenario shares.
type Config struct {
	Client        *Client
	AdminEmail    string
	AdminPassword string
	// KakaoURL is the fake Kakao Pay's base URL (its ledger is read and
	// declines are injected there). Empty with FindKakao: Setup finds it
	// from a payment's redirect URL and returns it in Site.KakaoURL.
	KakaoURL    string
	FindKakao   bool
	Shoppers    int
	Stock       int64
	Deal        bool
	Duration    time.Duration
	Rate        float64 // open loop, requests per second (browse)
	Concurrency int     // closed loop
	Subscribers int
	// Warehouses is how many warehouses city-sockets spreads over.
	Warehouses  int
	DeclineRate float64
	// Cheapest, when positive: the flash sale first measures the cheapest
	// route (/healthz, closed loop with Concurrency clients) this long,
	// after the signups, so that its rate compares with the sale's.
	Cheapest time.Duration
	// MetricsURL is a node's Prometheus metrics, for its CPU time (the
	// flash sale's CPU per paid checkout) and memory; empty skips both.
	MetricsURL string
	// NodeMetrics are the metrics of every node the dashboard's sockets
	// are on, for their memory per socket and CPU per delivered message.
	NodeMetrics []string
	// MySQLPIDs are the MySQL servers whose CPU counts (none: every
	// MariaDB or MySQL server on this machine).
	MySQLPIDs []int
}

// Site is the place a run sets up: a warehouse, a product, a hot lot.
type Site struct {
	AdminToken  string
	WarehouseID int64
	ProductID   int64
	LotID       int64
	Lat, Lng    float64
	// KakaoURL is the fake Kakao Pay the node pays through.
	KakaoURL string
}

func (c Config) admin(ctx context.Context) (string, error) {
	var out struct{ Token string }
	err := c.Client.Do(ctx, "POST", c.Client.Target()+"/api/v1/auth/login", "", map[string]string{"email": c.AdminEmail, "password": c.AdminPassword}, &out)
	return out.Token, err
}

// Setup creates a warehouse in central Seoul, a product and the hot lot
// (a deal lot expiring within 48 h, or a regular one) through the admin API.
func Setup(ctx context.Context, c Config) (Site, error) {
	tok, err := c.admin(ctx)
	if err != nil {
		return Site{}, fmt.Errorf("admin login: %w", err)
	}
	s := Site{AdminToken: tok, Lat: 37.5700, Lng: 126.9800}
	tag := fmt.Sprintf("%d", time.Now().UnixNano())
	var w, p, l struct{ ID int64 }
	base := c.Client.Target()
	if err := c.Client.Do(ctx, "POST", base+"/api/v1/admin/warehouses", tok, map[string]any{"name": "Load " + tag, "region": "Load test",
		"lat": s.Lat, "lng": s.Lng, "radius_km": 3}, &w); err != nil {
		return s, fmt.Errorf("warehouse: %w", err)
	}
	if err := c.Client.Do(ctx, "POST", base+"/api/v1/admin/products", tok, map[string]any{"sku": "FLASH-" + tag, "name": "반짝 특가 " + tag,
		"name_en": "Flash sale " + tag, "category": "Flash", "price": 10000}, &p); err != nil {
		return s, fmt.Errorf("product: %w", err)
	}
	expires := time.Now().Add(30 * 24 * time.Hour)
	if c.Deal {
		expires = time.Now().Add(30 * time.Hour)
	}
	if err := c.Client.Do(ctx, "POST", base+"/api/v1/admin/lots", tok, map[string]any{"product_id": p.ID, "warehouse_id": w.ID,
		"quantity": c.Stock, "expires_at": expires.Format(time.RFC3339)}, &l); err != nil {
		return s, fmt.Errorf("lot: %w", err)
	}
	s.WarehouseID, s.ProductID, s.LotID = w.ID, p.ID, l.ID
	s.KakaoURL = c.KakaoURL
	if s.KakaoURL == "" && c.FindKakao {
		if s.KakaoURL, err = findKakao(ctx, c, s, tag); err != nil {
			return s, fmt.Errorf("find the fake Kakao Pay (or give -kakao): %w", err)
		}
	}
	if c.DeclineRate > 0 {
		if err := c.Client.Do(ctx, "POST", s.KakaoURL+"/fake/v1/inject", "", map[string]any{"decline_rate": c.DeclineRate}, nil); err != nil {
			return s, fmt.Errorf("inject declines at the fake Kakao Pay: %w", err)
		}
	}
	return s, nil
}

// findKakao asks the node where it sends payers: a probe shopper orders a
// unit of a probe product (its own lot, so the hot lot is untouched), and
// the payment's redirect URL names the Kakao Pay it uses. The payer then
// cancels on that page, which releases the unit. The probe's order is not
// one of the run's, so the invariant check ignores it.
func findKakao(ctx context.Context, c Config, s Site, tag string) (string, error) {
	base := c.Client.Target()
	var p, l struct{ ID int64 }
	if err := c.Client.Do(ctx, "POST", base+"/api/v1/admin/products", s.AdminToken, map[string]any{"sku": "PROBE-" + tag,
		"name": "탐색 " + tag, "name_en": "Probe " + tag, "category": "Flash", "price": 1000}, &p); err != nil {
		return "", fmt.Errorf("probe product: %w", err)
	}
	if err := c.Client.Do(ctx, "POST", base+"/api/v1/admin/lots", s.AdminToken, map[string]any{"product_id": p.ID, "warehouse_id": s.WarehouseID,
		"quantity": 1, "expires_at": time.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)}, &l); err != nil {
		return "", fmt.Errorf("probe lot: %w", err)
	}
	email := fmt.Sprintf("load-probe-%s@shelflife.test", tag)
	if err := c.Client.Do(ctx, "POST", base+"/api/v1/auth/signup", "", map[string]any{"email": email, "password": "load-password",
		"name": "Load probe", "address": map[string]any{"label": "load", "lat": s.Lat + 0.001, "lng": s.Lng}}, nil); err != nil {
		return "", fmt.Errorf("probe signup: %w", err)
	}
	var login struct{ Token string }
	if err := c.Client.Do(ctx, "POST", base+"/api/v1/auth/login", "", map[string]string{"email": email, "password": "load-password"}, &login); err != nil {
		return "", fmt.Errorf("probe login: %w", err)
	}
	var o struct {
		Payment struct {
			RedirectURL string `json:"redirect_url"`
		}
	}
	if err := c.Client.Do(ctx, "POST", base+"/api/v1/orders", login.Token, map[string]any{"items": []any{map[string]any{"product_id": p.ID, "quantity": 1}}}, &o); err != nil {
		return "", fmt.Errorf("probe order: %w", err)
	}
	kakao, err := KakaoBase(o.Payment.RedirectURL)
	if err != nil {
		return "", err
	}
	if loc, err := c.Client.PressButton(ctx, o.Payment.RedirectURL, "cancel"); err == nil && loc != "" {
		c.Client.Do(ctx, "GET", loc, "", nil, nil) // the node releases the probe's unit
	}
	return kakao, nil
}

// KakaoBase is the scheme and host of a payment's redirect URL: the base
// URL of the Kakao Pay that issued it.
func KakaoBase(redirectURL string) (string, error) {
	u, err := url.Parse(redirectURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("the payment's redirect URL %q names no Kakao Pay", redirectURL)
	}
	return u.Scheme + "://" + u.Host, nil
}

type shopper struct {
	token string
}

// FlashResult is what a flash sale leaves for the checker and the report.
type FlashResult struct {
	Orders map[string]string // order id -> final status
	Units  map[string]int64
	// The sale itself, from the start signal to the last checkout's
	// answer: HTTP requests made and time taken.
	SaleRequests int64
	SaleElapsed  time.Duration
	// CheapestRate is /healthz's rate measured just before (0 if not).
	CheapestRate float64
	// CheapestCPU is the node's CPU per /healthz request in that
	// measurement, in milliseconds (0 when not read): what the cheapest
	// answer costs on this machine, the unit for the sale's CPU.
	// CheapestClientCPU is the load generator's per request it made there:
	// what the cheapest HTTP call costs its caller.
	CheapestCPU, CheapestClientCPU float64
	// PaidPageThenSoldOut counts shoppers given the payment page who paid
	// there and were then refused for stock: 0 when the shop holds stock
	// before it hands out a payment page.
	PaidPageThenSoldOut int64
	// CPU spent per paid checkout during the sale, when it could be read.
	CPU   CPUPerCheckout
	CPUOK bool
}

// SaleRate is the sale's HTTP requests per second.
func (r FlashResult) SaleRate() float64 {
	if r.SaleElapsed <= 0 {
		return 0
	}
	return float64(r.SaleRequests) / r.SaleElapsed.Seconds()
}

// FlashSale signs up c.Shoppers shoppers near the site, then has them all
// try to buy one unit of the hot lot at the same moment, each through the
// whole checkout: order, the Kakao Pay page, the approval redirect.
func FlashSale(ctx context.Context, c Config, site Site, rec *Recorder) (FlashResult, error) {
	shoppers := make([]shopper, c.Shoppers)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(c.Concurrency, 1))
	tag := fmt.Sprintf("%d", time.Now().UnixNano())
	var signupErr atomic.Value
	for i := range shoppers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			email := fmt.Sprintf("load-%s-%d@shelflife.test", tag, i)
			base := c.Client.Target()
			t0 := time.Now()
			err := c.Client.Do(ctx, "POST", base+"/api/v1/auth/signup", "", map[string]any{"email": email, "password": "load-password",
				"name": fmt.Sprintf("Load %d", i), "address": map[string]any{"label": "load", "lat": site.Lat + 0.001, "lng": site.Lng}}, nil)
			rec.Observe("signup", time.Since(t0), Code(err))
			if err != nil {
				signupErr.CompareAndSwap(nil, err)
				return
			}
			var out struct{ Token string }
			t0 = time.Now()
			err = c.Client.Do(ctx, "POST", base+"/api/v1/auth/login", "", map[string]string{"email": email, "password": "load-password"}, &out)
			rec.Observe("login", time.Since(t0), Code(err))
			shoppers[i].token = out.Token
		}()
	}
	wg.Wait()
	if err, ok := signupErr.Load().(error); ok {
		return FlashResult{}, fmt.Errorf("signup: %w", err)
	}

	res := FlashResult{Orders: map[string]string{}, Units: map[string]int64{}}
	if c.Cheapest > 0 {
		// The same division as per paid checkout, over the requests made.
		before := c.ReadCPU(ctx)
		res.CheapestRate = ClosedLoop(ctx, c, "/healthz", c.Cheapest, rec, "cheapest_route")
		if cpu, ok := PerCheckout(before, c.ReadCPU(ctx), int(res.CheapestRate*c.Cheapest.Seconds())); ok {
			res.CheapestCPU, res.CheapestClientCPU = cpu.Node, cpu.LoadGenerator
		}
	}
	// The floor: the same crowd at the same instant, each asking the
	// cheapest route once, on connections already open as in the sale
	// (the first round opens them and is not counted). No answer in the
	// sale can come sooner than this crowd's on this machine.
	for _, step := range []string{"", CrowdFloorStep} {
		crowd(len(shoppers), func(int) {
			t0 := time.Now()
			err := c.Client.Do(ctx, "GET", c.Client.Target()+"/healthz", "", nil, nil)
			if step != "" {
				rec.Observe(step, time.Since(t0), Code(err))
			}
		})
		time.Sleep(200 * time.Millisecond)
	}
	var mu sync.Mutex
	var requests, paidThenSoldOut atomic.Int64
	item := map[string]any{"product_id": site.ProductID, "quantity": 1}
	if c.Deal {
		item = map[string]any{"lot_id": site.LotID, "quantity": 1}
	}
	cpuBefore := c.ReadCPU(ctx)
	t0 := time.Now()
	crowd(len(shoppers), func(i int) {
		s := shoppers[i]
		if s.token == "" {
			return
		}
		id, status, reason := checkout(ctx, c, s, item, rec, &requests)
		if status == "FAILED" && reason == "insufficient_stock" {
			paidThenSoldOut.Add(1)
		}
		if id != "" {
			mu.Lock()
			res.Orders[id] = status
			res.Units[id] = 1
			mu.Unlock()
		}
	})
	res.SaleElapsed, res.SaleRequests = time.Since(t0), requests.Load()
	res.PaidPageThenSoldOut = paidThenSoldOut.Load()
	res.CPU, res.CPUOK = PerCheckout(cpuBefore, c.ReadCPU(ctx), paid(res))
	return res, nil
}

// CrowdFloorStep is the step timing the flash sale's crowd asking /healthz
// all at once, just before the sale.
const CrowdFloorStep = "crowd_healthz"

// crowd runs fn(0) … fn(n-1), each on a goroutine of its own, released at
// the same instant once all are waiting, and returns when all are done.
func crowd(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start) // everyone at once
	done.Wait()
}

// soldOut reports whether an order refusal says the stock is gone.
func soldOut(code string) bool { return code == "sold_out" || code == "insufficient_stock" }

// checkout runs one shopper's checkout; requests counts its HTTP requests.
// It answers the order id, its final status and the reason of a failure.
// A refusal of the order for stock is also timed as the step "sold_out".
func checkout(ctx context.Context, c Config, s shopper, item map[string]any, rec *Recorder, requests *atomic.Int64) (string, string, string) {
	base := c.Client.Target()
	var o struct {
		OrderID string `json:"order_id"`
		Status  string
		Payment struct {
			RedirectURL string `json:"redirect_url"`
		}
	}
	requests.Add(1)
	t0 := time.Now()
	err := c.Client.Do(ctx, "POST", base+"/api/v1/orders", s.token, map[string]any{"items": []any{item}}, &o)
	took := time.Since(t0)
	rec.Observe("order", took, Code(err))
	if err != nil {
		if soldOut(Code(err)) {
			rec.Observe("sold_out", took, "")
		}
		return "", "", ""
	}
	requests.Add(1)
	t0 = time.Now()
	loc, err := c.Client.PressButton(ctx, o.Payment.RedirectURL, "approve")
	rec.Observe("kakao_page", time.Since(t0), Code(err))
	if err != nil {
		return o.OrderID, o.Status, ""
	}
	var done struct{ Status, Reason string }
	requests.Add(1)
	t0 = time.Now()
	err = c.Client.Do(ctx, "GET", loc, "", nil, &done)
	code := Code(err)
	if err == nil && done.Status != "PAID" {
		code = strings.ToLower(done.Status) + ":" + done.Reason
	}
	rec.Observe("approve", time.Since(t0), code)
	if err != nil {
		return o.OrderID, "UNKNOWN", ""
	}
	return o.OrderID, done.Status, done.Reason
}

// ObserveRun reads back what the checker needs: the orders' final statuses
// (through the admin API), the hot lot and the fake Kakao Pay's ledger.
// Compensations are eventually consistent (outbox, Kafka, the restore
// consumer), so it waits up to settle for the lot to match the PAID orders
// before it reads the rest.
func ObserveRun(ctx context.Context, c Config, site Site, res FlashResult, settle time.Duration) (Observed, error) {
	o := Observed{Stock: c.Stock, OrderStatus: map[string]string{}, OrderUnits: res.Units}
	base := c.Client.Target()
	var paidUnits int64
	for id := range res.Orders {
		var ord struct{ Status string }
		if err := c.Client.Do(ctx, "GET", base+"/api/v1/orders/"+id, site.AdminToken, nil, &ord); err != nil {
			return o, fmt.Errorf("order %s: %w", id, err)
		}
		o.OrderStatus[id] = ord.Status
		if ord.Status == "PAID" {
			paidUnits += res.Units[id]
		}
	}
	deadline := time.Now().Add(settle)
	for {
		var lots []LotState
		if err := c.Client.Do(ctx, "GET", fmt.Sprintf("%s/api/v1/admin/lots?product_id=%d", base, site.ProductID), site.AdminToken, nil, &lots); err != nil {
			return o, fmt.Errorf("lots: %w", err)
		}
		o.Lots = lots
		var taken int64
		for _, l := range lots {
			taken += l.Deducted - l.Restored
		}
		if taken == paidUnits || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var ledger struct{ Payments []Payment }
	if err := c.Client.Do(ctx, "GET", c.KakaoURL+"/fake/v1/ledger", "", nil, &ledger); err != nil {
		return o, fmt.Errorf("kakao ledger: %w", err)
	}
	o.Payments = ledger.Payments
	return o, nil
}

// Browse asks for products and deals at random addresses near the site at
// c.Rate requests per second (open loop) for c.Duration.
func Browse(ctx context.Context, c Config, site Site, rec *Recorder) {
	rate := c.Rate
	if rate <= 0 {
		rate = 1000
	}
	interval := time.Duration(float64(time.Second) / rate)
	deadline := time.Now().Add(c.Duration)
	tick := time.NewTicker(max(interval, 50*time.Microsecond))
	defer tick.Stop()
	sem := make(chan struct{}, max(c.Concurrency, 64))
	var wg sync.WaitGroup
	for time.Now().Before(deadline) && ctx.Err() == nil {
		<-tick.C
		select {
		case sem <- struct{}{}:
		default:
			rec.Observe("browse", 0, "client_saturated")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			lat, lng := site.Lat+(rand.Float64()-0.5)*0.04, site.Lng+(rand.Float64()-0.5)*0.04
			path := "/api/v1/products"
			if rand.IntN(3) == 0 {
				path = "/api/v1/deals"
			}
			t0 := time.Now()
			err := c.Client.Do(ctx, "GET", fmt.Sprintf("%s%s?lat=%.5f&lng=%.5f", c.Client.Target(), path, lat, lng), "", nil, nil)
			rec.Observe("browse", time.Since(t0), Code(err))
		}()
	}
	wg.Wait()
}

// ClosedLoop hammers one route with c.Concurrency clients for d and
// reports requests per second (for the browse-to-cheapest-route ratio).
func ClosedLoop(ctx context.Context, c Config, path string, d time.Duration, rec *Recorder, step string) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < max(c.Concurrency, 1); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				err := c.Client.Do(ctx, "GET", c.Client.Target()+path, "", nil, nil)
				rec.Observe(step, time.Since(t0), Code(err))
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// ErrInvariants reports a run whose invariants failed.
var ErrInvariants = errors.New("invariants failed")
