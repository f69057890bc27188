// Package loadtest drives ShelfLife over its public HTTP and WebSocket API
// the way crowds of shoppers and dashboards would, records latencies in HDR
// histograms, and checks the shop's invariants afterwards: nothing
// oversold, stock conserved, no money taken without a PAID order.
package loadtest

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Recorder collects latencies per step and errors per code. It is safe for
// concurrent use.
type Recorder struct {
	mu     sync.Mutex
	steps  map[string]*hdrhistogram.Histogram
	errors map[string]int64
	start  time.Time

	requests atomic.Int64
	failed   atomic.Int64
}

// NewRecorder starts recording now.
func NewRecorder() *Recorder {
	return &Recorder{steps: map[string]*hdrhistogram.Histogram{}, errors: map[string]int64{}, start: time.Now()}
}

// Observe records one request of step that took d; code is "" on success.
func (r *Recorder) Observe(step string, d time.Duration, code string) {
	r.requests.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.steps[step]
	if !ok {
		// 1 µs to 2 min, 3 significant figures.
		h = hdrhistogram.New(1, 120_000_000, 3)
		r.steps[step] = h
	}
	h.RecordValue(max(d.Microseconds(), 1))
	if code != "" {
		r.failed.Add(1)
		r.errors[step+": "+code]++
	}
}

// Progress is what a progress line shows.
type Progress struct {
	Requests, Errors int64
	Elapsed          time.Duration
}

// Progress reads the counters.
func (r *Recorder) Progress() Progress {
	return Progress{Requests: r.requests.Load(), Errors: r.failed.Load(), Elapsed: time.Since(r.start)}
}

// StepStats summarises one step.
type StepStats struct {
	Step  string  `json:"step"`
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// Summary is the recorder's result; latencies in milliseconds.
type Summary struct {
	Elapsed    time.Duration    `json:"-"`
	Requests   int64            `json:"requests"`
	Throughput float64          `json:"throughput"`
	Steps      []StepStats      `json:"steps"`
	Errors     map[string]int64 `json:"errors"`
}

func ms(us int64) float64 { return float64(us) / 1000 }

// Summary reads the histograms.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Summary{Elapsed: time.Since(r.start), Requests: r.requests.Load(), Errors: map[string]int64{}}
	s.Throughput = float64(s.Requests) / s.Elapsed.Seconds()
	for name, h := range r.steps {
		s.Steps = append(s.Steps, StepStats{Step: name, Count: h.TotalCount(),
			P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
			P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max())})
	}
	sort.Slice(s.Steps, func(i, j int) bool { return s.Steps[i].Step < s.Steps[j].Step })
	for k, v := range r.errors {
		s.Errors[k] = v
	}
	return s
}
