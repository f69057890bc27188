package lot

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	pb "shelflife/actors/inventorypb"
)

// TestCallRepeatsRefusals: the client asks again when an attempt fails or
// an activation answers STALE_OWNER or UNAVAILABLE; when the attempts run
// out on such an answer, that answer is the result; when they run out on
// errors, or the deadline ends them, the error is ErrNoAnswer with the
// last cause. The grain calls are stand-ins (no cluster is asked).
func TestCallRepeatsRefusals(t *testing.T) {
	c := &Client{c: &cluster.Cluster{}, attemptTimeout: 200 * time.Millisecond, maxAttempts: 4}
	lost := errors.New("answer lost")
	script := func(answers ...any) (func(*pb.LotGrainClient, time.Duration) (*pb.CommitResponse, error), *atomic.Int32) {
		calls := new(atomic.Int32)
		return func(_ *pb.LotGrainClient, d time.Duration) (*pb.CommitResponse, error) {
			if d <= 0 || d > c.attemptTimeout {
				t.Errorf("attempt timeout %v, want (0, %v]", d, c.attemptTimeout)
			}
			a := answers[min(int(calls.Add(1))-1, len(answers)-1)]
			if err, ok := a.(error); ok {
				return nil, err
			}
			return &pb.CommitResponse{Reason: a.(pb.Reason)}, nil
		}, calls
	}
	ctx := context.Background()
	cases := []struct {
		name    string
		answers []any
		calls   int
		reason  pb.Reason
		wantErr bool
	}{
		{"answered at once", []any{pb.Reason_OK}, 1, pb.Reason_OK, false},
		{"a stale owner, an outage, a lost answer, then the new owner", []any{pb.Reason_STALE_OWNER, pb.Reason_UNAVAILABLE, lost, pb.Reason_OK}, 4, pb.Reason_OK, false},
		{"a refusal for stock is an answer, not repeated", []any{pb.Reason_UNAVAILABLE, pb.Reason_INSUFFICIENT_STOCK}, 2, pb.Reason_INSUFFICIENT_STOCK, false},
		{"stale to the end: the last answer", []any{lost, pb.Reason_STALE_OWNER}, 4, pb.Reason_STALE_OWNER, false},
		{"lost to the end: ErrNoAnswer", []any{pb.Reason_STALE_OWNER, lost}, 4, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn, calls := script(tc.answers...)
			resp, err := call(ctx, c, 7, fn)
			if n := int(calls.Load()); n != tc.calls {
				t.Errorf("%d calls, want %d", n, tc.calls)
			}
			if tc.wantErr {
				if !errors.Is(err, ErrNoAnswer) || !errors.Is(err, lost) {
					t.Errorf("error %v, want ErrNoAnswer with the last cause", err)
				}
				return
			}
			if err != nil || resp.GetReason() != tc.reason {
				t.Errorf("answer %v, error %v; want %v", resp.GetReason(), err, tc.reason)
			}
		})
	}
	t.Run("the deadline ends a run of refusals with an error", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		c := &Client{c: &cluster.Cluster{}, attemptTimeout: 200 * time.Millisecond, maxAttempts: 1000}
		fn, calls := script(pb.Reason_STALE_OWNER)
		start := time.Now()
		_, err := call(ctx, c, 7, fn)
		if !errors.Is(err, ErrNoAnswer) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want ErrNoAnswer and the deadline", err)
		}
		if n := calls.Load(); n >= 1000 || time.Since(start) > 2*time.Second {
			t.Errorf("%d calls in %v: the deadline did not end them", n, time.Since(start))
		}
	})
}
