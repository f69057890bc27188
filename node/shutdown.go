package node

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// closer is one step of Shutdown.
type closer struct {
	name string
	fn   func(context.Context) error
	// expected is how long the step normally takes.
	expected time.Duration
}

func (n *Node) onShutdown(name string, fn func(context.Context) error) {
	n.closers = append(n.closers, closer{name: name, fn: fn})
}

// onShutdownTaking adds a step that normally takes about expected.
func (n *Node) onShutdownTaking(name string, expected time.Duration, fn func(context.Context) error) {
	n.closers = append(n.closers, closer{name: name, fn: fn, expected: expected})
}

// clusterLeave is how long the cluster member's graceful leave takes.
const clusterLeave = 2 * time.Second

// slowStep is how much longer than expected a shutdown step may take
// before it is logged as slow.
const slowStep = time.Second

func isSlow(took, expected time.Duration) bool { return took > expected+slowStep }

// onShutdownDo registers a step that cannot fail.
func (n *Node) onShutdownDo(name string, fn func()) {
	n.onShutdown(name, func(context.Context) error { fn(); return nil })
}

// lateStepGrace is what each step still gets once the shutdown's deadline
// has passed: enough to close connections and for the cluster member to
// leave (its graceful leave waits 2 s), not to wait on a peer.
const lateStepGrace = 3 * time.Second

// Shutdown stops the node in reverse order of start: HTTP first (finishing
// requests in flight), then the cluster member, Kafka, Redis and MySQL.
// It ends in bounded time whatever a step does: a step still running
// lateStepGrace after ctx's deadline is left behind, logged, and reported
// in the error, and the next step starts. A step that starts after the
// deadline gets a context of lateStepGrace of its own (and is left behind
// at its end), so that one slow step does not make the steps after it
// fail at once.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.runCloser(ctx, n.closers[i]); err != nil {
			errs = append(errs, err)
		}
	}
	n.closers = nil
	return errors.Join(errs...)
}

func (n *Node) runCloser(ctx context.Context, c closer) error {
	start := time.Now()
	// A step that starts after the deadline (an earlier one used the time
	// up) still gets lateStepGrace to work in: a Kafka flush behind a slow
	// HTTP drain still publishes what is queued. A step that ignores its
	// context is waited for lateStepGrace past the deadline, and a late
	// one not beyond the time it was given.
	stepCtx, ignoring := ctx, lateStepGrace
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		stepCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), lateStepGrace)
		defer cancel()
		ignoring = 50 * time.Millisecond
	}
	done := make(chan error, 1)
	go func() { done <- c.fn(stepCtx) }()
	var err error
	select {
	case err = <-done:
	case <-stepCtx.Done():
		select {
		case err = <-done:
		case <-time.After(ignoring):
			n.log.Warn("shutdown step did not finish; left behind", "step", c.name, "seconds", time.Since(start).Seconds())
			return fmt.Errorf("%s did not finish: %w", c.name, context.DeadlineExceeded)
		}
	}
	if took := time.Since(start); isSlow(took, c.expected) {
		n.log.Info("shutdown step was slow", "step", c.name, "seconds", took.Seconds(), "expected_seconds", c.expected.Seconds())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return nil
}
