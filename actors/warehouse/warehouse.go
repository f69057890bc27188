// Package warehouse is the warehouse grain: one virtual actor per warehouse
// (identity: the warehouse id) that knows its regular lots per product and
// allocates (or holds) a regular order line across them first expired,
// first out, splitting when one lot is short. The lots themselves stay the
// owners of their stock: the warehouse asks each lot grain to deduct or
// hold its share.
//
// The grain is a plain actor: only its handlers touch its state, one
// message at a time. Everything that waits — MySQL, the lot grains — runs
// on goroutines that touch nothing of the grain and send what they learnt
// back as messages (ahead of the queued requests, in a priority mailbox),
// or answer their caller directly.
package warehouse

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
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
	self   *actor.PID
	system *actor.ActorSystem

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
	queue  []*allocation
	parked []*allocation
	// batch is the batch being planned, if any: one at a time;
	// reloadedOnce says its lots were read again because it fell short.
	batch        []*allocation
	reloadedOnce bool
}

// allocation is one Allocate request waiting for its answer.
type allocation struct {
	req  *pb.AllocateRequest
	to   *actor.PID
	plan []domain.Allocation
	// fresh: planned by this batch, so its parts count as in flight.
	fresh bool
	// settled counts the plan's parts no longer in flight.
	settled int
}

func (a *allocation) key() PlanKey {
	return PlanKey{Key: a.req.GetOrderKey(), ProductID: a.req.GetProductId()}
}

// maxKnownPlans bounds the plans kept in memory; older ones are read from
// MySQL again when a retry or a release needs them.
const maxKnownPlans = 50_000

var _ pb.Warehouse = (*grain)(nil)

// The messages a grain's goroutines send it. Each goes ahead of the
// requests queued in the mailbox (actor.PriorityMessage).
type (
	// plansRead: the saved plans of a batch's keys, read from MySQL.
	plansRead struct {
		saved map[PlanKey][]domain.Allocation
		err   error
	}
	// lotsLoaded: the warehouse's regular lots, read from MySQL.
	lotsLoaded struct {
		by  map[int64][]*Candidate
		err error
	}
	// plansSaved: the batch's fresh plans were (or were not) written.
	plansSaved struct {
		plans map[PlanKey][]domain.Allocation
		err   error
	}
	// partAnswered: a lot answered (or did not) for one part of a plan.
	// last: the parts after it will not be asked.
	partAnswered struct {
		a      *allocation
		part   int
		onHand int64
		known  bool // onHand is the lot's answer
		last   bool
	}
	// planUndone: a refused allocation was given back; its plan is gone.
	planUndone struct{ key PlanKey }
	// unitsBack: a release gave units back to a lot.
	unitsBack struct{ product, lot, units int64 }
)

func (*plansRead) GetPriority() int8    { return 7 }
func (*lotsLoaded) GetPriority() int8   { return 7 }
func (*plansSaved) GetPriority() int8   { return 7 }
func (*partAnswered) GetPriority() int8 { return 7 }
func (*planUndone) GetPriority() int8   { return 7 }
func (*unitsBack) GetPriority() int8    { return 7 }

func (g *grain) Init(ctx cluster.GrainContext) {
	g.id, _ = strconv.ParseInt(ctx.Identity(), 10, 64)
	g.self, g.system = ctx.Self(), ctx.ActorSystem()
	g.log = g.deps.Logger.With("warehouse", ctx.Identity())
	g.lots = g.deps.Lots
	if g.lots == nil {
		g.lots = lot.ClientFor(ctx.Cluster())
	}
	g.inflight, g.inflightProduct = map[int64]int64{}, map[int64]int64{}
	g.plans = map[PlanKey][]domain.Allocation{}
}

// Terminate answers the allocations not yet planned (queued, or waiting
// for a product's plans in flight) STALE_OWNER: nothing was saved or held
// for them, and the client asks the next activation at once rather than
// after its attempt's timeout. The batch being planned is left to its
// callers' timeout: its plans may be on their way to MySQL, where the next
// activation must find them. So is a queued repeat of one of its keys (a
// caller that gave up on an attempt while the plan was being saved): asked
// again at once, the next activation could plan the key afresh before the
// first plan lands, and the two would merge in MySQL.
func (g *grain) Terminate(cluster.GrainContext) {
	planning := map[PlanKey]bool{}
	for _, a := range g.batch {
		planning[a.key()] = true
	}
	for _, list := range [][]*allocation{g.queue, g.parked} {
		for _, a := range list {
			if !planning[a.key()] {
				g.answer(a.to, &pb.AllocateResponse{Reason: pb.Reason_STALE_OWNER})
			}
		}
	}
	g.queue, g.parked = nil, nil
}

