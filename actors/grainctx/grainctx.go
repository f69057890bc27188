// Package grainctx keeps grain calls within their caller's context: the
// cluster's call timeout is a duration, not a deadline, and it covers a
// call's attempts but not its waits for a placement while membership
// changes, so on its own a call can outlive the request that made it.
package grainctx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"shelflife/actors/dispatch"
)

// Timeout is the time left before ctx's deadline (at least a millisecond),
// or def when ctx has none: the timeout to give the cluster for one call.
func Timeout(ctx context.Context, def time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return def
}

// Within returns when call does or when ctx ends, whichever is first. A
// call left running is harmless (every grain message is idempotent); its
// answer is dropped. The call runs on a goroutine of dispatch.Calls, kept
// between calls: a new goroutine grew its stack (protobuf marshalling is
// deep) on every call.
func Within[T any](ctx context.Context, call func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	dispatch.Calls.Schedule(func() {
		v, err := call()
		done <- result{v, err}
	})
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("grain call: %w", ctx.Err())
	}
}

// Retry runs call on a grain until it answers without an error, ctx ends,
// or maxAttempts calls were made (0: as many as ctx allows). Each call is
// given at most per as its cluster timeout, so that a message lost while
// members come and go (a node stopping, or just back) is sent again
// instead of holding its caller to the deadline; a short pause (10 ms more
// each time, at most 200 ms) comes before each repeat. Every grain message
// is idempotent, so a repeat is safe. The error is the last call's (the
// one before, when the deadline cut the last) joined with ctx's.
func Retry[T any](ctx context.Context, per time.Duration, maxAttempts int, call func(timeout time.Duration) (T, error)) (T, error) {
	var zero T
	var last error
	for attempt := 0; maxAttempts == 0 || attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			pause := time.NewTimer(min(time.Duration(attempt)*10*time.Millisecond, 200*time.Millisecond))
			select {
			case <-pause.C:
			case <-ctx.Done():
				pause.Stop()
			}
		}
		if ctx.Err() != nil {
			break
		}
		d := min(Timeout(ctx, per), per)
		v, err := Within(ctx, func() (T, error) { return call(d) })
		if err == nil {
			return v, nil
		}
		if last == nil || ctx.Err() == nil {
			// A call cut by the deadline keeps the cause before it.
			last = err
		}
	}
	return zero, errors.Join(last, ctx.Err())
}
