// Package clienttest runs saga.Client against saga grains on a two-member
// cluster. It is a package of its own so that it can run without the race
// detector, which reports races inside protoactor-go (see the Makefile),
// while the saga package's own tests keep it.
package clienttest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	opb "shelflife/actors/orderpb"
	"shelflife/actors/saga"
	"shelflife/cluster/membertest"
	"shelflife/domain"
)

// flaky is a saga grain whose first answers are lost: the first `lose`
// approvals either fail (an error answer) or never answer (the grain
// panics and is reset, as a message lost with a member would be).
type flaky struct {
	calls *atomic.Int64
	lose  int64
	panic bool
}

func (f *flaky) Init(cluster.GrainContext)           {}
func (f *flaky) Terminate(cluster.GrainContext)      {}
func (f *flaky) ReceiveDefault(cluster.GrainContext) {}
func (f *flaky) Start(*opb.StartRequest, cluster.GrainContext) (*opb.SagaState, error) {
	return nil, errors.New("not in this test")
}
func (f *flaky) Abort(*opb.AbortRequest, cluster.GrainContext) (*opb.SagaState, error) {
	return nil, errors.New("not in this test")
}
func (f *flaky) Resume(*opb.ResumeRequest, cluster.GrainContext) (*opb.SagaState, error) {
	return nil, errors.New("not in this test")
}

func (f *flaky) Approve(_ *opb.ApproveRequest, ctx cluster.GrainContext) (*opb.SagaState, error) {
	if f.calls.Add(1) <= f.lose {
		if f.panic {
			panic("answer lost")
		}
		return nil, errors.New("answer lost")
	}
	id := ctx.Identity()
	o := domain.Order{ID: id, Status: domain.StatusPaid, Step: domain.StepDone}
	return &opb.SagaState{OrderId: id, Order: opb.EncodeOrder(o)}, nil
}

// TestClientAsksAgain: a saga message whose answer is lost (an error, or
// no answer at all) is sent again within the caller's deadline, and the
// caller gets the saga's answer; when every answer is lost the caller
// hears unavailable at its deadline.
func TestClientAsksAgain(t *testing.T) {
	tests := []struct {
		name  string
		lose  int64
		panic bool
		ctx   time.Duration
		ok    bool
	}{
		{"an error answer", 2, false, 20 * time.Second, true},
		{"no answer (grain reset)", 1, true, 20 * time.Second, true},
		{"never answered", 1 << 40, false, 2 * time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			kind := opb.NewOrderSagaKind(func() opb.OrderSaga { return &flaky{calls: &calls, lose: tc.lose, panic: tc.panic} }, time.Minute)
			ms := membertest.Start(t, 2, kind)
			c := saga.NewClient(ms[1].Cluster)
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctx)
			defer cancel()
			o, err := c.Approve(ctx, "o-client-test", "pg", "nonce")
			if tc.ok {
				if err != nil || o.ID != "o-client-test" || o.Status != domain.StatusPaid {
					t.Fatalf("approve = %+v, %v after %d calls", o, err, calls.Load())
				}
				if calls.Load() != tc.lose+1 {
					t.Errorf("%d calls, want %d", calls.Load(), tc.lose+1)
				}
				return
			}
			if !errors.Is(err, domain.ErrUnavailable) {
				t.Fatalf("approve = %+v, %v; want unavailable", o, err)
			}
			if calls.Load() < 2 {
				t.Errorf("%d calls: not asked again", calls.Load())
			}
		})
	}
}