// ReceiveDefault handles what the grain's goroutines send back. A panic
// answers the batch being planned UNAVAILABLE (its callers retry; saved
// plans make that safe) and leaves the grain to take the next.
func (g *grain) ReceiveDefault(ctx cluster.GrainContext) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("warehouse grain panic", "panic", fmt.Sprint(r))
			g.failBatch(pb.Reason_UNAVAILABLE)
		}
	}()
	switch m := ctx.Message().(type) {
	case *plansRead:
		g.onPlansRead(m)
	case *lotsLoaded:
		g.onLotsLoaded(m)
	case *plansSaved:
		g.onPlansSaved(m)
	case *partAnswered:
		g.onPartAnswered(m)
	case *planUndone:
		delete(g.plans, m.key)
		g.loaded = false // the cache was wrong; reload next time
	case *unitsBack:
		g.restored(m.product, m.lot, m.units)
	}
}

// send hands a message to the grain from any goroutine.
func (g *grain) send(msg any) { g.system.Root.Send(g.self, msg) }

func (g *grain) answer(to *actor.PID, resp any) {
	if to != nil {
		g.system.Root.Send(to, resp)
	}
}

// sellable lists what the cache says can be sold now as regular stock,
// less what plans in flight hold.
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

// lotAnswered updates the cache with what a lot said: stock only goes down
// between reloads, so an answer that overtook a later one cannot raise it.
func (g *grain) lotAnswered(productID, lotID, onHand int64) {
	for _, c := range g.byProduct[productID] {
		if c.LotID == lotID && onHand < c.OnHand {
			c.OnHand = onHand
		}
	}
}

// restored adds back what a release gave to a lot.
func (g *grain) restored(productID, lotID, units int64) {
	for _, c := range g.byProduct[productID] {
		if c.LotID == lotID {
			c.OnHand += units
		}
	}
}

// Allocate deducts (or holds) an order line from the warehouse's regular
// lots, FEFO. Requests are planned and their plans saved in batches (one
// read and one write for all of a batch), then carried out concurrently,
// so a hot product is not served one order at a time. A repeated request
// carries out the saved plan again, which the lots answer idempotently.
func (g *grain) Allocate(req *pb.AllocateRequest, respond func(*pb.AllocateResponse), _ func(error), ctx cluster.GrainContext) error {
	if req.GetOrderKey() == "" || len(req.GetOrderKey()) > 100 || req.GetQuantity() <= 0 || req.GetProductId() <= 0 || g.id <= 0 {
		respond(&pb.AllocateResponse{Reason: pb.Reason_INVALID_ARGUMENT})
		return nil
	}
	g.queue = append(g.queue, &allocation{req: req, to: ctx.Sender()})
	g.next()
	return nil
}

// next starts planning the queued requests when no batch is being planned.
// The plans already known are taken from memory; the others are read in
// one query.
func (g *grain) next() {
	if g.batch != nil || len(g.queue) == 0 {
		return
	}
	g.batch, g.queue = g.queue, nil
	var unknown []PlanKey
	seen := map[PlanKey]bool{}
	for _, a := range g.batch {
		k := a.key()
		if p, ok := g.plans[k]; ok {
			a.plan = p
		} else if !seen[k] {
			seen[k] = true
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		g.onPlansRead(&plansRead{})
		return
	}
	store, id, timeout := g.deps.Store, g.id, g.deps.CallTimeout
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		saved, err := store.Plans(ctx, id, unknown)
		g.send(&plansRead{saved: saved, err: err})
	}()
}

// failBatch answers every request of the batch being planned (none has
// been answered or carried out yet), gives back what its fresh plans held,
// and takes the next batch.
func (g *grain) failBatch(reason pb.Reason) {
	for _, a := range g.batch {
		g.settleRest(a)
		g.answer(a.to, &pb.AllocateResponse{Reason: reason})
	}
	g.batch, g.reloadedOnce = nil, false
	g.next()
}

