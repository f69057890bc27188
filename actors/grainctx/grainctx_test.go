package grainctx

import (
	"context"
	"errors"
	"testing"
	"time"
)

// state stands for a grain's answer.
type state struct{ OrderID string }

// A grain call that outlives its caller's deadline (waiting for a
// placement while membership changes) is not waited for past it.
func TestCallsEndAtTheCallersDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	st, err := Within(ctx, func() (*state, error) {
		<-release
		return &state{OrderID: "late"}, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) || st != nil {
		t.Fatalf("a call past the deadline gave %v, %v", st, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the caller waited %v", took)
	}

	st, err = Within(context.Background(), func() (*state, error) {
		return &state{OrderID: "o1"}, errors.New("refused")
	})
	if st == nil || st.OrderID != "o1" || err == nil || err.Error() != "refused" {
		t.Errorf("a call in time gave %v, %v; want its own answer and error", st, err)
	}
}

// The cluster is given the time left before the caller's deadline, or the
// default when there is none.
func TestTimeoutIsWhatIsLeft(t *testing.T) {
	if d := Timeout(context.Background(), 7*time.Second); d != 7*time.Second {
		t.Errorf("without a deadline: %v, want the default", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if d := Timeout(ctx, time.Minute); d > 2*time.Second || d < time.Second {
		t.Errorf("2 s before the deadline: %v", d)
	}
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if d := Timeout(past, time.Minute); d != time.Millisecond {
		t.Errorf("past the deadline: %v, want 1 ms", d)
	}
}

// TestRetry: a call that fails is made again until it answers, each time
// with no more than the per-attempt timeout; the attempts are bounded by
// maxAttempts, or by the caller's deadline when there is no bound; the
// error carries the last call's.
func TestRetry(t *testing.T) {
	lost := errors.New("answer lost")
	var calls int
	var timeouts []time.Duration
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := Retry(ctx, time.Second, 8, func(d time.Duration) (int, error) {
		calls++
		timeouts = append(timeouts, d)
		if calls < 3 {
			return 0, lost
		}
		return 42, nil
	})
	if err != nil || v != 42 || calls != 3 {
		t.Fatalf("retry = %d, %v after %d calls; want 42 after 3", v, err, calls)
	}
	for _, d := range timeouts {
		if d > time.Second {
			t.Errorf("an attempt was given %v, more than the second per attempt", d)
		}
	}

	calls = 0
	_, err = Retry(ctx, time.Second, 4, func(time.Duration) (int, error) { calls++; return 0, lost })
	if !errors.Is(err, lost) || calls != 4 {
		t.Errorf("bounded: %v after %d calls; want the lost answer after 4", err, calls)
	}

	calls = 0
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	_, err = Retry(short, time.Second, 0, func(time.Duration) (int, error) { calls++; return 0, lost })
	if !errors.Is(err, lost) || !errors.Is(err, context.DeadlineExceeded) || calls < 2 {
		t.Errorf("unbounded: %v after %d calls; want the lost answer and the deadline, asked more than once", err, calls)
	}
}
