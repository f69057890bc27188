package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"shelflife/api"
)

// readiness runs the node's dependency checks in the background and keeps
// each one's latest answer, so that /readyz answers from memory: a probe
// costs no round trips to MySQL, Redis, Kafka or the cluster, and a flood
// of probes cannot load them.
type readiness struct {
	checks   map[string]api.Check
	interval time.Duration
	timeout  time.Duration
	now      func() time.Time

	mu      sync.Mutex
	results map[string]checkResult

	stop chan struct{}
	done chan struct{}
}

type checkResult struct {
	err error
	at  time.Time // when the answer came
}

func newReadiness(checks map[string]api.Check, interval, timeout time.Duration) *readiness {
	return &readiness{checks: checks, interval: interval, timeout: timeout, now: time.Now,
		results: map[string]checkResult{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// startReadiness runs one round of checks before it returns (so /readyz is
// right from the first request), then one round every interval.
func startReadiness(ctx context.Context, checks map[string]api.Check, interval, timeout time.Duration) *readiness {
	r := newReadiness(checks, interval, timeout)
	r.round(ctx)
	go r.loop()
	return r
}

func (r *readiness) loop() {
	defer close(r.done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.round(ctx)
		}
	}
}

// round runs every check at once, each within timeout, and records the
// answers as they come.
func (r *readiness) round(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for name, check := range r.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := check(ctx)
			r.mu.Lock()
			r.results[name] = checkResult{err: err, at: r.now()}
			r.mu.Unlock()
		}()
	}
	wg.Wait()
}

// staleAfter is how old an answer may be before it no longer counts: a
// check that stopped answering (hung past its timeout) reads as failed.
func (r *readiness) staleAfter() time.Duration { return 2*r.interval + r.timeout }

// latest is the last answer of the check called name.
func (r *readiness) latest(name string) error {
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

// cached are checks for the API that read the latest answers.
func (r *readiness) cached() map[string]api.Check {
	out := make(map[string]api.Check, len(r.checks))
	for name := range r.checks {
		out[name] = func(context.Context) error { return r.latest(name) }
	}
	return out
}

// close stops the background rounds.
func (r *readiness) close(ctx context.Context) error {
	close(r.stop)
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
