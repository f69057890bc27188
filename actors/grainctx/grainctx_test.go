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
