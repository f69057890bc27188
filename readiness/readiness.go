// Package readiness runs a node's dependency checks in the background and
// keeps each one's latest answer, so that /readyz answers from memory: a
// probe costs no round trips to MySQL, Redis, Kafka or the cluster, and a
// flood of probes cannot load them.
package readiness

import (
	"context"
	"fmt"
	"sync"
	"time"

	"shelflife/periodic"
)

// Check is one dependency check.
type Check func(ctx context.Context) error

// Checker keeps the latest answer of each check.
type Checker struct {
	checks   map[string]Check
	interval time.Duration
	timeout  time.Duration
	now      func() time.Time

	mu      sync.Mutex
	results map[string]result
	job     *periodic.Job
}

type result struct {
	err error
	at  time.Time // when the answer came
}

// New makes a checker that has run no round yet.
func New(checks map[string]Check, interval, timeout time.Duration) *Checker {
	return &Checker{checks: checks, interval: interval, timeout: timeout, now: time.Now, results: map[string]result{}}
}

// Start runs one round of checks before it returns (so /readyz is right
// from the first request), then one round every interval until Close.
func Start(ctx context.Context, checks map[string]Check, interval, timeout time.Duration) *Checker {
	r := New(checks, interval, timeout)
	r.round(ctx)
	r.job = periodic.StartLater(interval, r.round)
	return r
}

// round runs every check at once, each within timeout, and records the
// answers as they come.
func (r *Checker) round(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for name, check := range r.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := check(ctx)
			r.mu.Lock()
			r.results[name] = result{err: err, at: r.now()}
			r.mu.Unlock()
		}()
	}
	wg.Wait()
}

// staleAfter is how old an answer may be before it no longer counts: a
// check that stopped answering (hung past its timeout) reads as failed.
func (r *Checker) staleAfter() time.Duration { return 2*r.interval + r.timeout }

// latest is the last answer of the check called name.
func (r *Checker) latest(name string) error {
	r.mu.Lock()
	res, ok := r.results[name]
	r.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("%s: not checked yet", name)
	case r.now().Sub(res.at) > r.staleAfter():
		return fmt.Errorf("%s: no answer for %s", name, r.now().Sub(res.at).Round(time.Second))
	}
	return res.err
}

// Cached are checks that read the latest answers.
func (r *Checker) Cached() map[string]Check {
	out := make(map[string]Check, len(r.checks))
	for name := range r.checks {
		out[name] = func(context.Context) error { return r.latest(name) }
	}
	return out
}

// Close stops the background rounds.
func (r *Checker) Close(ctx context.Context) error { return r.job.Close(ctx) }
