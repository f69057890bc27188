package saga

import (
	"context"
	"errors"
	"testing"
	"time"

	opb "shelflife/actors/orderpb"
)

// A grain call that outlives its caller's deadline (waiting for a
// placement while membership changes) is not waited for past it.
func TestCallsEndAtTheCallersDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	st, err := withinCtx(ctx, func() (*opb.SagaState, error) {
		<-release
		return &opb.SagaState{OrderId: "late"}, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) || st != nil {
		t.Fatalf("a call past the deadline gave %v, %v", st, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the caller waited %v", took)
	}

	st, err = withinCtx(context.Background(), func() (*opb.SagaState, error) {
		return &opb.SagaState{OrderId: "o1"}, errors.New("refused")
	})
	if st.GetOrderId() != "o1" || err == nil || err.Error() != "refused" {
		t.Errorf("a call in time gave %v, %v; want its own answer and error", st, err)
	}
}
