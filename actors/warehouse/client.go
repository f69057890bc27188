package warehouse

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

// Client calls warehouse grains.
type Client struct {
	c *cluster.Cluster
	// attemptTimeout bounds one attempt: a message lost while members come
	// and go (a node stopping or just back) is asked again after it, not
	// waited on for the whole request. Every warehouse message is
	// idempotent per order key (a repeated request carries out the saved
	// plan), so a repeat is safe. maxAttempts bounds the attempts.
	attemptTimeout time.Duration
	maxAttempts    int
}

// NewClient calls warehouse grains through c.
func NewClient(c *cluster.Cluster) *Client {
	return &Client{c: c, attemptTimeout: 3 * time.Second, maxAttempts: 8}
}

// call runs one warehouse grain call, asked again when an attempt fails
// or gets no answer in time, within ctx.
func call[T any](ctx context.Context, c *Client, id int64, fn func(*pb.WarehouseGrainClient, cluster.GrainCallOption) (T, error)) (T, error) {
	g := pb.GetWarehouseGrainClient(c.c, strconv.FormatInt(id, 10))
	resp, err := grainctx.Retry(ctx, c.attemptTimeout, c.maxAttempts, func(d time.Duration) (T, error) { return fn(g, cluster.WithTimeout(d)) })
	if err != nil {
		return resp, fmt.Errorf("warehouse %d: %w", id, err)
	}
	return resp, nil
}

// Allocate asks warehouse id for quantity of product for key.
func (c *Client) Allocate(ctx context.Context, id int64, key string, product, quantity int64) (*pb.AllocateResponse, error) {
	return c.allocate(ctx, id, &pb.AllocateRequest{OrderKey: key, ProductId: product, Quantity: quantity})
}

func (c *Client) allocate(ctx context.Context, id int64, req *pb.AllocateRequest) (*pb.AllocateResponse, error) {
	return call(ctx, c, id, func(g *pb.WarehouseGrainClient, opt cluster.GrainCallOption) (*pb.AllocateResponse, error) {
		r, err := g.Allocate(req, opt)
		if err == nil && r.GetReason() == pb.Reason_STALE_OWNER {
			return r, errStopped
		}
		return r, err
	})
}

// errStopped: the activation stopped before it planned the request (see
// grain.Terminate); the next one is asked.
var errStopped = errors.New("warehouse activation stopped before planning the request")

// Release gives back what key took of product in warehouse id.
func (c *Client) Release(ctx context.Context, id int64, key string, product int64) (*pb.ReleaseResponse, error) {
	req := &pb.ReleaseRequest{OrderKey: key, ProductId: product}
	return call(ctx, c, id, func(g *pb.WarehouseGrainClient, opt cluster.GrainCallOption) (*pb.ReleaseResponse, error) {
		return g.Release(req, opt)
	})
}

// Hold asks warehouse id to hold quantity of product for key until until,
// FEFO across its lots.
func (c *Client) Hold(ctx context.Context, id int64, key string, product, quantity int64, until time.Time) (*pb.AllocateResponse, error) {
	return c.allocate(ctx, id, &pb.AllocateRequest{OrderKey: key, ProductId: product, Quantity: quantity, HoldUntilUnixMs: until.UnixMilli()})
}

// Commit deducts what key holds of product in warehouse id.
func (c *Client) Commit(ctx context.Context, id int64, key string, product int64) (*pb.CommitAllocationResponse, error) {
	req := &pb.CommitAllocationRequest{OrderKey: key, ProductId: product}
	return call(ctx, c, id, func(g *pb.WarehouseGrainClient, opt cluster.GrainCallOption) (*pb.CommitAllocationResponse, error) {
		return g.CommitAllocation(req, opt)
	})
}
