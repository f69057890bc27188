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
	// deadline bounds each check: its context ends then, an answer that
	// comes later counts as failed, and a check still running past it
	// reads as failed at once, without waiting for it. A dependency that
	// stopped answering (a network blackhole, a hung server) is so named
	// within interval+deadline of its last answer.
	deadline time.Duration
	now      func() time.Time

	mu      sync.Mutex
	results map[string]result
	// running holds when each check still running started; a check is
	// not started again while it runs.
	running map[string]time.Time
	started sync.WaitGroup
	job     *periodic.Job
}

type result struct {
	err error
	at  time.Time // when the answer came
}

// New makes a checker that has run no round yet.
func New(checks map[string]Check, interval, deadline time.Duration) *Checker {
	return &Checker{checks: checks, interval: interval, deadline: deadline,
		now: time.Now, results: map[string]result{}, running: map[string]time.Time{}}
}

// Start runs one round of checks before it returns (so /readyz is right
// from the first request), then one round every interval until Close.
func Start(ctx context.Context, checks map[string]Check, interval, deadline time.Duration) *Checker {
	r := New(checks, interval, deadline)
	r.round(ctx).Wait()
	r.job = periodic.StartLater(interval, func(ctx context.Context) { r.round(ctx) })
	return r
}

// round starts every check that is not still running, each within the
// deadline, and records the answers as they come; it does not wait for
// them, so one hung check delays no other.
func (r *Checker) round(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	for name, check := range r.checks {
		r.mu.Lock()
		_, busy := r.running[name]
		if !busy {
			r.running[name] = r.now()
		}
		r.mu.Unlock()
		if busy {
			continue
		}
		wg.Add(1)
		r.started.Add(1)
		go func() {
			defer r.started.Done()
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, r.deadline)
			defer cancel()
			err := check(cctx)
			r.mu.Lock()
			defer r.mu.Unlock()
			now := r.now()
			if took := now.Sub(r.running[name]); err == nil && took > r.deadline {
				err = fmt.Errorf("%s: answered after %s, past the %s deadline", name, took.Round(10*time.Millisecond), r.deadline)
			}
			delete(r.running, name)
			r.results[name] = result{err: err, at: now}
		}()
	}
	return &wg
}

// staleAfter is how old an answer may be before it no longer counts (the
// rounds stopped).
func (r *Checker) staleAfter() time.Duration { return 2*r.interval + r.deadline }

// latest is the last answer of the check called name.
func (r *Checker) latest(name string) error {
	r.mu.Lock()
	res, ok := r.results[name]
	since, running := r.running[name]
	r.mu.Unlock()
	switch {
	case running && r.now().Sub(since) > r.deadline:
		return fmt.Errorf("%s: no answer within %s", name, r.deadline)
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

// Close stops the background rounds and waits for the checks running.
func (r *Checker) Close(ctx context.Context) error {
	if err := r.job.Close(ctx); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { r.started.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
