package loadtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// FloodResult is what a callback flood sent and how the node answered.
type FloodResult struct {
	Sent     int64         `json:"sent"`
	ByStatus map[int]int64 `json:"by_status"`
	Errors   int64         `json:"transport_errors"`
	Seconds  float64       `json:"seconds"`
	Rate     float64       `json:"rate"`
	statuses [600]atomic.Int64
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CallbackFlood sends n forged Kakao Pay callbacks (approve, cancel and
// fail, each with a made-up order id and nonce) from workers goroutines, as
// an anonymous attacker would. It stops early when ctx ends.
func CallbackFlood(ctx context.Context, c Config, n, workers int) *FloodResult {
	res := &FloodResult{ByStatus: map[int]int64{}}
	kinds := []string{"approve", "cancel", "fail"}
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				u := fmt.Sprintf("%s/api/v1/payments/kakao/%s?order_id=o%s&nonce=%s&pg_token=%s",
					c.Client.Target(), kinds[i%3], randomToken(8), randomToken(16), randomToken(10))
				status, err := c.Client.Status(ctx, u)
				if err != nil {
					errs.Add(1)
					continue
				}
				if status > 0 && status < len(res.statuses) {
					res.statuses[status].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Errors = errs.Load()
	for s := range res.statuses {
		if v := res.statuses[s].Load(); v > 0 {
			res.ByStatus[s] = v
			res.Sent += v
		}
	}
	res.Sent += res.Errors
	if res.Seconds > 0 {
		res.Rate = float64(res.Sent) / res.Seconds
	}
	return res
}

// Status sends a GET and returns the status, without following redirects.
func (c *Client) Status(ctx context.Context, url string) (int, error) {
	var status int
	err := c.send(ctx, http.MethodGet, url, "", false, nil, func(resp *fasthttp.Response) error {
		status = resp.StatusCode()
		return nil
	})
	return status, err
}

// ResidentBytes reads a node's resident memory from its Prometheus metrics
// (process_resident_memory_bytes) at metricsURL.
func (c *Client) ResidentBytes(ctx context.Context, metricsURL string) (int64, error) {
	v, err := c.metric(ctx, metricsURL, "process_resident_memory_bytes")
	return int64(v), err
}

// metric reads one unlabelled metric's value from a node's Prometheus
// metrics at metricsURL.
func (c *Client) metric(ctx context.Context, metricsURL, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: HTTP %d", metricsURL, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", metricsURL, name)
}

// FloodReport compares checkouts with and without a flood of forged
// callbacks running at the same time, and the node's memory over it.
type FloodReport struct {
	Flood *FloodResult `json:"flood"`
	// Checkout latency p99 (ms) of the order and approve steps, in a sale
	// alone and in the same sale during the flood.
	OrderP99Alone    float64 `json:"order_p99_alone_ms"`
	OrderP99Flood    float64 `json:"order_p99_flood_ms"`
	ApproveP99Alone  float64 `json:"approve_p99_alone_ms"`
	ApproveP99Flood  float64 `json:"approve_p99_flood_ms"`
	CheckoutP99Ratio float64 `json:"checkout_p99_ratio"` // the worse of the two steps
	// Resident memory of the node (MB) before the flood and at its peak.
	RSSBeforeMB float64 `json:"rss_before_mb"`
	RSSPeakMB   float64 `json:"rss_peak_mb"`
	RSSGrowthMB float64 `json:"rss_growth_mb"`
	PaidAlone   int     `json:"paid_alone"`
	PaidFlood   int     `json:"paid_flood"`
}

func stepP99(rec *Recorder, step string) float64 {
	for _, s := range rec.Summary().Steps {
		if s.Step == step {
			return s.P99
		}
	}
	return 0
}

func paid(res FlashResult) int {
	n := 0
	for _, st := range res.Orders {
		if st == "PAID" {
			n++
		}
	}
	return n
}

// FloodDuringCheckout runs a flash sale alone, then the same sale again
// while callbacks forged callbacks are sent by workers goroutines, and
// samples the node's resident memory (from metricsURL) throughout.
func FloodDuringCheckout(ctx context.Context, c Config, site Site, callbacks, workers int, metricsURL string) (FloodReport, error) {
	var r FloodReport
	alone := NewRecorder()
	res, err := FlashSale(ctx, c, site, alone)
	if err != nil {
		return r, fmt.Errorf("the sale alone: %w", err)
	}
	r.PaidAlone = paid(res)
	before, err := c.Client.ResidentBytes(ctx, metricsURL)
	if err != nil {
		return r, fmt.Errorf("node memory: %w", err)
	}
	peak := before
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
				if v, err := c.Client.ResidentBytes(sampleCtx, metricsURL); err == nil && v > peak {
					peak = v
				}
			}
		}
	}()
	flooded := make(chan *FloodResult, 1)
	go func() { flooded <- CallbackFlood(ctx, c, callbacks, workers) }()
	during := NewRecorder()
	res, err = FlashSale(ctx, c, site, during)
	r.Flood = <-flooded
	stopSampling()
	<-sampled
	if err != nil {
		return r, fmt.Errorf("the sale during the flood: %w", err)
	}
	r.PaidFlood = paid(res)
	r.OrderP99Alone, r.OrderP99Flood = stepP99(alone, "order"), stepP99(during, "order")
	r.ApproveP99Alone, r.ApproveP99Flood = stepP99(alone, "approve"), stepP99(during, "approve")
	if r.OrderP99Alone > 0 && r.ApproveP99Alone > 0 {
		r.CheckoutP99Ratio = max(r.OrderP99Flood/r.OrderP99Alone, r.ApproveP99Flood/r.ApproveP99Alone)
	}
	r.RSSBeforeMB, r.RSSPeakMB = float64(before)/(1<<20), float64(peak)/(1<<20)
	r.RSSGrowthMB = r.RSSPeakMB - r.RSSBeforeMB
	return r, nil
}