func (g *grain) onPlansRead(m *plansRead) {
	if m.err != nil {
		g.log.Error("read plans", "error", m.err.Error())
		g.failBatch(pb.Reason_UNAVAILABLE)
		return
	}
	for _, a := range g.batch {
		if p, ok := m.saved[a.key()]; ok && a.plan == nil {
			a.plan = p
			g.plans[a.key()] = p
		}
	}
	if !g.loaded {
		g.reload()
		return
	}
	g.plan(false)
}

// reload reads the regular lots on a goroutine.
func (g *grain) reload() {
	store, id, timeout := g.deps.Store, g.id, g.deps.CallTimeout
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cands, err := store.RegularLots(ctx, id)
		by := map[int64][]*Candidate{}
		for i := range cands {
			c := cands[i]
			by[c.ProductID] = append(by[c.ProductID], &c)
		}
		g.send(&lotsLoaded{by: by, err: err})
	}()
}

func (g *grain) onLotsLoaded(m *lotsLoaded) {
	if g.batch == nil {
		return
	}
	if m.err != nil {
		g.log.Error("load regular lots", "error", m.err.Error())
		g.failBatch(pb.Reason_UNAVAILABLE)
		return
	}
	g.byProduct, g.loaded = m.by, true
	// A reload during planning is the second try for what fell short.
	g.plan(g.reloadedOnce)
}

// plan plans, FEFO from the cache, the requests of the batch that have no
// saved plan, and holds their parts in flight. The cache is reloaded once
// when it falls short (final false); a request still short while plans of
// its product are in flight is parked until they are answered (their lots
// may refuse them); otherwise it is refused. The fresh plans are then
// saved in one write.
func (g *grain) plan(final bool) {
	now := g.deps.Clock.Now()
	var short []*allocation
	planned := map[PlanKey][]domain.Allocation{}
	for _, a := range g.batch {
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
	}
	if len(short) > 0 && !final {
		g.reloadedOnce = true
		g.reload()
		return
	}
	g.reloadedOnce = false
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
		g.answer(a.to, &pb.AllocateResponse{Reason: reason, Available: free})
	}
	plans := map[PlanKey][]domain.Allocation{}
	for _, a := range g.batch {
		if a.fresh {
			plans[a.key()] = a.plan
		}
	}
	if len(plans) == 0 {
		g.onPlansSaved(&plansSaved{})
		return
	}
	store, id, timeout := g.deps.Store, g.id, g.deps.CallTimeout
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		g.send(&plansSaved{plans: plans, err: store.SavePlans(ctx, id, plans)})
	}()
}

// onPlansSaved carries out the batch's plans. When the write failed they
// are not carried out: what the plans held is given back and the requests
// are answered UNAVAILABLE; whether the write landed is unknown, so nothing
// is remembered and a retry reads MySQL.
func (g *grain) onPlansSaved(m *plansSaved) {
	batch := g.batch
	g.batch = nil
	if m.err != nil {
		g.log.Error("save plans", "error", m.err.Error())
		for _, a := range batch {
			if _, ok := m.plans[a.key()]; ok && a.fresh {
				g.settleRest(a)
				a.plan = nil
				g.answer(a.to, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE})
			}
		}
		g.next()
		return
	}
	if len(g.plans)+len(m.plans) > maxKnownPlans {
		g.plans = map[PlanKey][]domain.Allocation{}
	}
	for k, p := range m.plans {
		g.plans[k] = p
	}
	for _, a := range batch {
		if a.plan != nil {
			go g.carryOut(a)
		}
	}
	g.next()
}

// hold counts a new plan's parts as in flight.
func (g *grain) hold(productID int64, plan []domain.Allocation) {
	for _, p := range plan {
		g.inflight[p.LotID] += p.Quantity
		g.inflightProduct[productID] += p.Quantity
	}
}

// settleRest ends what the parts of a fresh plan not yet settled hold.
func (g *grain) settleRest(a *allocation) {
	for a.fresh && a.settled < len(a.plan) {
		g.settle(a, a.settled)
	}
}

