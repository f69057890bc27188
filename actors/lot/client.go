package lot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
type Client struct {
	c              *cluster.Cluster
	attemptTimeout time.Duration
	maxAttempts    int
}

// NewClient calls lot grains through c.
func NewClient(c *cluster.Cluster) *Client {
	return &Client{c: c, attemptTimeout: 2 * time.Second, maxAttempts: 8}
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
	g := pb.GetLotGrainClient(c.c, strconv.FormatInt(lotID, 10))
	resp, err := grainctx.Retry(ctx, c.attemptTimeout, c.maxAttempts, func(d time.Duration) (T, error) {
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
	return call(ctx, c, lotID, func(g *pb.LotGrainClient, d time.Duration) (*pb.DeductResponse, error) {
		return g.Deduct(req, cluster.WithTimeout(d))
	})
}

// Restore puts back what key took from the lot (a marker if nothing yet).
func (c *Client) Restore(ctx context.Context, lotID int64, key string) (*pb.RestoreResponse, error) {
	req := &pb.RestoreRequest{OrderKey: key}
	return call(ctx, c, lotID, func(g *pb.LotGrainClient, d time.Duration) (*pb.RestoreResponse, error) {
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
	return call(ctx, c, lotID, func(g *pb.LotGrainClient, d time.Duration) (*pb.ReserveResponse, error) {
		return g.Reserve(req, cluster.WithTimeout(d))
	})
}

// Commit turns key's hold on the lot into a deduction.
func (c *Client) Commit(ctx context.Context, lotID int64, key string) (*pb.CommitResponse, error) {
	req := &pb.CommitRequest{OrderKey: key}
	return call(ctx, c, lotID, func(g *pb.LotGrainClient, d time.Duration) (*pb.CommitResponse, error) {
		return g.Commit(req, cluster.WithTimeout(d))
	})
}

// Release gives back whatever key took from the lot, held or deducted (a
// marker if nothing yet).
func (c *Client) Release(ctx context.Context, lotID int64, key string) (*pb.LotReleaseResponse, error) {
	req := &pb.LotReleaseRequest{OrderKey: key}
	return call(ctx, c, lotID, func(g *pb.LotGrainClient, d time.Duration) (*pb.LotReleaseResponse, error) {
		return g.Release(req, cluster.WithTimeout(d))
	})
}
