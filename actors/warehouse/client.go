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
}

// NewClient calls warehouse grains through c.
func NewClient(c *cluster.Cluster) *Client { return &Client{c: c} }

// Allocate asks warehouse id for quantity of product for key.
func (c *Client) Allocate(ctx context.Context, id int64, key string, product, quantity int64) (*pb.AllocateResponse, error) {
	return c.allocate(ctx, id, &pb.AllocateRequest{OrderKey: key, ProductId: product, Quantity: quantity})
}

func (c *Client) allocate(ctx context.Context, id int64, req *pb.AllocateRequest) (*pb.AllocateResponse, error) {
	g := pb.GetWarehouseGrainClient(c.c, strconv.FormatInt(id, 10))
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		opt := cluster.WithTimeout(grainctx.Timeout(ctx, 15*time.Second))
		resp, err := grainctx.Within(ctx, func() (*pb.AllocateResponse, error) { return g.Allocate(req, opt) })
		if err == nil {
			return resp, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("warehouse %d: %w", id, errors.Join(last, ctx.Err()))
}

// Release gives back what key took of product in warehouse id.
func (c *Client) Release(ctx context.Context, id int64, key string, product int64) (*pb.ReleaseResponse, error) {
	g := pb.GetWarehouseGrainClient(c.c, strconv.FormatInt(id, 10))
	req, opt := &pb.ReleaseRequest{OrderKey: key, ProductId: product}, cluster.WithTimeout(grainctx.Timeout(ctx, 15*time.Second))
	return grainctx.Within(ctx, func() (*pb.ReleaseResponse, error) { return g.Release(req, opt) })
}

// Hold asks warehouse id to hold quantity of product for key until until,
// FEFO across its lots.
func (c *Client) Hold(ctx context.Context, id int64, key string, product, quantity int64, until time.Time) (*pb.AllocateResponse, error) {
	return c.allocate(ctx, id, &pb.AllocateRequest{OrderKey: key, ProductId: product, Quantity: quantity, HoldUntilUnixMs: until.UnixMilli()})
}

// Commit deducts what key holds of product in warehouse id.
func (c *Client) Commit(ctx context.Context, id int64, key string, product int64) (*pb.CommitAllocationResponse, error) {
	g := pb.GetWarehouseGrainClient(c.c, strconv.FormatInt(id, 10))
	req, opt := &pb.CommitAllocationRequest{OrderKey: key, ProductId: product}, cluster.WithTimeout(grainctx.Timeout(ctx, 15*time.Second))
	return grainctx.Within(ctx, func() (*pb.CommitAllocationResponse, error) { return g.CommitAllocation(req, opt) })
}