// settle ends what part i of a fresh plan held once its lot answered (or
// will not be asked); when nothing of the product is in flight any more,
// the requests parked for it are planned again.
func (g *grain) settle(a *allocation, i int) {
	if !a.fresh || i != a.settled {
		return
	}
	a.settled++
	product, p := a.req.GetProductId(), a.plan[i]
	g.inflight[p.LotID] -= p.Quantity
	if g.inflight[p.LotID] <= 0 {
		delete(g.inflight, p.LotID)
	}
	g.inflightProduct[product] -= p.Quantity
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
		g.next()
	}
}

func (g *grain) onPartAnswered(m *partAnswered) {
	if m.known {
		g.lotAnswered(m.a.req.GetProductId(), m.a.plan[m.part].LotID, m.onHand)
	}
	g.settle(m.a, m.part)
	if m.last {
		g.settleRest(m.a)
	}
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

// carryOut runs on its own goroutine and touches nothing of the grain: it
// deducts (or holds) every part of the plan, tells the grain what each lot
// said, then answers. If one lot refuses, the parts already taken are
// given back and the plan is forgotten: the line fails as a whole and the
// next request plans afresh.
func (g *grain) carryOut(a *allocation) {
	ctx, cancel := context.WithTimeout(context.Background(), g.deps.CallTimeout)
	defer cancel()
	asked := 0
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("allocate panic", "panic", fmt.Sprint(r))
			g.send(&partAnswered{a: a, part: asked, last: true})
			g.answer(a.to, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE})
		}
	}()
	var takes []*pb.LotTake
	var refused pb.Reason
	for i, part := range a.plan {
		asked = i
		resp, err := g.takePart(ctx, a.req, part)
		failed := err != nil || resp.GetReason() != pb.Reason_OK
		m := &partAnswered{a: a, part: i, last: failed}
		if err == nil {
			m.onHand, m.known = resp.GetOnHand(), true
		}
		g.send(m)
		if err != nil {
			g.log.Error("take from lot", "lot", part.LotID, "error", err.Error())
			refused = pb.Reason_UNAVAILABLE
			break
		}
		if r := resp.GetReason(); r == pb.Reason_STALE_OWNER {
			// The lot's write was fenced off by its other activation (the
			// lot client's retries ran out while members disagreed on its
			// owner): nothing was refused. Like an unanswered part, a
			// retry carries out the same plan.
			g.log.Warn("take from lot: its activation was superseded", "lot", part.LotID)
			refused = pb.Reason_UNAVAILABLE
			break
		}
		if resp.GetReason() != pb.Reason_OK {
			refused = resp.GetReason()
			break
		}
		takes = append(takes, &pb.LotTake{LotId: part.LotID, Quantity: resp.GetQuantity(), UnitPrice: resp.GetUnitPrice()})
	}
	switch refused {
	case pb.Reason_OK:
		g.answer(a.to, &pb.AllocateResponse{Reason: pb.Reason_OK, Takes: takes})
		return
	case pb.Reason_UNAVAILABLE:
		// The outcome of the last request is unknown: keep the plan so a
		// retry carries out the same one, and let the caller decide.
		g.answer(a.to, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE})
		return
	}
	for _, part := range a.plan {
		if _, err := g.lots.Restore(ctx, part.LotID, a.req.GetOrderKey()); err != nil {
			g.log.Error("restore after a refused allocation", "lot", part.LotID, "error", err.Error())
			g.answer(a.to, &pb.AllocateResponse{Reason: pb.Reason_UNAVAILABLE})
			return
		}
	}
	if err := g.deps.Store.DeletePlan(ctx, a.req.GetOrderKey(), a.req.GetProductId(), g.id); err != nil {
		g.log.Error("delete plan", "error", err.Error())
	}
	g.send(&planUndone{key: a.key()})
	if refused == pb.Reason_NOT_SELLABLE || refused == pb.Reason_LOT_EXPIRED || refused == pb.Reason_ALREADY_RESTORED ||
		refused == pb.Reason_HOLD_EXPIRED {
		refused = pb.Reason_INSUFFICIENT_STOCK
	}
	g.answer(a.to, &pb.AllocateResponse{Reason: refused})
}

