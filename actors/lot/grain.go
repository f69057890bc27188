package lot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"shelflife/actors/dispatch"
	"shelflife/actors/grainctx"
	pb "shelflife/actors/inventorypb"
	"shelflife/clock"
	"shelflife/domain"
)

// Deps are what every lot grain of a node shares.
type Deps struct {
	Store  Store
	Clock  clock.Clock
	Ladder domain.Ladder
	// Markdown chooses the ladder (the zero value) or adaptive markdown;
	// Rates, when set, gives an adaptive lot that has sold nothing yet the
	// product's rate to price by.
	Markdown Markdown
	Rates    ProductRates
	// Siblings, when set, lets an adaptive lot price itself jointly with
	// the other closing-soon lots of its product in its warehouse.
	Siblings  Siblings
	Publisher Publisher
	Logger    *slog.Logger
	// IdleTimeout passivates a grain that received nothing for this long.
	IdleTimeout time.Duration
	// WriteTimeout bounds one group commit, and one read of the ledger.
	WriteTimeout time.Duration
	// LedgerWindow is how much of a lot's ledger an activation loads: the
	// rows changed within it, and every live hold. A repeat of an older
	// request reads its key's row from MySQL when it comes.
	LedgerWindow time.Duration
	// Active, when set, is told which lots have an activation here.
	Active *Active
}

// Kind is the cluster kind of lot grains.
func Kind(d Deps) *cluster.Kind {
	if err := d.Ladder.Validate(); err != nil {
		// The configuration decodes and checks the ladder at start; a
		// kind without one is a wiring mistake, not a default.
		panic(fmt.Sprintf("lot.Kind: %v", err))
	}
	grainctx.Common(&d.Clock, &d.Logger, &d.IdleTimeout, 10*time.Minute)
	grainctx.Positive(&d.WriteTimeout, 10*time.Second)
	grainctx.Positive(&d.LedgerWindow, DefaultLedgerWindow)
	deps := d
	// The priority mailbox lets a finished commit overtake the requests
	// queued behind it: the next batch starts, and the callers waiting for
	// it are answered, as soon as the write ends. Its queues are the
	// linked (mpsc) ones: a node holds a hundred thousand idle lots, and
	// the ring-buffer queues cost 2 KB a mailbox before any message.
	// The mailbox runs on goroutines kept between runs (package dispatch).
	return pb.NewLotKind(func() pb.Lot { return &grain{deps: &deps} }, deps.IdleTimeout,
		actor.WithMailbox(actor.UnboundedPriorityMpsc()), dispatch.Option())
}

// DefaultLedgerWindow is the ledger an activation loads when Deps do not
// say: an hour covers an order's payment and its retries.
const DefaultLedgerWindow = time.Hour

// tick is the message the grain's timer sends it.
type tick struct{}

// committed is a group commit's result, sent back to the grain by the
// goroutine that wrote it; it goes ahead of the requests in the mailbox.
type committed struct{ r commitResult }

// GetPriority puts a commit's result first (actor.PriorityMessage).
func (*committed) GetPriority() int8 { return 7 }

// grain is a lot's activation: an actor. Everything it holds is touched
// only by its handlers, one message at a time; the write of a group commit
// runs on its own goroutine, which touches nothing here and sends the
// result back as a message.
type grain struct {
	deps   *Deps
	log    *slog.Logger
	self   *actor.PID
	system *actor.ActorSystem
	core   *core
	// loadErr answers every request when the lot could not be loaded.
	loadErr pb.Reason
	timer   clock.Timer
	timerAt time.Time // when timer fires; zero without one
	stopped bool
	// parked holds the requests waiting for MySQL's answer about their
	// key, in arrival order, per key.
	parked map[string][]parked
	// listed is the lot id entered in deps.Active, 0 if none.
	listed int64
}

// parked is a request whose key is being looked up.
type parked struct {
	to   any
	kind proto.Message
	fn   func(time.Time, any) proto.Message
}

