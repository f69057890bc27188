// Package warehouse is the warehouse grain: one virtual actor per warehouse
// (identity: the warehouse id) that knows its regular lots per product and
// allocates a regular order line across them first expired, first out,
// splitting when one lot is short. The lots themselves stay the owners of
// their stock: the warehouse asks each lot grain to deduct its share.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot"
	"shelflife/clock"
	"shelflife/domain"
)

// Candidate is a regular lot the warehouse may allocate from.
type Candidate struct {
	LotID        int64
	ProductID    int64
	ExpiresAt    time.Time
	OnHand       int64
	MinShelfLife time.Duration
}

// Store is what the grain needs of MySQL.
type Store interface {
	// RegularLots lists the warehouse's REGULAR lots with stock.
	RegularLots(ctx context.Context, warehouseID int64) ([]Candidate, error)
	// Plan reads the allocation saved for (key, product) here, if any.
	Plan(ctx context.Context, key string, productID, warehouseID int64) ([]domain.Allocation, error)
	// SavePlan stores an allocation before it is carried out.
	SavePlan(ctx context.Context, key string, productID, warehouseID int64, plan []domain.Allocation) error
	// DeletePlan forgets an allocation that was undone.
	DeletePlan(ctx context.Context, key string, productID, warehouseID int64) error
}

// Lots deducts and restores on lot grains.
type Lots interface {
	Deduct(ctx context.Context, lotID int64, key string, quantity int64, ch pb.Channel) (*pb.DeductResponse, error)
	Restore(ctx context.Context, lotID int64, key string) (*pb.RestoreResponse, error)
}

// Deps are shared by the warehouse grains of a node.
type Deps struct {
	Store  Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Lots, when nil, is a lot.Client on the grain's cluster.
	Lots        Lots
	IdleTimeout time.Duration
	CallTimeout time.Duration
}

// Kind is the cluster kind of warehouse grains.
func Kind(d Deps) *cluster.Kind {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.IdleTimeout <= 0 {
		d.IdleTimeout = 10 * time.Minute
	}
	if d.CallTimeout <= 0 {
		d.CallTimeout = 10 * time.Second
	}
	deps := d
	return pb.NewWarehouseKind(func() pb.Warehouse { return &grain{deps: &deps} }, deps.IdleTimeout)
}

type grain struct {
	deps *Deps
	id   int64
	lots Lots
	log  *slog.Logger
	// byProduct caches the regular lots; the lots remain the authority, so
	// a stale entry costs a refused deduction and a reload, never stock.
	byProduct map[int64][]*Candidate
	loaded    bool
}

var _ pb.Warehouse = (*grain)(nil)

func (g *grain) Init(ctx cluster.GrainContext) {
	g.id, _ = strconv.ParseInt(ctx.Identity(), 10, 64)
	g.log = g.deps.Logger.With("warehouse", ctx.Identity())
	g.lots = g.deps.Lots
	if g.lots == nil {
		g.lots = lot.NewClient(ctx.Cluster())
	}
}

func (g *grain) Terminate(cluster.GrainContext)      {}
func (g *grain) ReceiveDefault(cluster.GrainContext) {}

func (g *grain) reload(ctx context.Context) error {
	cands, err := g.deps.Store.RegularLots(ctx, g.id)
	if err != nil {
		return err
	}
	g.byProduct = map[int64][]*Candidate{}
	for i := range cands {
		c := cands[i]
		g.byProduct[c.ProductID] = append(g.byProduct[c.ProductID], &c)
	}
	g.loaded = true
	return nil
}

// sellable lists what the cache says can be sold now as regular stock.
func (g *grain) sellable(productID int64, now time.Time) []domain.LotStock {
	var out []domain.LotStock
	for _, c := range g.byProduct[productID] {
		if c.OnHand <= 0 || domain.StateAt(c.ExpiresAt, now) != domain.Regular || c.ExpiresAt.Sub(now) < c.MinShelfLife {
			continue
		}
		out = append(out, domain.LotStock{LotID: c.LotID, ExpiresAt: c.ExpiresAt, Available: c.OnHand})
	}
	return out
}

func (g *grain) setOnHand(productID, lotID, onHand int64) {
	for _, c := range g.byProduct[productID] {
		if c.LotID == lotID {
			c.OnHand = onHand
		}
	}
}

// Allocate deducts an order line from the warehouse's regular lots, FEFO.
// A repeated request carries out the saved plan again, which the lots
// answer idempotently.
func (g *grain) Allocate(req *pb.AllocateRequest, _ cluster.GrainContext) (resp *pb.AllocateResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("allocate panic", "panic", fmt.Sprint(r))
			resp, err = &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE}, nil
		}
	}()
	if req.GetOrderKey() == "" || len(req.GetOrderKey()) > 100 || req.GetQuantity() <= 0 || req.GetProductId() <= 0 || g.id <= 0 {
		return &pb.AllocateResponse{Reason: pb.Reason_INVALID_ARGUMENT}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.deps.CallTimeout)
	defer cancel()
	key, product := req.GetOrderKey(), req.GetProductId()

	plan, err := g.deps.Store.Plan(ctx, key, product, g.id)
	if err != nil {
		return g.unavailable("read plan", err), nil
	}
	if len(plan) == 0 {
		var available int64
		plan, available, err = g.plan(ctx, product, req.GetQuantity())
		if err != nil {
			return g.unavailable("plan", err), nil
		}
		if plan == nil {
			reason := pb.Reason_INSUFFICIENT_STOCK
			if available == 0 && len(g.byProduct[product]) == 0 {
				reason = pb.Reason_PRODUCT_NOT_STOCKED
			}
			return &pb.AllocateResponse{Reason: reason, Available: available}, nil
		}
		if err := g.deps.Store.SavePlan(ctx, key, product, g.id, plan); err != nil {
			return g.unavailable("save plan", err), nil
		}
	}
	return g.carryOut(ctx, key, product, plan), nil
}

