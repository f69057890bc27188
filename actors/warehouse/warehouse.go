// Package warehouse is the warehouse grain: one virtual actor per warehouse
// (identity: the warehouse id) that knows its regular lots per product and
// allocates a regular order line across them first expired, first out,
// splitting when one lot is short. The lots themselves stay the owners of
// their stock: the warehouse asks each lot grain to deduct its share.
package warehouse

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot"
	"shelflife/domain"
)

type grain struct {
	deps   *Deps
	id     int64
	lots   Lots
	log    *slog.Logger
	system *actor.ActorSystem

	// mu guards what follows: the grain's handlers and the goroutines that
	// plan batches and carry plans out share it.
	mu sync.Mutex
	// byProduct caches the regular lots; the lots remain the authority, so
	// a stale entry costs a refused deduction and a reload, never stock.
	byProduct map[int64][]*Candidate
	loaded    bool
	// inflight is what plans not yet answered by their lots hold, per lot
	// and per product: planning counts it as gone.
	inflight        map[int64]int64
	inflightProduct map[int64]int64
	// plans are the saved plans this activation made or read.
	plans map[PlanKey][]domain.Allocation
	// queue waits for the next batch; parked waits for a product's plans
	// in flight to be answered before it is refused for lack of stock.
	queue   []*allocation
	parked  []*allocation
	running bool
}

// allocation is one Allocate request waiting for its answer.
type allocation struct {
	req  *pb.AllocateRequest
	to   *actor.PID
	plan []domain.Allocation
	// fresh: planned by this batch, so its parts count as in flight.
	fresh bool
}

func (a *allocation) key() PlanKey {
	return PlanKey{Key: a.req.GetOrderKey(), ProductID: a.req.GetProductId()}
}

// maxKnownPlans bounds the plans kept in memory; older ones are read from
// MySQL again when a retry or a release needs them.
const maxKnownPlans = 50_000

var _ pb.Warehouse = (*grain)(nil)

func (g *grain) Init(ctx cluster.GrainContext) {
	g.id, _ = strconv.ParseInt(ctx.Identity(), 10, 64)
	g.system = ctx.ActorSystem()
	g.log = g.deps.Logger.With("warehouse", ctx.Identity())
	g.lots = g.deps.Lots
	if g.lots == nil {
		g.lots = lot.NewClient(ctx.Cluster())
	}
	g.inflight, g.inflightProduct = map[int64]int64{}, map[int64]int64{}
	g.plans = map[PlanKey][]domain.Allocation{}
}

func (g *grain) Terminate(cluster.GrainContext)      {}
func (g *grain) ReceiveDefault(cluster.GrainContext) {}

// reload reads the regular lots; it runs without mu held.
func (g *grain) reload(ctx context.Context) error {
	cands, err := g.deps.Store.RegularLots(ctx, g.id)
	if err != nil {
		return err
	}
	by := map[int64][]*Candidate{}
	for i := range cands {
		c := cands[i]
		by[c.ProductID] = append(by[c.ProductID], &c)
	}
	g.locked(func() { g.byProduct, g.loaded = by, true })
	return nil
}

// sellable lists what the cache says can be sold now as regular stock,
// less what plans in flight hold. mu held.
func (g *grain) sellable(productID int64, now time.Time) []domain.LotStock {
	var out []domain.LotStock
	for _, c := range g.byProduct[productID] {
		free := c.OnHand - g.inflight[c.LotID]
		if free <= 0 || domain.StateAt(c.ExpiresAt, now) != domain.Regular || c.ExpiresAt.Sub(now) < c.MinShelfLife {
			continue
		}
		out = append(out, domain.LotStock{LotID: c.LotID, ExpiresAt: c.ExpiresAt, Available: free})
	}
	return out
}

// lotAnswered updates the cache with what a lot said after a deduction:
// stock only goes down between reloads, so an answer that overtook a later
// one cannot raise it. mu held.
func (g *grain) lotAnswered(productID, lotID, onHand int64) {
	for _, c := range g.byProduct[productID] {
		if c.LotID == lotID && onHand < c.OnHand {
			c.OnHand = onHand
		}
	}
}