// looked is MySQL's answer about a key, sent back to the grain by the
// goroutine that asked; it goes ahead of the requests in the mailbox.
type looked struct {
	key   string
	entry LedgerEntry
	found bool
	err   error
}

// GetPriority puts a lookup's answer first (actor.PriorityMessage).
func (*looked) GetPriority() int8 { return 7 }

var _ pb.Lot = (*grain)(nil)

// Init loads the lot from MySQL and claims it.
func (g *grain) Init(ctx cluster.GrainContext) {
	g.self, g.system = ctx.Self(), ctx.ActorSystem()
	g.log = g.deps.Logger.With("lot", ctx.Identity())
	g.safely(func() {
		id, err := strconv.ParseInt(ctx.Identity(), 10, 64)
		if err != nil || id <= 0 {
			g.loadErr = pb.Reason_LOT_NOT_FOUND
			g.stop()
			return
		}
		lctx, cancel := context.WithTimeout(context.Background(), g.deps.WriteTimeout)
		defer cancel()
		claimed := g.deps.Clock.Now()
		st, ledger, err := g.deps.Store.ClaimLot(lctx, id, g.deps.LedgerWindow)
		if err == nil && !st.LedgerFrom.IsZero() {
			// Order ids are dated by this clock, the rows by MySQL's:
			// the core compares keys with the window on this one.
			st.LedgerFrom = claimed.Add(-g.deps.LedgerWindow)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			g.loadErr = pb.Reason_LOT_NOT_FOUND
			g.stop()
		case err != nil:
			g.log.Error("load lot", "error", err.Error())
			g.loadErr = pb.Reason_UNAVAILABLE
			g.stop()
		default:
			g.core = newCore(st, ledger, g.deps.Ladder)
			g.core.setMarkdown(g.deps.Markdown)
			g.listed = id
			g.deps.Active.add(id)
			g.onTick()
		}
	})
}

// Terminate cancels the timer; everything acknowledged is already in MySQL.
// The cluster stops a grain on its own (a rebalance, the node leaving)
// without waiting for its commit in flight: the requests still waiting,
// for that commit or for a key's lookup, are answered STALE_OWNER now, so
// their callers ask the next activation at once rather than after their
// attempt's timeout. A commit that lands after all answers the repeat
// there, from the ledger, as any repeat.
func (g *grain) Terminate(cluster.GrainContext) {
	if g.timer != nil {
		g.timer.Stop()
	}
	if g.listed != 0 {
		g.deps.Active.remove(g.listed)
		g.listed = 0
	}
	var waiting []waiter
	g.safely(func() {
		waiting = g.refuseParked()
		if g.core != nil {
			waiting = append(waiting, g.core.failAll(pb.Reason_STALE_OWNER)...)
		}
	})
	g.stopped = true
	g.reply(waiting)
}

// ReceiveDefault handles the grain's own messages: its timer's ticks and
// its commits' results.
func (g *grain) ReceiveDefault(ctx cluster.GrainContext) {
	switch m := ctx.Message().(type) {
	case *tick:
		g.safely(func() {
			if g.core != nil && !g.stopped {
				g.onTick()
			}
		})
	case *committed:
		var due []waiter
		g.safely(func() { due = g.committed(m.r) })
		// A batch answers a hundred callers or more: that is sending, not
		// the lot's state, so it leaves the grain free for the next
		// requests. The answers were made when the requests were handled.
		go g.reply(due)
	case *looked:
		var due []waiter
		g.safely(func() { due = g.looked(m) })
		g.reply(due)
	}
}

func (g *grain) Deduct(req *pb.DeductRequest, respond func(*pb.DeductResponse), _ func(error), ctx cluster.GrainContext) error {
	handle(g, ctx, respond, g.deductRequest(req))
	return nil
}

func (g *grain) Restore(req *pb.RestoreRequest, respond func(*pb.RestoreResponse), _ func(error), ctx cluster.GrainContext) error {
	handle(g, ctx, respond, g.restoreRequest(req))
	return nil
}

