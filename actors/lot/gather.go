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
			resp, err := g.Batch(&pb.LotBatchRequest{Ops: opsAt(ops, holds), Partial: true}, cluster.WithTimeout(attempt))
			free()
			// When the partial batch fails, its holds go unanswered (their
			// callers ask alone); the other requests still go.
			if err == nil && len(resp.GetResults()) == len(holds) {
				for j, r := range resp.GetResults() {
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
		resp, err := g.Batch(&pb.LotBatchRequest{Ops: opsAt(ops, rest)}, cluster.WithTimeout(attempt))
		if err != nil || len(resp.GetResults()) != len(rest) {
			return
		}
		for j, i := range rest {
			answer(i, resp.GetResults()[j])
		}
	})
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
	d := min(grainctx.Timeout(ctx, c.attemptTimeout), c.attemptTimeout)
	resp, err := grainctx.Within(ctx, func() (*pb.LotBatchResponse, error) {
		return g.Batch(&pb.LotBatchRequest{Ops: []*pb.LotOp{op}, Partial: true}, cluster.WithTimeout(d))
	})
	if err != nil {
		return nil, err
	}
	if len(resp.GetResults()) != 1 {
		return nil, fmt.Errorf("lot %d: a partial batch of one answered %d results", lotID, len(resp.GetResults()))
	}
	return resp.GetResults()[0], nil
}

// Gathered reports how many batches this client sent and how many calls
// went in them.
func (c *Client) Gathered() (batches, calls int64) {
	if c.lanes == nil {
		return 0, 0
	}
	return c.lanes.Gathered()
}