// restored adds back what a release gave to a lot. mu held.
func (g *grain) restored(productID, lotID, units int64) {
	for _, c := range g.byProduct[productID] {
		if c.LotID == lotID {
			c.OnHand += units
		}
	}
}

// Allocate deducts an order line from the warehouse's regular lots, FEFO.
// Requests are planned and their plans saved in batches (one read and one
// write for all of a batch), then carried out concurrently, so a hot
// product is not served one order at a time. A repeated request carries
// out the saved plan again, which the lots answer idempotently.
func (g *grain) Allocate(req *pb.AllocateRequest, respond func(*pb.AllocateResponse), _ func(error), ctx cluster.GrainContext) error {
	if req.GetOrderKey() == "" || len(req.GetOrderKey()) > 100 || req.GetQuantity() <= 0 || req.GetProductId() <= 0 || g.id <= 0 {
		respond(&pb.AllocateResponse{Reason: pb.Reason_INVALID_ARGUMENT})
		return nil
	}
	g.enqueue(&allocation{req: req, to: ctx.Sender()})
	return nil
}

// locked runs fn holding mu, which a panic in fn does not leave held.
func (g *grain) locked(fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fn()
}

func (g *grain) enqueue(as ...*allocation) {
	var start bool
	g.locked(func() {
		g.queue = append(g.queue, as...)
		start = !g.running && len(g.queue) > 0
		if start {
			g.running = true
		}
	})
	if start {
		go g.drain()
	}
}

// drain plans batches until the queue is empty. A panic answers the batch
// UNAVAILABLE (its callers retry; saved plans make that safe) and never
// reaches the process.
func (g *grain) drain() {
	for {
		var batch []*allocation
		g.locked(func() {
			batch, g.queue = g.queue, nil
			if len(batch) == 0 {
				g.running = false
			}
		})
		if len(batch) == 0 {
			return
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					g.log.Error("allocate panic", "panic", fmt.Sprint(r))
					for _, a := range batch {
						g.answer(a, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE})
					}
				}
			}()
			g.process(batch)
		}()
	}
}

func (g *grain) answer(a *allocation, resp *pb.AllocateResponse) {
	if a.to != nil {
		g.system.Root.Send(a.to, resp)
	}
}

// process plans one batch: the plans already saved (in memory, else one
// read), new plans from the cache, one write for all of them; then each
// is carried out on its own goroutine.
func (g *grain) process(batch []*allocation) {
	ctx, cancel := context.WithTimeout(context.Background(), g.deps.CallTimeout)
	defer cancel()

	if !g.knownPlans(ctx, batch) {
		return
	}

	fresh, refused := g.planNew(ctx, batch)
	for _, r := range refused {
		g.answer(r.a, r.resp)
	}
	if len(fresh) > 0 {
		g.savePlans(ctx, batch, fresh)
	}
	// Every request without a plan has been answered, or parked.
	for _, a := range batch {
		if a.plan != nil {
			go g.carryOut(a)
		}
	}
}

// knownPlans gives each request of batch the plan saved for its key, from
// memory or else from one read; it reports false, having answered the
// whole batch UNAVAILABLE, when the read failed.
func (g *grain) knownPlans(ctx context.Context, batch []*allocation) bool {
	var unknown []PlanKey
	seen := map[PlanKey]bool{}
	g.locked(func() {
		for _, a := range batch {
			k := a.key()
			if p, ok := g.plans[k]; ok {
				a.plan = p
			} else if !seen[k] {
				seen[k] = true
				unknown = append(unknown, k)
			}
		}
	})
	if len(unknown) > 0 {
		saved, err := g.deps.Store.Plans(ctx, g.id, unknown)
		if err != nil {
			g.log.Error("read plans", "error", err.Error())
			for _, a := range batch {
				g.answer(a, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE})
			}
			return false
		}
		g.locked(func() {
			for _, a := range batch {
				if p, ok := saved[a.key()]; ok && a.plan == nil {
					a.plan = p
					g.plans[a.key()] = p
				}
			}
		})
	}

	return true
}