func (g *grain) Reserve(req *pb.ReserveRequest, respond func(*pb.ReserveResponse), _ func(error), ctx cluster.GrainContext) error {
	handle(g, ctx, respond, g.reserveRequest(req))
	return nil
}

func (g *grain) Commit(req *pb.CommitRequest, respond func(*pb.CommitResponse), _ func(error), ctx cluster.GrainContext) error {
	handle(g, ctx, respond, g.commitRequest(req))
	return nil
}

func (g *grain) Release(req *pb.LotReleaseRequest, respond func(*pb.LotReleaseResponse), _ func(error), ctx cluster.GrainContext) error {
	handle(g, ctx, respond, g.releaseRequest(req))
	return nil
}

// request is one request for the core: an empty answer of its type (for
// refusals), its idempotency key, and the core's handling of it (nil for
// an empty request of a batch).
type request struct {
	kind proto.Message
	key  string
	fn   func(time.Time, any) proto.Message
}

func (g *grain) deductRequest(r *pb.DeductRequest) request {
	return request{&pb.DeductResponse{}, r.GetOrderKey(), func(now time.Time, to any) proto.Message { return g.core.deduct(now, r, to) }}
}

func (g *grain) restoreRequest(r *pb.RestoreRequest) request {
	return request{&pb.RestoreResponse{}, r.GetOrderKey(), func(now time.Time, to any) proto.Message { return g.core.restore(now, r, to) }}
}

func (g *grain) reserveRequest(r *pb.ReserveRequest) request {
	return request{&pb.ReserveResponse{}, r.GetOrderKey(), func(now time.Time, to any) proto.Message { return g.core.reserve(now, r, to) }}
}

func (g *grain) commitRequest(r *pb.CommitRequest) request {
	return request{&pb.CommitResponse{}, r.GetOrderKey(), func(now time.Time, to any) proto.Message { return g.core.commit(now, r, to) }}
}

func (g *grain) releaseRequest(r *pb.LotReleaseRequest) request {
	return request{&pb.LotReleaseResponse{}, r.GetOrderKey(), func(now time.Time, to any) proto.Message { return g.core.release(now, r, to) }}
}

// handle runs one request through the core: it answers at once when the
// core does (or the grain cannot serve), else the answer waits for its
// commit, or first for MySQL's answer about an older key.
func handle[T proto.Message](g *grain, ctx cluster.GrainContext, respond func(T), r request) {
	var answer proto.Message
	g.safely(func() {
		answer, _ = g.apply(ctx.Sender(), r)
		if g.core != nil && !g.stopped {
			g.flush()
			g.rearm()
		}
	})
	if answer != nil {
		respond(answer.(T))
	}
}

// apply hands one request to the core, answering to: it returns the answer
// when there is one now, else nil (its commit, or MySQL's answer about an
// older key, will bring it); lookup says it waits for MySQL's answer. It
// starts no commit: the caller flushes once it has applied what came
// together.
func (g *grain) apply(to any, r request) (answer proto.Message, lookup bool) {
	if g.core == nil || g.stopped {
		return failure(r.kind, g.unavailable(), g.id()), false
	}
	if g.core.needsLookup(r.key) {
		g.park(r.key, parked{to: to, kind: r.kind, fn: r.fn})
		return nil, true
	}
	return r.fn(g.deps.Clock.Now(), to), false
}

// park queues a request until MySQL says what its key did; the first
// request for a key starts the read, on its own goroutine, which sends the
// answer back to the grain (looked). Requests for other keys go on.
func (g *grain) park(key string, p parked) {
	if g.parked == nil {
		g.parked = map[string][]parked{}
	}
	g.parked[key] = append(g.parked[key], p)
	if len(g.parked[key]) > 1 {
		return
	}
	store, timeout, self, root, id := g.deps.Store, g.deps.WriteTimeout, g.self, g.system.Root, g.core.st.ID
	go func() {
		lctx, cancel := context.WithTimeout(context.Background(), timeout)
		e, found, err := store.LedgerEntry(lctx, id, key)
		cancel()
		root.Send(self, &looked{key: key, entry: e, found: found, err: err})
	}()
}

