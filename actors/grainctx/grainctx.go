// Package grainctx keeps grain calls within their caller's context: the
// cluster's call timeout is a duration, not a deadline, and it covers a
// call's attempts but not its waits for a placement while membership
// changes, so on its own a call can outlive the request that made it.
package grainctx

import (
	"context"
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