// CommitAllocation turns the holds of a saved plan into deductions, part
// by part, and stops at the first refusal (the caller releases the line).
// The lots are asked on a goroutine; the grain takes the next request.
func (g *grain) CommitAllocation(req *pb.CommitAllocationRequest, respond func(*pb.CommitAllocationResponse), _ func(error), ctx cluster.GrainContext) error {
	if req.GetOrderKey() == "" || req.GetProductId() <= 0 {
		respond(&pb.CommitAllocationResponse{Reason: pb.Reason_INVALID_ARGUMENT})
		return nil
	}
	key := PlanKey{Key: req.GetOrderKey(), ProductID: req.GetProductId()}
	plan, known := g.plans[key]
	to := ctx.Sender()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				g.log.Error("commit panic", "panic", fmt.Sprint(r))
				g.answer(to, &pb.CommitAllocationResponse{Reason: pb.Reason_UNAVAILABLE})
			}
		}()
		cctx, cancel := context.WithTimeout(context.Background(), g.deps.CallTimeout)
		defer cancel()
		plan, err := g.savedPlan(cctx, key, plan, known)
		if err != nil {
			g.answer(to, &pb.CommitAllocationResponse{Reason: pb.Reason_UNAVAILABLE})
			return
		}
		g.answer(to, g.commitPlan(cctx, req.GetOrderKey(), plan))
	}()
	return nil
}

// commitPlan commits each part of plan on its lot.
func (g *grain) commitPlan(ctx context.Context, key string, plan []domain.Allocation) *pb.CommitAllocationResponse {
	if len(plan) == 0 {
		return &pb.CommitAllocationResponse{Reason: pb.Reason_NO_HOLD}
	}
	var takes []*pb.LotTake
	for _, part := range plan {
		r, err := g.lots.Commit(ctx, part.LotID, key)
		if err != nil {
			g.log.Error("commit lot", "lot", part.LotID, "error", err.Error())
			return &pb.CommitAllocationResponse{Reason: pb.Reason_UNAVAILABLE, Takes: takes}
		}
		if r.GetReason() != pb.Reason_OK {
			return &pb.CommitAllocationResponse{Reason: r.GetReason(), Takes: takes}
		}
		takes = append(takes, &pb.LotTake{LotId: part.LotID, Quantity: r.GetQuantity(), UnitPrice: r.GetUnitPrice()})
	}
	return &pb.CommitAllocationResponse{Reason: pb.Reason_OK, Takes: takes}
}

// savedPlan is the plan known in memory, or else the one saved in MySQL
// (nil when there is none). It runs off the grain's goroutine.
func (g *grain) savedPlan(ctx context.Context, key PlanKey, plan []domain.Allocation, known bool) ([]domain.Allocation, error) {
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
// (compensation). Without a plan there is nothing to give back. The plan
// is read from MySQL (the one that counts), on a goroutine.
func (g *grain) Release(req *pb.ReleaseRequest, respond func(*pb.ReleaseResponse), _ func(error), ctx cluster.GrainContext) error {
	if req.GetOrderKey() == "" || req.GetProductId() <= 0 {
		respond(&pb.ReleaseResponse{Reason: pb.Reason_INVALID_ARGUMENT})
		return nil
	}
	to := ctx.Sender()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				g.log.Error("release panic", "panic", fmt.Sprint(r))
				g.answer(to, &pb.ReleaseResponse{Reason: pb.Reason_UNAVAILABLE})
			}
		}()
		rctx, cancel := context.WithTimeout(context.Background(), g.deps.CallTimeout)
		defer cancel()
		g.answer(to, g.release(rctx, req))
	}()
	return nil
}

func (g *grain) release(ctx context.Context, req *pb.ReleaseRequest) *pb.ReleaseResponse {
	key := PlanKey{Key: req.GetOrderKey(), ProductID: req.GetProductId()}
	saved, err := g.deps.Store.Plans(ctx, g.id, []PlanKey{key})
	if err != nil {
		return &pb.ReleaseResponse{Reason: pb.Reason_UNAVAILABLE}
	}
	var restored int64
	for _, a := range saved[key] {
		r, err := g.lots.Restore(ctx, a.LotID, req.GetOrderKey())
		if err != nil || r.GetReason() != pb.Reason_OK {
			return &pb.ReleaseResponse{Reason: pb.Reason_UNAVAILABLE, Restored: restored}
		}
		restored += r.GetRestored()
		g.send(&unitsBack{product: req.GetProductId(), lot: a.LotID, units: r.GetRestored()})
	}
	return &pb.ReleaseResponse{Reason: pb.Reason_OK, Restored: restored}
}