// looked hands MySQL's answer about a key to the core and runs the
// requests that waited for it, in their order; it returns the answers due
// now. When MySQL could not answer, they are refused as unavailable (the
// caller retries).
func (g *grain) looked(m *looked) []waiter {
	waiting := g.parked[m.key]
	delete(g.parked, m.key)
	if g.core == nil || g.stopped {
		return nil // stop answered them
	}
	var due []waiter
	if m.err != nil {
		g.log.Error("read ledger key", "error", m.err.Error())
		for _, p := range waiting {
			due = append(due, waiter{to: p.to, msg: failure(p.kind, pb.Reason_UNAVAILABLE, g.id())})
		}
		return due
	}
	g.core.learn(m.key, m.entry, m.found)
	now := g.deps.Clock.Now()
	for _, p := range waiting {
		if a := p.fn(now, p.to); a != nil {
			due = append(due, waiter{to: p.to, msg: a})
		}
	}
	g.flush()
	g.rearm()
	return due
}

// Get answers the lot as last committed; it also wakes a passivated lot so
// its transitions run.
func (g *grain) Get(_ *pb.GetLotRequest, respond func(*pb.LotInfo), _ func(error), ctx cluster.GrainContext) error {
	if g.core == nil {
		respond(&pb.LotInfo{Reason: g.unavailable(), LotId: g.id()})
	} else {
		info := g.core.info(g.core.durable, pb.Reason_OK)
		info.DiscountPercent = int32(g.core.dealPercent(g.deps.Clock.Now()))
		respond(info)
	}
	return nil
}

func (g *grain) unavailable() pb.Reason {
	if g.loadErr != pb.Reason_OK {
		return g.loadErr
	}
	return pb.Reason_STALE_OWNER
}

func (g *grain) id() int64 {
	if g.core == nil {
		return 0
	}
	return g.core.st.ID
}

// safely runs fn; a panic in it is logged, every waiting caller is
// answered, and the grain stops (the next activation reloads from MySQL)
// rather than being restarted with memory that may not match MySQL.
func (g *grain) safely(fn func()) {
	var failed []waiter
	func() {
		defer func() {
			if r := recover(); r != nil {
				g.log.Error("lot grain panic", "panic", fmt.Sprint(r))
				if g.core != nil {
					failed = g.core.failAll(pb.Reason_UNAVAILABLE)
				}
				g.stop()
			}
		}()
		fn()
	}()
	g.reply(failed)
}

// onTick applies due transitions and hold deadlines and, for an adaptive
// lot, a due markdown evaluation; writes them, and arms the next timer.
func (g *grain) onTick() {
	now := g.deps.Clock.Now()
	g.core.advance(now)
	if g.core.evaluationDue(now) {
		g.readSiblings(now)
		if g.core.evaluate(now) && g.deps.Rates != nil {
			g.fetchProductRate(now)
		}
		g.core.siblings = nil
	}
	g.flush()
	if g.timer != nil {
		g.timer.Stop()
		g.timer, g.timerAt = nil, time.Time{}
	}
	g.rearm()
}

// rearm arms the timer for the core's next transition when none is armed
// for it or earlier (a new hold may end before what the timer waits for).
func (g *grain) rearm() {
	at, ok := g.core.nextTransition()
	if !ok || (g.timer != nil && !g.timerAt.After(at)) {
		return
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	self, system := g.self, g.system
	g.timerAt = at
	g.timer = g.deps.Clock.AfterFunc(at.Sub(g.deps.Clock.Now()), func() {
		system.Root.Send(self, &tick{})
	})
}

// readSiblings reads the lot's siblings for the evaluation at now, when
// Deps say where from. It waits for MySQL in the grain, as fetchProductRate
// does: once per evaluation, on the timer. A failed read leaves the lot to
// price itself alone this time.
func (g *grain) readSiblings(now time.Time) {
	if g.deps.Siblings == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.deps.WriteTimeout)
	sibs, err := g.deps.Siblings.LotSiblings(ctx, g.core.st.ProductID, g.core.st.WarehouseID, now, g.core.md.RateHalfLife)
	cancel()
	if err != nil {
		g.log.Warn("lot siblings", "error", err.Error())
		return
	}
	if sibs == nil {
		sibs = []Sibling{}
	}
	g.core.siblings = sibs
}

