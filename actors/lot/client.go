package lot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"shelflife/actors/grainctx"
	pb "shelflife/actors/inventorypb"
)

// Client calls lot grains. Calls are idempotent, so a call whose grain
// stopped (another owner, a storage failure, a node leaving) is retried and
// reaches the lot's next activation. Each attempt has its own short
// timeout: a request queued in a grain that stops is dropped without an
// answer, and waiting for the caller's whole deadline would stall it.
//
// While a call to a lot is on its way, the calls to the same lot that
// this node's callers make meanwhile wait and then go together, in one
// LotBatchRequest (see gather.go): a crowd buying one hot lot costs its
// grain a message per round trip, not one per shopper.
type Client struct {
	c              *cluster.Cluster
	attemptTimeout time.Duration
	maxAttempts    int
	// lanes gathers calls per lot; nil: every call goes alone.
	lanes *lanes
}

// NewClient calls lot grains through c.
func NewClient(c *cluster.Cluster) *Client {
	const attempt = 2 * time.Second
	return &Client{c: c, attemptTimeout: attempt, maxAttempts: 8, lanes: newLanes(c, attempt)}
}

// shared holds one client per cluster (ClientFor).
var shared sync.Map

// ClientFor is the client of c that this node's grains share, so that
// the calls of every saga and warehouse on the node to one lot are
// gathered together.
func ClientFor(c *cluster.Cluster) *Client {
	if v, ok := shared.Load(c); ok {
		return v.(*Client)
	}
	v, _ := shared.LoadOrStore(c, NewClient(c))
	return v.(*Client)
}

// ForgetClient drops c's shared client, once c has stopped.
func ForgetClient(c *cluster.Cluster) { shared.Delete(c) }

// Alone is a client of the same cluster whose every call goes alone,
// never gathered with others (for comparison in make bench).
func (c *Client) Alone() *Client {
	return &Client{c: c.c, attemptTimeout: c.attemptTimeout, maxAttempts: c.maxAttempts}
}

// ErrNoAnswer means no activation answered within the deadline.
var ErrNoAnswer = errors.New("lot grain did not answer")

func retryable(r pb.Reason) bool {
	return r == pb.Reason_STALE_OWNER || r == pb.Reason_UNAVAILABLE
}

// refusal is an answer worth asking again (STALE_OWNER, UNAVAILABLE),
// carried as the attempt's error so that grainctx.Retry repeats it.
type refusal[T any] struct {
	resp   T
	lotID  int64
	reason pb.Reason
}

func (r *refusal[T]) Error() string { return fmt.Sprintf("lot %d: %s", r.lotID, r.reason) }

// call runs one grain call with grainctx.Retry: an attempt that failed,
// or that an activation answered STALE_OWNER or UNAVAILABLE, is made
// again. When the attempts run out on such an answer (not the deadline),
// that answer is the result; otherwise the error is ErrNoAnswer with the
// last cause.
func call[T interface{ GetReason() pb.Reason }](ctx context.Context, c *Client, lotID int64, fn func(*pb.LotGrainClient, time.Duration) (T, error)) (T, error) {
	return callAttempts(ctx, c, lotID, c.maxAttempts, fn)
}

// callAttempts is call with at most attempts attempts.
func callAttempts[T interface{ GetReason() pb.Reason }](ctx context.Context, c *Client, lotID int64, attempts int, fn func(*pb.LotGrainClient, time.Duration) (T, error)) (T, error) {
	g := pb.GetLotGrainClient(c.c, strconv.FormatInt(lotID, 10))
	resp, err := grainctx.Retry(ctx, c.attemptTimeout, attempts, func(d time.Duration) (T, error) {
		r, err := fn(g, d)
		if err == nil && retryable(r.GetReason()) {
			return r, &refusal[T]{resp: r, lotID: lotID, reason: r.GetReason()}
		}
		return r, err
	})
	if err == nil {
		return resp, nil
	}
	var last *refusal[T]
	if ctx.Err() == nil && errors.As(err, &last) {
		return last.resp, nil
	}
	return resp, fmt.Errorf("lot %d: %w: %w", lotID, ErrNoAnswer, err)
}