// savePlans writes the fresh plans in one statement. When the write fails
// they are not carried out: what the plans held is given back and the
// requests are answered UNAVAILABLE; whether the write landed is unknown,
// so nothing is remembered and a retry reads MySQL.
func (g *grain) savePlans(ctx context.Context, batch, fresh []*allocation) {
	plans := map[PlanKey][]domain.Allocation{}
	for _, a := range fresh {
		plans[a.key()] = a.plan
	}
	if err := g.deps.Store.SavePlans(ctx, g.id, plans); err != nil {
		g.log.Error("save plans", "error", err.Error())
		var failed []*allocation
		g.locked(func() {
			for _, a := range batch {
				if _, ok := plans[a.key()]; ok && a.plan != nil {
					g.settle(a, nil)
					a.plan = nil
					failed = append(failed, a)
				}
			}
		})
		for _, a := range failed {
			g.answer(a, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE})
		}
		return
	}
	g.locked(func() {
		if len(g.plans)+len(plans) > maxKnownPlans {
			g.plans = map[PlanKey][]domain.Allocation{}
		}
		for k, p := range plans {
			g.plans[k] = p
		}
	})
}

type refusal struct {
	a    *allocation
	resp *pb.AllocateResponse
}

// planNew plans, FEFO from the cache, the requests of batch that have no
// saved plan, and holds their parts in flight. The cache is reloaded once
// when it falls short; a request still short while plans of its product
// are in flight is parked until they are answered (their lots may refuse
// them); otherwise it is refused.
func (g *grain) planNew(ctx context.Context, batch []*allocation) (fresh []*allocation, refused []refusal) {
	now := g.deps.Clock.Now()
	needReload := !g.isLoaded()
	for attempt := 0; attempt < 2; attempt++ {
		if needReload {
			if err := g.reload(ctx); err != nil {
				g.log.Error("load regular lots", "error", err.Error())
				for _, a := range batch {
					if a.plan == nil {
						refused = append(refused, refusal{a, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE}})
					}
				}
				return fresh, refused
			}
		}
		needReload = false
		var short []*allocation
		var done bool
		planned := map[PlanKey][]domain.Allocation{}
		g.locked(func() {
			for _, a := range batch {
				if a.plan != nil {
					continue
				}
				k := a.key()
				if p, ok := planned[k]; ok {
					// The same request twice in one batch: one plan.
					a.plan = p
					continue
				}
				allocs, miss := domain.AllocateFEFO(g.sellable(k.ProductID, now), a.req.GetQuantity())
				if miss > 0 {
					short = append(short, a)
					continue
				}
				a.plan, a.fresh = allocs, true
				planned[k] = allocs
				g.hold(k.ProductID, allocs)
				fresh = append(fresh, a)
			}
			if len(short) > 0 && attempt == 0 {
				return
			}
			done = true
			for _, a := range short {
				if g.inflightProduct[a.req.GetProductId()] > 0 {
					g.parked = append(g.parked, a)
					continue
				}
				var free int64
				for _, st := range g.sellable(a.req.GetProductId(), now) {
					free += st.Available
				}
				reason := pb.Reason_INSUFFICIENT_STOCK
				if free == 0 && len(g.byProduct[a.req.GetProductId()]) == 0 {
					reason = pb.Reason_PRODUCT_NOT_STOCKED
				}
				refused = append(refused, refusal{a, &pb.AllocateResponse{Reason: reason, Available: free}})
			}
		})
		if done {
			return fresh, refused
		}
		needReload = true
		batch = short
	}
	return fresh, refused
}

func (g *grain) isLoaded() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.loaded
}

// hold counts a new plan's parts as in flight. mu held.
func (g *grain) hold(productID int64, plan []domain.Allocation) {
	for _, p := range plan {
		g.inflight[p.LotID] += p.Quantity
		g.inflightProduct[productID] += p.Quantity
	}
}

