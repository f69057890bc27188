package lookup

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
)

// maxAttempts bounds the attempts of one grain call (within its timeout).
const maxAttempts = 8

// ContextProducer gives the cluster its context for grain calls (pass it
// to cluster.WithClusterContextProducer). Unlike the library's default, a
// call waiting on a member whose connection ends gives up that member at
// once and is retried on the grain's next owner, instead of waiting out
// its timeout; and the retries back off for real. Grain messages are
// idempotent in this project, which is what makes a retry safe.
func (l *Lookup) ContextProducer() cluster.ContextProducer {
	return func(c *cluster.Cluster) cluster.Context { return &grainContext{l: l, c: c} }
}

type grainContext struct {
	l *Lookup
	c *cluster.Cluster
}

var _ cluster.Context = (*grainContext)(nil)

func retryable(err error) bool {
	return errors.Is(err, ErrMemberLost) || errors.Is(err, actor.ErrTimeout) || errors.Is(err, actor.ErrDeadLetter) ||
		errors.Is(err, remote.ErrTimeout) || errors.Is(err, remote.ErrDeadLetter)
}

// Request sends message to the grain and waits for its answer, within
// the call's timeout.
func (g *grainContext) Request(identity, kind string, message any, opts ...cluster.GrainCallOption) (any, error) {
	cfg := cluster.NewGrainCallOptions(g.c)
	for _, o := range opts {
		o(cfg)
	}
	deadline := time.Now().Add(cfg.Timeout)
	lastErr := errors.New("no attempt")
	for attempt := 0; attempt < maxAttempts; attempt++ {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		pid := g.pid(identity, kind)
		if pid == nil {
			lastErr = fmt.Errorf("no member activated %s/%s", kind, identity)
			time.Sleep(min(backoff(attempt), left))
			continue
		}
		resp, err := g.l.await(cfg.Context, pid, message, left)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		g.c.PidCache.RemoveByValue(identity, kind, pid)
		if !retryable(err) {
			return nil, err
		}
		if !errors.Is(err, ErrMemberLost) {
			time.Sleep(min(backoff(attempt), max(time.Until(deadline), 0)))
		}
	}
	return nil, fmt.Errorf("request %s/%s: %w", kind, identity, lastErr)
}

// RequestFuture sends message to the grain and returns the future of its
// answer (no retry: the caller holds the future).
func (g *grainContext) RequestFuture(identity, kind string, message any, opts ...cluster.GrainCallOption) (*actor.Future, error) {
	cfg := cluster.NewGrainCallOptions(g.c)
	for _, o := range opts {
		o(cfg)
	}
	pid := g.pid(identity, kind)
	if pid == nil {
		return nil, fmt.Errorf("no member activated %s/%s", kind, identity)
	}
	return cfg.Context.RequestFuture(pid, message, cfg.Timeout), nil
}

// pid is the grain's cached address, or its owner's answer; an address on
// a suspect member is not used.
func (g *grainContext) pid(identity, kind string) *actor.PID {
	if pid, ok := g.c.PidCache.Get(identity, kind); ok && pid != nil {
		if !g.l.Suspect(pid.Address) {
			return pid
		}
		g.c.PidCache.RemoveByValue(identity, kind, pid)
	}
	pid := g.c.Get(identity, kind)
	if pid != nil {
		g.c.PidCache.Set(identity, kind, pid)
	}
	return pid
}

// backoff is the pause before attempt+1: 10, 20, 40 ... ms, at most 320.
func backoff(attempt int) time.Duration {
	return 10 * time.Millisecond << min(attempt, 5)
}

// await waits for pid's answer to message, or returns ErrMemberLost as
// soon as the connection to pid's member ends.
func (l *Lookup) await(sender actor.SenderContext, pid *actor.PID, message any, timeout time.Duration) (any, error) {
	if pid.Address == l.self {
		return sender.RequestFuture(pid, message, timeout).Result()
	}
	// Taken before sending, so that a connection ending after the send is
	// seen.
	lost := l.lostSignal(pid.Address)
	f := sender.RequestFuture(pid, message, timeout)
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f.Result()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-lost:
		return nil, fmt.Errorf("%w: %s", ErrMemberLost, pid.Address)
	}
}
