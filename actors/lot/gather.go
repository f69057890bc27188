package lot

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"shelflife/actors/grainctx"
	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot/gather"
)

// defaultMaxBatch bounds the requests of one LotBatchRequest.
const defaultMaxBatch = 512

// lanes gathers this node's calls per lot (package gather): calls made
// while one to the same lot is on its way go together in a
// LotBatchRequest.
type lanes = gather.Gatherer[int64, *pb.LotOp, *pb.LotOpResult]

// newLanes gathers calls per lot. The holds of a batch go first, as a
// partial batch: the lot answers at once what it can (a crowd's refusals,
// repeats of what is settled) and the lane sends its next batch then, so
// a refusal never waits for another shopper's commit. The holds left
// waiting for the commit, and the batch's other requests (commits,
// releases, deductions, restores: a crowd is not refused those, and
// asked again while their commit is pending some would not say what they
// moved), then go together as a whole batch, outside the lane; each
// repeated hold waits for the same commit. A batch without a hold is
// sent whole, in one message.
func newLanes(c *cluster.Cluster, attempt time.Duration) *lanes {
	return gather.New(defaultMaxBatch, func(lotID int64, ops []*pb.LotOp, answer func(int, *pb.LotOpResult), free func()) {
		g := pb.GetLotGrainClient(c, strconv.FormatInt(lotID, 10))
		var holds, rest []int
		for i, op := range ops {
			if op.GetReserve() != nil {
				holds = append(holds, i)
			} else {
				rest = append(rest, i)
			}
		}
		if len(holds) > 0 {
			res, err := sendBatch(g, opsAt(ops, holds), true, attempt)
			free()
			// When the partial batch fails, its holds go unanswered (their
			// callers ask alone); the other requests still go.
			if err == nil {
				for j, r := range res {
					if r.GetResult() == nil {
						rest = append(rest, holds[j])
					} else {
						answer(holds[j], r)
					}
				}
			}
		}
		if len(rest) == 0 {
			return
		}
		res, err := sendBatch(g, opsAt(ops, rest), false, attempt)
		if err != nil {
			return
		}
		for j, i := range rest {
			answer(i, res[j])
		}
	})
}

// sendBatch sends ops to g as one LotBatchRequest and returns its results,
// one per op.
func sendBatch(g *pb.LotGrainClient, ops []*pb.LotOp, partial bool, timeout time.Duration) ([]*pb.LotOpResult, error) {
	resp, err := g.Batch(&pb.LotBatchRequest{Ops: ops, Partial: partial}, cluster.WithTimeout(timeout))
	if err != nil {
		return nil, err
	}
	if len(resp.GetResults()) != len(ops) {
		return nil, fmt.Errorf("a batch of %d requests answered %d results", len(ops), len(resp.GetResults()))
	}
	return resp.GetResults(), nil
}

// opsAt is ops[at[0]], ops[at[1]], ….
func opsAt(ops []*pb.LotOp, at []int) []*pb.LotOp {
	out := make([]*pb.LotOp, len(at))
	for j, i := range at {
		out[j] = ops[i]
	}
	return out
}

// viaLane makes one call through lotID's lane: alone when nothing is on
// its way to the lot, else gathered with the others. pick takes the
// call's answer out of a batch's result. The call that goes alone holds
// the lane for one attempt: when that is not answered, or its answer asks
// to retry, it is asked again with the client's retries and the lane goes
// on meanwhile. A call not answered in a batch (the batch failed, or its
// answer asks to retry) also goes alone with those retries; the requests
// are idempotent, so one that reached the grain in the batch too does
// nothing twice.
func viaLane[T interface {
	comparable
	GetReason() pb.Reason
}](ctx context.Context, c *Client, lotID int64, op *pb.LotOp, pick func(*pb.LotOpResult) T, fn func(*pb.LotGrainClient, time.Duration) (T, error)) (T, error) {
	if c.lanes == nil {
		return call(ctx, c, lotID, fn)
	}
	var out T
	var err error
	res, how := c.lanes.Do(ctx, lotID, op, func(free func()) {
		if op.GetReserve() == nil {
			out, err = callAttempts(ctx, c, lotID, 1, fn)
			return
		}
		// A hold alone frees the lane once the lot has taken it, not
		// after its commit, so that the calls queued behind it (in a
		// crowd, refusals) go on meanwhile. A refusal or a settled repeat
		// is answered at once; a hold is asked again and waits for its
		// commit. No answer, or one that says to retry, goes to the
		// client's retries.
		r, perr := partialAlone(ctx, c, lotID, op)
		free()
		if perr != nil {
			err = perr
			return
		}
		if r.GetResult() == nil {
			out, err = callAttempts(ctx, c, lotID, 1, fn)
			return
		}
		var zero T
		if out = pick(r); out == zero {
			err = fmt.Errorf("lot %d: a partial batch answered another kind of request", lotID)
		}
	})
	switch how {
	case gather.Alone:
		if err == nil && !retryable(out.GetReason()) {
			return out, nil
		}
	case gather.Answered:
		var zero T
		if r := pick(res); r != zero && !retryable(r.GetReason()) {
			return r, nil
		}
	}
	return call(ctx, c, lotID, fn)
}

// partialAlone sends op alone as a partial batch, for one attempt within
// ctx: its result when the lot answered it at once, an empty one when it
// waits for a commit.
func partialAlone(ctx context.Context, c *Client, lotID int64, op *pb.LotOp) (*pb.LotOpResult, error) {
	g := pb.GetLotGrainClient(c.c, strconv.FormatInt(lotID, 10))
	res, err := grainctx.Retry(ctx, c.attemptTimeout, 1, func(d time.Duration) ([]*pb.LotOpResult, error) {
		return sendBatch(g, []*pb.LotOp{op}, true, d)
	})
	if err != nil {
		return nil, fmt.Errorf("lot %d: %w", lotID, err)
	}
	return res[0], nil
}

// Gathered reports how many batches this client sent and how many calls
// went in them.
func (c *Client) Gathered() (batches, calls int64) {
	if c.lanes == nil {
		return 0, 0
	}
	return c.lanes.Gathered()
}