// settle ends what a fresh plan's part held once its lot answered (or
// will not be asked); when nothing of the product is in flight any more,
// the requests parked for it are planned again. mu held.
func (g *grain) settle(a *allocation, part *domain.Allocation) {
	if !a.fresh {
		return
	}
	product := a.req.GetProductId()
	parts := a.plan
	if part != nil {
		parts = []domain.Allocation{*part}
	}
	for _, p := range parts {
		g.inflight[p.LotID] -= p.Quantity
		if g.inflight[p.LotID] <= 0 {
			delete(g.inflight, p.LotID)
		}
		g.inflightProduct[product] -= p.Quantity
	}
	if g.inflightProduct[product] > 0 {
		return
	}
	delete(g.inflightProduct, product)
	var keep, again []*allocation
	for _, w := range g.parked {
		if w.req.GetProductId() == product {
			again = append(again, w)
		} else {
			keep = append(keep, w)
		}
	}
	if len(again) > 0 {
		g.parked = keep
		g.queue = append(g.queue, again...)
		if !g.running {
			g.running = true
			go g.drain()
		}
	}
}

// carryOut deducts every part of the plan, then answers. If one lot
// refuses, the parts already taken are restored and the plan is
// forgotten: the line fails as a whole and the next request plans afresh.
func (g *grain) carryOut(a *allocation) {
	ctx, cancel := context.WithTimeout(context.Background(), g.deps.CallTimeout)
	defer cancel()
	unsettled := 0 // the first part still held in flight
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("allocate panic", "panic", fmt.Sprint(r))
			g.locked(func() {
				for _, rest := range a.plan[unsettled:] {
					g.settle(a, &rest)
				}
			})
			g.answer(a, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE})
		}
	}()
	product := a.req.GetProductId()
	var takes []*pb.LotTake
	var refused pb.Reason
	for i := range a.plan {
		part := a.plan[i]
		resp, err := g.takePart(ctx, a.req, part)
		g.locked(func() {
			if err == nil {
				g.lotAnswered(product, part.LotID, resp.GetOnHand())
			}
			if err != nil || resp.GetReason() != pb.Reason_OK {
				// The parts not asked hold nothing any more either.
				for _, rest := range a.plan[i:] {
					g.settle(a, &rest)
				}
				unsettled = len(a.plan)
			} else {
				g.settle(a, &part)
				unsettled = i + 1
			}
		})
		if err != nil {
			g.log.Error("deduct lot", "lot", part.LotID, "error", err.Error())
			refused = pb.Reason_UNAVAILABLE
			break
		}
		if resp.GetReason() != pb.Reason_OK {
			refused = resp.GetReason()
			break
		}
		takes = append(takes, &pb.LotTake{LotId: part.LotID, Quantity: resp.GetQuantity(), UnitPrice: resp.GetUnitPrice()})
	}
	if refused == pb.Reason_HOLD_EXPIRED {
		refused = pb.Reason_INSUFFICIENT_STOCK
	}
	switch refused {
	case pb.Reason_OK:
		g.answer(a, &pb.AllocateResponse{Reason: pb.Reason_OK, Takes: takes})
		return
	case pb.Reason_UNAVAILABLE:
		// The outcome of the last deduction is unknown: keep the plan so a
		// retry carries out the same one, and let the caller decide.
		g.answer(a, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE})
		return
	}
	for _, part := range a.plan {
		if _, err := g.lots.Restore(ctx, part.LotID, a.req.GetOrderKey()); err != nil {
			g.log.Error("restore after a refused allocation", "lot", part.LotID, "error", err.Error())
			g.answer(a, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE})
			return
		}
	}
	if err := g.deps.Store.DeletePlan(ctx, a.req.GetOrderKey(), product, g.id); err != nil {
		g.log.Error("delete plan", "error", err.Error())
	}
	g.locked(func() {
		delete(g.plans, a.key())
		g.loaded = false // the cache was wrong; reload next time
	})
	if refused == pb.Reason_NOT_SELLABLE || refused == pb.Reason_LOT_EXPIRED || refused == pb.Reason_ALREADY_RESTORED {
		refused = pb.Reason_INSUFFICIENT_STOCK
	}
	g.answer(a, &pb.AllocateResponse{Reason: refused})
}

// lotAnswer is what carrying out one part of a plan needs of a lot's
// answer, deduction or hold.
type lotAnswer interface {
	GetReason() pb.Reason
	GetQuantity() int64
	GetUnitPrice() int64
	GetOnHand() int64
}