// plan chooses lots FEFO from the cache, reloading it once when it falls
// short. nil means the warehouse cannot give quantity; available is what it
// could give.
func (g *grain) plan(ctx context.Context, product, quantity int64) ([]domain.Allocation, int64, error) {
	now := g.deps.Clock.Now()
	for attempt := 0; attempt < 2; attempt++ {
		if !g.loaded || attempt == 1 {
			if err := g.reload(ctx); err != nil {
				return nil, 0, err
			}
		}
		stock := g.sellable(product, now)
		allocs, short := domain.AllocateFEFO(stock, quantity)
		if short == 0 {
			return allocs, quantity, nil
		}
		if attempt == 1 {
			return nil, quantity - short, nil
		}
	}
	return nil, 0, nil
}

// carryOut deducts every part of the plan. If one lot refuses, the parts
// already taken are restored and the plan is forgotten: the line fails as a
// whole and the next request plans afresh.
func (g *grain) carryOut(ctx context.Context, key string, product int64, plan []domain.Allocation) *pb.AllocateResponse {
	var takes []*pb.LotTake
	var refusal pb.Reason
	for _, a := range plan {
		resp, err := g.lots.Deduct(ctx, a.LotID, key, a.Quantity, pb.Channel_REGULAR)
		if err != nil {
			g.log.Error("deduct lot", "lot", a.LotID, "error", err.Error())
			refusal = pb.Reason_UNAVAILABLE
			break
		}
		if resp.GetReason() != pb.Reason_OK {
			refusal = resp.GetReason()
			g.setOnHand(product, a.LotID, resp.GetOnHand())
			break
		}
		g.setOnHand(product, a.LotID, resp.GetOnHand())
		takes = append(takes, &pb.LotTake{LotId: a.LotID, Quantity: resp.GetQuantity(), UnitPrice: resp.GetUnitPrice()})
	}
	if refusal == pb.Reason_OK {
		return &pb.AllocateResponse{Reason: pb.Reason_OK, Takes: takes}
	}
	if refusal == pb.Reason_UNAVAILABLE {
		// The outcome of the last deduction is unknown: keep the plan so a
		// retry carries out the same one, and let the caller decide.
		return &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE}
	}
	for _, a := range plan {
		if _, err := g.lots.Restore(ctx, a.LotID, key); err != nil {
			g.log.Error("restore after a refused allocation", "lot", a.LotID, "error", err.Error())
			return &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE}
		}
	}
	if err := g.deps.Store.DeletePlan(ctx, key, product, g.id); err != nil {
		g.log.Error("delete plan", "error", err.Error())
	}
	g.loaded = false // the cache was wrong; reload next time
	if refusal == pb.Reason_NOT_SELLABLE || refusal == pb.Reason_LOT_EXPIRED || refusal == pb.Reason_ALREADY_RESTORED {
		refusal = pb.Reason_INSUFFICIENT_STOCK
	}
	return &pb.AllocateResponse{Reason: refusal}
}

// Release restores what an allocation took (compensation). Without a plan
// there is nothing to give back.
func (g *grain) Release(req *pb.ReleaseRequest, _ cluster.GrainContext) (resp *pb.ReleaseResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("release panic", "panic", fmt.Sprint(r))
			resp, err = &pb.ReleaseResponse{Reason: pb.Reason_UNAVAILABLE}, nil
		}
	}()
	if req.GetOrderKey() == "" || req.GetProductId() <= 0 {
		return &pb.ReleaseResponse{Reason: pb.Reason_INVALID_ARGUMENT}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.deps.CallTimeout)
	defer cancel()
	plan, err := g.deps.Store.Plan(ctx, req.GetOrderKey(), req.GetProductId(), g.id)
	if err != nil {
		return &pb.ReleaseResponse{Reason: pb.Reason_UNAVAILABLE}, nil
	}
	var restored int64
	for _, a := range plan {
		r, err := g.lots.Restore(ctx, a.LotID, req.GetOrderKey())
		if err != nil || r.GetReason() != pb.Reason_OK {
			return &pb.ReleaseResponse{Reason: pb.Reason_UNAVAILABLE, Restored: restored}, nil
		}
		restored += r.GetRestored()
		g.setOnHand(req.GetProductId(), a.LotID, r.GetOnHand())
	}
	return &pb.ReleaseResponse{Reason: pb.Reason_OK, Restored: restored}, nil
}

func (g *grain) unavailable(what string, err error) *pb.AllocateResponse {
	g.log.Error(what, "error", err.Error())
	return &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE}
}

// Client calls warehouse grains.
type Client struct {
	c *cluster.Cluster
}

// NewClient calls warehouse grains through c.
func NewClient(c *cluster.Cluster) *Client { return &Client{c: c} }

// Allocate asks warehouse id for quantity of product for key.
func (c *Client) Allocate(ctx context.Context, id int64, key string, product, quantity int64) (*pb.AllocateResponse, error) {
	g := pb.GetWarehouseGrainClient(c.c, strconv.FormatInt(id, 10))
	req := &pb.AllocateRequest{OrderKey: key, ProductId: product, Quantity: quantity}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		d := 15 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			d = max(time.Until(dl), time.Millisecond)
		}
		resp, err := g.Allocate(req, cluster.WithTimeout(d))
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
	d := 15 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		d = max(time.Until(dl), time.Millisecond)
	}
	return g.Release(&pb.ReleaseRequest{OrderKey: key, ProductId: product}, cluster.WithTimeout(d))
}
