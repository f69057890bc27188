package lot

import (
	"context"
	"slices"
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

// newLanes gathers calls per lot. A batch with a hold in it goes partial:
// the lot answers at once what it can (a crowd's refusals, repeats of
// what is settled) and the lane sends its next batch then, so a refusal
// never waits for another shopper's commit. The requests left waiting for
// the commit are asked again together, outside the lane; each repeat
// waits for the same commit. A batch of other requests (commits,
// releases, deductions: a crowd is not refused those) is answered whole,
// in one message.
func newLanes(c *cluster.Cluster, attempt time.Duration) *lanes {
	return gather.New(defaultMaxBatch, func(lotID int64, ops []*pb.LotOp, answer func(int, *pb.LotOpResult), free func()) {
		g := pb.GetLotGrainClient(c, strconv.FormatInt(lotID, 10))
		partial := slices.ContainsFunc(ops, func(op *pb.LotOp) bool { return op.GetReserve() != nil })
		resp, err := g.Batch(&pb.LotBatchRequest{Ops: ops, Partial: partial}, cluster.WithTimeout(attempt))
		free()
		if err != nil || len(resp.GetResults()) != len(ops) {
			return
		}
		var rest []int
		for i, r := range resp.GetResults() {
			if r.GetResult() == nil {
				rest = append(rest, i)
				continue
			}
			answer(i, r)
		}
		if len(rest) == 0 {
			return
		}
		again := make([]*pb.LotOp, len(rest))
		for j, i := range rest {
			again[j] = ops[i]
		}
		resp, err = g.Batch(&pb.LotBatchRequest{Ops: again}, cluster.WithTimeout(attempt))
		if err != nil || len(resp.GetResults()) != len(again) {
			return
		}
		for j, i := range rest {
			answer(i, resp.GetResults()[j])
		}
	})
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
		if op.GetReserve() != nil {
			// A hold alone frees the lane once the lot has taken it, not
			// after its commit, so that the calls queued behind it (in a
			// crowd, refusals) go on meanwhile. A refusal or a settled
			// repeat is answered here; a hold is asked again below and
			// waits for its commit.
			r, ok := partialAlone(ctx, c, lotID, op)
			free()
			var zero T
			if v := pick(r); ok && v != zero && !retryable(v.GetReason()) {
				out = v
				return
			}
		}
		out, err = callAttempts(ctx, c, lotID, 1, fn)
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

// partialAlone sends op alone as a partial batch, for one attempt: its
// result when the lot answered it at once, an empty one when it waits for
// a commit; false when the lot did not answer.
func partialAlone(ctx context.Context, c *Client, lotID int64, op *pb.LotOp) (*pb.LotOpResult, bool) {
	g := pb.GetLotGrainClient(c.c, strconv.FormatInt(lotID, 10))
	d := min(grainctx.Timeout(ctx, c.attemptTimeout), c.attemptTimeout)
	resp, err := g.Batch(&pb.LotBatchRequest{Ops: []*pb.LotOp{op}, Partial: true}, cluster.WithTimeout(d))
	if err != nil || len(resp.GetResults()) != 1 {
		return nil, false
	}
	return resp.GetResults()[0], true
}

// Gathered reports how many batches this client sent and how many calls
// went in them.
func (c *Client) Gathered() (batches, calls int64) {
	if c.lanes == nil {
		return 0, 0
	}
	return c.lanes.Gathered()
}