// fetchProductRate reads the product's rate for a lot that has sold
// nothing itself and evaluates again with it. It waits for MySQL in the
// grain, as loading the lot does: it happens at most once an hour per
// closing-soon lot without sales, and it keeps the evaluation a single step
// that ends before the next message.
func (g *grain) fetchProductRate(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), g.deps.WriteTimeout)
	v, err := g.deps.Rates.ProductSellRate(ctx, g.core.st.ProductID, now, g.core.md.RateHalfLife)
	cancel()
	if err != nil {
		g.log.Warn("product sell rate", "error", err.Error())
		return
	}
	g.core.productRate(now, v)
	g.core.evaluate(now)
}

// flush starts a group commit when there is something to write and none
// in flight. The write runs on its own goroutine, which sends the result
// back to the grain; requests arriving meanwhile join the next batch.
func (g *grain) flush() {
	cm, ok := g.core.take()
	if !ok {
		return
	}
	store, timeout, self, root := g.deps.Store, g.deps.WriteTimeout, g.self, g.system.Root
	go func() {
		wctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := store.CommitLot(wctx, cm)
		cancel()
		root.Send(self, &committed{r: commitResult{commit: cm, err: err}})
	}()
}

// committed applies a commit's result and returns the answers now due.
func (g *grain) committed(r commitResult) []waiter {
	if g.stopped {
		return nil
	}
	reason := pb.Reason_UNAVAILABLE
	if errors.Is(r.err, ErrStaleOwner) {
		reason = pb.Reason_STALE_OWNER
	}
	due, failed := g.core.completed(r, reason)
	if failed {
		if reason == pb.Reason_STALE_OWNER {
			g.log.Warn("another activation owns the lot; stopping", "epoch", r.commit.Epoch)
		} else {
			g.log.Error("commit lot", "error", r.err.Error())
		}
		g.stop()
		return due
	}
	if g.deps.Publisher != nil {
		g.deps.Publisher.LotChanged(g.core.event(r.commit, g.deps.Clock.Now()))
	}
	if g.core.expired && !g.core.busy() {
		g.log.Info("lot expired and written off", "written_off", g.core.durable.WrittenOff)
		g.stop()
		return due
	}
	g.flush()
	return due
}

// reply sends answers to their callers; it reads nothing of the grain
// but the actor system, so any goroutine may send.
func (g *grain) reply(ws []waiter) {
	for _, w := range ws {
		switch to := w.to.(type) {
		case *actor.PID:
			if to != nil {
				g.system.Root.Send(to, w.msg)
			}
		case *batchSlot:
			to.answer(g.system, w.msg)
		}
	}
}

// stop passivates the grain; requests that arrive later reach a new
// activation, which loads what MySQL holds. Requests already queued are
// answered STALE_OWNER, and their callers retry.
func (g *grain) stop() {
	if g.stopped {
		return
	}
	g.stopped = true
	if g.timer != nil {
		g.timer.Stop()
	}
	// Requests waiting for a key's lookup are refused like those queued:
	// their callers retry on the next activation.
	g.reply(g.refuseParked())
	g.system.Root.Poison(g.self)
}

// refuseParked empties the requests waiting for a key's lookup and returns
// their refusals (STALE_OWNER: ask the next activation).
func (g *grain) refuseParked() []waiter {
	var refused []waiter
	for _, ps := range g.parked {
		for _, p := range ps {
			refused = append(refused, waiter{to: p.to, msg: failure(p.kind, pb.Reason_STALE_OWNER, g.id())})
		}
	}
	g.parked = nil
	return refused
}