// Deduct takes quantity from the lot for key.
func (c *Client) Deduct(ctx context.Context, lotID int64, key string, quantity int64, ch pb.Channel) (*pb.DeductResponse, error) {
	req := &pb.DeductRequest{OrderKey: key, Quantity: quantity, Channel: ch}
	return viaLane(ctx, c, lotID, &pb.LotOp{Op: &pb.LotOp_Deduct{Deduct: req}}, (*pb.LotOpResult).GetDeduct,
		func(g *pb.LotGrainClient, d time.Duration) (*pb.DeductResponse, error) {
			return g.Deduct(req, cluster.WithTimeout(d))
		})
}

// Restore puts back what key took from the lot (a marker if nothing yet).
func (c *Client) Restore(ctx context.Context, lotID int64, key string) (*pb.RestoreResponse, error) {
	req := &pb.RestoreRequest{OrderKey: key}
	return viaLane(ctx, c, lotID, &pb.LotOp{Op: &pb.LotOp_Restore{Restore: req}}, (*pb.LotOpResult).GetRestore,
		func(g *pb.LotGrainClient, d time.Duration) (*pb.RestoreResponse, error) {
			return g.Restore(req, cluster.WithTimeout(d))
		})
}

// Get answers the lot as last committed, activating it if needed.
func (c *Client) Get(ctx context.Context, lotID int64) (*pb.LotInfo, error) {
	return call(ctx, c, lotID, func(g *pb.LotGrainClient, d time.Duration) (*pb.LotInfo, error) {
		return g.Get(&pb.GetLotRequest{}, cluster.WithTimeout(d))
	})
}

// Wake activates the lot's grain, which then runs its own timers.
func (c *Client) Wake(ctx context.Context, lotID int64) error {
	_, err := c.Get(ctx, lotID)
	return err
}

// Reserve puts quantity of the lot on hold for key until until (capped at
// the lot's expiry).
func (c *Client) Reserve(ctx context.Context, lotID int64, key string, quantity int64, ch pb.Channel, until time.Time) (*pb.ReserveResponse, error) {
	req := &pb.ReserveRequest{OrderKey: key, Quantity: quantity, Channel: ch, UntilUnixMs: until.UnixMilli()}
	return viaLane(ctx, c, lotID, &pb.LotOp{Op: &pb.LotOp_Reserve{Reserve: req}}, (*pb.LotOpResult).GetReserve,
		func(g *pb.LotGrainClient, d time.Duration) (*pb.ReserveResponse, error) {
			return g.Reserve(req, cluster.WithTimeout(d))
		})
}

// Commit turns key's hold on the lot into a deduction.
func (c *Client) Commit(ctx context.Context, lotID int64, key string) (*pb.CommitResponse, error) {
	req := &pb.CommitRequest{OrderKey: key}
	return viaLane(ctx, c, lotID, &pb.LotOp{Op: &pb.LotOp_Commit{Commit: req}}, (*pb.LotOpResult).GetCommit,
		func(g *pb.LotGrainClient, d time.Duration) (*pb.CommitResponse, error) {
			return g.Commit(req, cluster.WithTimeout(d))
		})
}

// Release gives back whatever key took from the lot, held or deducted (a
// marker if nothing yet).
func (c *Client) Release(ctx context.Context, lotID int64, key string) (*pb.LotReleaseResponse, error) {
	req := &pb.LotReleaseRequest{OrderKey: key}
	return viaLane(ctx, c, lotID, &pb.LotOp{Op: &pb.LotOp_Release{Release: req}}, (*pb.LotOpResult).GetRelease,
		func(g *pb.LotGrainClient, d time.Duration) (*pb.LotReleaseResponse, error) {
			return g.Release(req, cluster.WithTimeout(d))
		})
}