// takePart deducts one part of a plan from its lot, or holds it there when
// the request asks for a hold.
func (g *grain) takePart(ctx context.Context, req *pb.AllocateRequest, part domain.Allocation) (lotAnswer, error) {
	if until := req.GetHoldUntilUnixMs(); until > 0 {
		return g.lots.Reserve(ctx, part.LotID, req.GetOrderKey(), part.Quantity, pb.Channel_REGULAR, time.UnixMilli(until))
	}
	return g.lots.Deduct(ctx, part.LotID, req.GetOrderKey(), part.Quantity, pb.Channel_REGULAR)
}

// CommitAllocation turns the holds of a saved plan into deductions, part
// by part, and stops at the first refusal (the caller releases the line).
func (g *grain) CommitAllocation(req *pb.CommitAllocationRequest, _ cluster.GrainContext) (resp *pb.CommitAllocationResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("commit panic", "panic", fmt.Sprint(r))
			resp, err = &pb.CommitAllocationResponse{Reason: pb.Reason_UNAVAILABLE}, nil
		}
	}()
	if req.GetOrderKey() == "" || req.GetProductId() <= 0 {
		return &pb.CommitAllocationResponse{Reason: pb.Reason_INVALID_ARGUMENT}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.deps.CallTimeout)
	defer cancel()
	plan, err := g.plan(ctx, PlanKey{Key: req.GetOrderKey(), ProductID: req.GetProductId()})
	if err != nil {
		return &pb.CommitAllocationResponse{Reason: pb.Reason_UNAVAILABLE}, nil
	}
	if len(plan) == 0 {
		return &pb.CommitAllocationResponse{Reason: pb.Reason_NO_HOLD}, nil
	}
	var takes []*pb.LotTake
	for _, part := range plan {
		r, err := g.lots.Commit(ctx, part.LotID, req.GetOrderKey())
		if err != nil {
			g.log.Error("commit lot", "lot", part.LotID, "error", err.Error())
			return &pb.CommitAllocationResponse{Reason: pb.Reason_UNAVAILABLE, Takes: takes}, nil
		}
		if r.GetReason() != pb.Reason_OK {
			return &pb.CommitAllocationResponse{Reason: r.GetReason(), Takes: takes}, nil
		}
		takes = append(takes, &pb.LotTake{LotId: part.LotID, Quantity: r.GetQuantity(), UnitPrice: r.GetUnitPrice()})
	}
	return &pb.CommitAllocationResponse{Reason: pb.Reason_OK, Takes: takes}, nil
}

// plan is the plan saved for key, from memory or else from MySQL; nil when
// there is none.
func (g *grain) plan(ctx context.Context, key PlanKey) ([]domain.Allocation, error) {
	var plan []domain.Allocation
	var known bool
	g.locked(func() { plan, known = g.plans[key] })
	if known {
		return plan, nil
	}
	saved, err := g.deps.Store.Plans(ctx, g.id, []PlanKey{key})
	if err != nil {
		return nil, err
	}
	return saved[key], nil
}

// Release gives back what an allocation took, held or deducted
// (compensation). Without a plan there is nothing to give back.
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
	key := PlanKey{Key: req.GetOrderKey(), ProductID: req.GetProductId()}
	saved, err := g.deps.Store.Plans(ctx, g.id, []PlanKey{key})
	if err != nil {
		return &pb.ReleaseResponse{Reason: pb.Reason_UNAVAILABLE}, nil
	}
	plan := saved[key]
	var restored int64
	for _, a := range plan {
		r, err := g.lots.Restore(ctx, a.LotID, req.GetOrderKey())
		if err != nil || r.GetReason() != pb.Reason_OK {
			return &pb.ReleaseResponse{Reason: pb.Reason_UNAVAILABLE, Restored: restored}, nil
		}
		restored += r.GetRestored()
		g.locked(func() { g.restored(req.GetProductId(), a.LotID, r.GetRestored()) })
	}
	return &pb.ReleaseResponse{Reason: pb.Reason_OK, Restored: restored}, nil
}
