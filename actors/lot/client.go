package lot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	pb "shelflife/actors/inventorypb"
)

// Client calls lot grains. Calls are idempotent, so a call whose grain
// stopped (another owner, a storage failure, a node leaving) is retried and
// reaches the lot's next activation.
type Client struct {
	c        *cluster.Cluster
	attempts int
}

// NewClient calls lot grains through c.
func NewClient(c *cluster.Cluster) *Client { return &Client{c: c, attempts: 4} }

// ErrNoAnswer means no activation answered within the deadline.
var ErrNoAnswer = errors.New("lot grain did not answer")

func callTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 5 * time.Second
}

func retryable(r pb.Reason) bool {
	return r == pb.Reason_STALE_OWNER || r == pb.Reason_UNAVAILABLE
}

// call runs one grain call with retries; answer extracts the reason.
func call[T interface{ GetReason() pb.Reason }](ctx context.Context, c *Client, lotID int64, fn func(*pb.LotGrainClient, time.Duration) (T, error)) (T, error) {
	var zero T
	g := pb.GetLotGrainClient(c.c, strconv.FormatInt(lotID, 10))
	var lastErr error
	for attempt := 0; attempt < c.attempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return zero, fmt.Errorf("lot %d: %w", lotID, err)
		}
		resp, err := fn(g, callTimeout(ctx))
		if err == nil && !retryable(resp.GetReason()) {
			return resp, nil
		}
		if err == nil {
			lastErr = fmt.Errorf("lot %d: %s", lotID, resp.GetReason())
			if attempt == c.attempts-1 {
				return resp, nil
			}
		} else {
			lastErr = err
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return zero, fmt.Errorf("%w: %v", ErrNoAnswer, lastErr)
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
