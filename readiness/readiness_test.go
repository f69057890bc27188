package readiness

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Readiness answers from the last round: asking costs no check, a failure
// shows after the next round, and a check that stops answering reads as
// failed once its answer is stale.
func TestReadinessAnswersFromBackgroundRounds(t *testing.T) {
	var calls atomic.Int64
	var mysqlDown atomic.Bool
	refused := errors.New("connection refused")
	checks := map[string]Check{
		"mysql": func(context.Context) error {
			calls.Add(1)
			if mysqlDown.Load() {
				return refused
			}
			return nil
		},
		"redis": func(context.Context) error { calls.Add(1); return nil },
	}
	now := time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)
	r := New(checks, time.Second, 3*time.Second)
	r.now = func() time.Time { return now }
	cached := r.Cached()

	if err := cached["mysql"](t.Context()); err == nil {
		t.Error("ready before any round")
	}
	r.round(t.Context()).Wait()
	if calls.Load() != 2 {
		t.Fatalf("one round made %d checks, want 2", calls.Load())
	}
	for range 1000 {
		for name, c := range cached {
			if err := c(t.Context()); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	if calls.Load() != 2 {
		t.Errorf("2,000 readiness reads ran %d checks, want none beyond the round's 2", calls.Load()-2)
	}

	mysqlDown.Store(true)
	if err := cached["mysql"](t.Context()); err != nil {
		t.Errorf("the failure showed before the next round: %v", err)
	}
	r.round(t.Context()).Wait()
	if err := cached["mysql"](t.Context()); !errors.Is(err, refused) {
		t.Errorf("after a failing round: %v, want connection refused", err)
	}
	if err := cached["redis"](t.Context()); err != nil {
		t.Errorf("redis after the round: %v", err)
	}

	// No round for longer than staleAfter: the old answers no longer count.
	now = now.Add(r.staleAfter() + time.Second)
	if err := cached["redis"](t.Context()); err == nil {
		t.Error("a stale answer still counts as ready")
	}
}

func TestReadinessStops(t *testing.T) {
	var calls atomic.Int64
	r := Start(t.Context(), map[string]Check{"x": func(context.Context) error { calls.Add(1); return nil }},
		time.Millisecond, time.Second)
	if calls.Load() < 1 {
		t.Fatal("Start returned before its first round")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	after := calls.Load()
	time.Sleep(20 * time.Millisecond)
	if calls.Load() != after {
		t.Error("checks still run after close")
	}
}

// A check that stops answering (a blackholed server) reads as failed as
// soon as it has run past its deadline, while it still runs, and is not
// started again while it runs.
func TestReadinessNamesAHungCheckAtItsDeadline(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	checks := map[string]Check{"mysql": func(ctx context.Context) error {
		if n := calls.Add(1); n != 2 {
			return nil
		}
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}
	now := time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)
	r := New(checks, 250*time.Millisecond, 500*time.Millisecond)
	var mu sync.Mutex
	r.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cached := r.Cached()
	r.round(t.Context()).Wait()
	hung := r.round(t.Context())
	<-entered
	if err := cached["mysql"](t.Context()); err != nil {
		t.Errorf("a check running for no time reads as failed: %v", err)
	}
	advance(r.deadline - time.Millisecond)
	if err := cached["mysql"](t.Context()); err != nil {
		t.Errorf("a check running for just under its deadline reads as failed: %v", err)
	}
	advance(2 * time.Millisecond)
	if err := cached["mysql"](t.Context()); err == nil {
		t.Errorf("a check running past its %s deadline still reads as ready", r.deadline)
	}
	r.round(t.Context())
	if got := calls.Load(); got != 2 {
		t.Errorf("%d checks started, want 2: a running check is not started again", got)
	}
	// It answers "ok", but late: that counts as failed too.
	close(release)
	hung.Wait()
	if err := cached["mysql"](t.Context()); err == nil {
		t.Error("an answer that came past the deadline counts as ready")
	}
	r.round(t.Context()).Wait()
	if err := cached["mysql"](t.Context()); err != nil {
		t.Errorf("after a check answered in time: %v", err)
	}
}

// The check's context ends at the deadline, so a check that honours it
// (the probes do) ends then and the next round can start it again.
func TestReadinessCheckContextEndsAtTheDeadline(t *testing.T) {
	r := New(map[string]Check{"kafka": func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}, 50*time.Millisecond, 100*time.Millisecond)
	start := time.Now()
	r.round(t.Context()).Wait()
	if took := time.Since(start); took < 100*time.Millisecond || took > 5*time.Second {
		t.Errorf("a check waiting on its context ended after %s, want its 100ms deadline", took)
	}
	if err := r.Cached()["kafka"](t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a check that ran out its deadline: %v, want deadline exceeded", err)
	}
}
