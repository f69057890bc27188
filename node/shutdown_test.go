package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// A step that never returns must not hold the node: Shutdown leaves it
// behind at the deadline (plus the late grace), names it in its error and
// in the log, and still runs the steps after it.
func TestShutdownLeavesAStuckStepBehind(t *testing.T) {
	var logs bytes.Buffer
	n := &Node{log: slog.New(slog.NewTextHandler(&logs, nil))}
	var ran []string
	var mu sync.Mutex
	step := func(name string) func(context.Context) error {
		return func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			ran = append(ran, name)
			return nil
		}
	}
	release := make(chan struct{})
	defer close(release)
	n.onShutdown("mysql", step("mysql"))
	n.onShutdown("failing", func(context.Context) error { return errors.New("broken pipe") })
	n.onShutdown("stuck", func(context.Context) error { <-release; return nil })
	n.onShutdown("http server", step("http server"))

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := n.Shutdown(ctx)
	took := time.Since(start)

	if took > 100*time.Millisecond+lateStepGrace+2*time.Second {
		t.Errorf("Shutdown took %v with one stuck step", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stuck did not finish") {
		t.Errorf("error %v does not name the stuck step", err)
	}
	if !strings.Contains(err.Error(), "failing: broken pipe") {
		t.Errorf("error %v does not carry the failing step's error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(ran, ",") != "http server,mysql" {
		t.Errorf("steps run: %v, want http server then mysql", ran)
	}
	if !strings.Contains(logs.String(), "step=stuck") {
		t.Errorf("the stuck step is not logged:\n%s", logs.String())
	}
}

// A step that used the shutdown's time up must not make the steps after it
// fail at once: a flush that needs a live context for a moment (publishing
// the queued events) still gets one and succeeds.
func TestShutdownGivesLateStepsTheirOwnTime(t *testing.T) {
	var logs bytes.Buffer
	n := &Node{log: slog.New(slog.NewTextHandler(&logs, nil))}
	flush := func(ctx context.Context) error {
		select {
		case <-time.After(100 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	n.onShutdown("stock events", flush)
	// A drain that waits for its context to end, as the HTTP server's does
	// while a request is still running.
	n.onShutdown("http server", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := n.Shutdown(ctx)
	// The drain, started in time, ends at the shutdown's deadline: only
	// steps that start after it get time of their own.
	if took := time.Since(start); took >= lateStepGrace {
		t.Errorf("Shutdown took %v: the drain was given more than the shutdown's deadline", took)
	}
	if err == nil || !strings.Contains(err.Error(), "http server") {
		t.Errorf("error %v does not name the drain that ran out of time", err)
	}
	if strings.Contains(fmt.Sprint(err), "stock events") {
		t.Errorf("the flush after the slow drain failed: %v", err)
	}
}
