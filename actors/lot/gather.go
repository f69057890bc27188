package lot

import (
	"context"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot/gather"
)

// defaultMaxBatch bounds the requests of one LotBatchRequest.
const defaultMaxBatch = 512

// lanes gathers this node's calls per lot (package gather): calls made
// while one to the same lot is on its way go together in a
// LotBatchRequest.
type lanes = gather.Gatherer[int64, *pb.LotOp, *pb.LotOpResult]

func newLanes(c *cluster.Cluster, attempt time.Duration) *lanes {
	return gather.New(defaultMaxBatch, func(lotID int64, ops []*pb.LotOp) ([]*pb.LotOpResult, bool) {
		g := pb.GetLotGrainClient(c, strconv.FormatInt(lotID, 10))
		resp, err := g.Batch(&pb.LotBatchRequest{Ops: ops}, cluster.WithTimeout(attempt))
		if err != nil {
			return nil, false
		}
		return resp.GetResults(), true
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
	res, how := c.lanes.Do(ctx, lotID, op, func() { out, err = callAttempts(ctx, c, lotID, 1, fn) })
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

// Gathered reports how many batches this client sent and how many calls
// went in them.
func (c *Client) Gathered() (batches, calls int64) {
	if c.lanes == nil {
		return 0, 0
	}
	return c.lanes.Gathered()
}
