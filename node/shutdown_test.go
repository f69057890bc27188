package node

import (
	"bytes"
	"context"
	"errors"
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

// A periodic job in the middle of a long call ends when close begins: its
// context is cancelled, so close does not wait for the call's own timeout.
func TestPeriodicCloseCancelsTheRunningJob(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	var sawCancel bool
	p := startPeriodic(time.Hour, func(ctx context.Context) {
		once.Do(func() { close(started) })
		select {
		case <-ctx.Done():
			sawCancel = true
		case <-time.After(time.Minute):
		}
	})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if !sawCancel {
		t.Error("the running job's context was not cancelled by close")
	}
}

// close gives up at its own deadline when the job ignores its context.
func TestPeriodicCloseStopsWaitingAtItsDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	var once sync.Once
	p := startPeriodic(time.Hour, func(context.Context) {
		once.Do(func() { close(started) })
		<-release
	})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("close of a stuck job: %v, want the deadline", err)
	}
}
