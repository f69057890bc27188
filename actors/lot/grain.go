package lot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	pb "shelflife/actors/inventorypb"
	"shelflife/clock"
	"shelflife/domain"
)

// Deps are what every lot grain of a node shares.
type Deps struct {
	Store     Store
	Clock     clock.Clock
	Ladder    domain.Ladder
	Publisher Publisher
	Logger    *slog.Logger
	// IdleTimeout passivates a grain that received nothing for this long.
	IdleTimeout time.Duration
	// WriteTimeout bounds one group commit.
	WriteTimeout time.Duration
}

// Kind is the cluster kind of lot grains.
func Kind(d Deps) *cluster.Kind {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if len(d.Ladder) == 0 {
		d.Ladder = domain.DefaultLadder()
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.IdleTimeout <= 0 {
		d.IdleTimeout = 10 * time.Minute
	}
	if d.WriteTimeout <= 0 {
		d.WriteTimeout = 10 * time.Second
	}
	deps := d
	return pb.NewLotKind(func() pb.Lot { return &grain{deps: &deps} }, deps.IdleTimeout)
}

// Messages the grain sends itself.
type (
	tick       struct{}
	commitDone commitResult
)

type grain struct {
	deps *Deps
	core *core
	log  *slog.Logger
	// loadErr answers every request when the lot could not be loaded.
	loadErr pb.Reason
	timer   clock.Timer
	self    *actor.PID
	system  *actor.ActorSystem
	stopped bool
	// lastUpdate is closed (after its error, if any, is sent) when the most
	// recent commit has updated the lot row or failed.
	lastUpdate chan error
}

var _ pb.Lot = (*grain)(nil)

// Init loads the lot from MySQL and claims it.
func (g *grain) Init(ctx cluster.GrainContext) {
	g.self, g.system = ctx.Self(), ctx.ActorSystem()
	g.log = g.deps.Logger.With("lot", ctx.Identity())
	id, err := strconv.ParseInt(ctx.Identity(), 10, 64)
	if err != nil || id <= 0 {
		g.loadErr = pb.Reason_LOT_NOT_FOUND
		g.stop(ctx)
		return
	}
	lctx, cancel := context.WithTimeout(context.Background(), g.deps.WriteTimeout)
	defer cancel()
	st, ledger, err := g.deps.Store.ClaimLot(lctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		g.loadErr = pb.Reason_LOT_NOT_FOUND
		g.stop(ctx)
		return
	case err != nil:
		g.log.Error("load lot", "error", err.Error())
		g.loadErr = pb.Reason_UNAVAILABLE
		g.stop(ctx)
		return
	}
	g.core = newCore(st, ledger, g.deps.Ladder)
	g.onTick(ctx)
}

// Terminate cancels the timer; everything acknowledged is already in MySQL.
func (g *grain) Terminate(cluster.GrainContext) {
	if g.timer != nil {
		g.timer.Stop()
	}
}

// ReceiveDefault handles the grain's own messages.
func (g *grain) ReceiveDefault(ctx cluster.GrainContext) {
	defer g.recover(ctx)
	switch msg := ctx.Message().(type) {
	case *tick:
		if g.core != nil {
			g.onTick(ctx)
		}
	case *commitDone:
		g.onCommitDone(ctx, msg)
	}
}

func (g *grain) Deduct(req *pb.DeductRequest, respond func(*pb.DeductResponse), _ func(error), ctx cluster.GrainContext) error {
	defer g.recover(ctx)
	if g.core == nil || g.stopped {
		respond(&pb.DeductResponse{Reason: g.unavailable(), LotId: g.id()})
		return nil
	}
	if answer := g.core.deduct(g.deps.Clock.Now(), req, ctx.Sender()); answer != nil {
		respond(answer.(*pb.DeductResponse))
	}
	g.flush(ctx)
	return nil
}

func (g *grain) Restore(req *pb.RestoreRequest, respond func(*pb.RestoreResponse), _ func(error), ctx cluster.GrainContext) error {
	defer g.recover(ctx)
	if g.core == nil || g.stopped {
		respond(&pb.RestoreResponse{Reason: g.unavailable()})
		return nil
	}
	if answer := g.core.restore(g.deps.Clock.Now(), req, ctx.Sender()); answer != nil {
		respond(answer.(*pb.RestoreResponse))
	}
	g.flush(ctx)
	return nil
}

// Get answers the lot as last committed; it also wakes a passivated lot so
// its transitions run.
func (g *grain) Get(_ *pb.GetLotRequest, respond func(*pb.LotInfo), _ func(error), ctx cluster.GrainContext) error {
	defer g.recover(ctx)
	if g.core == nil {
		respond(&pb.LotInfo{Reason: g.unavailable(), LotId: g.id()})
		return nil
	}
	respond(g.core.info(g.core.durable, pb.Reason_OK))
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

// onTick applies due transitions, writes them, and arms the next timer.
func (g *grain) onTick(ctx cluster.GrainContext) {
	g.core.advance(g.deps.Clock.Now())
	g.flush(ctx)
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	at, ok := g.core.nextTransition()
	if !ok {
		return
	}
	self, system := g.self, g.system
	g.timer = g.deps.Clock.AfterFunc(at.Sub(g.deps.Clock.Now()), func() {
		system.Root.Send(self, &tick{})
	})
}

// flush starts group commits while there is something to write and room
// in flight. The writes run outside the actor; their results come back as
// messages, and requests arriving meanwhile join the next batch.
func (g *grain) flush(ctx cluster.GrainContext) {
	for {
		cm, ok := g.core.take()
		if !ok {
			return
		}
		prev, mine := g.lastUpdate, make(chan error, 1)
		g.lastUpdate = mine
		cm.BeforeUpdate = func() error {
			if prev == nil {
				return nil
			}
			if err, ok := <-prev; ok && err != nil {
				return fmt.Errorf("previous commit failed: %w", err)
			}
			return nil
		}
		var once sync.Once
		cm.AfterUpdate = func(err error) {
			once.Do(func() {
				if err != nil {
					mine <- err
				}
				close(mine)
			})
		}
		self, system, store, timeout := g.self, g.system, g.deps.Store, g.deps.WriteTimeout
		go func() {
			wctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			err := store.CommitLot(wctx, cm)
			cm.AfterUpdate(err) // in case the store failed before the update
			system.Root.Send(self, &commitDone{commit: cm, err: err})
		}()
	}
}

func (g *grain) onCommitDone(ctx cluster.GrainContext, msg *commitDone) {
	if g.stopped {
		return
	}
	reason := pb.Reason_UNAVAILABLE
	if errors.Is(msg.err, ErrStaleOwner) {
		reason = pb.Reason_STALE_OWNER
	}
	due, durable, failed := g.core.completed(commitResult(*msg), reason)
	g.reply(ctx, due)
	if failed {
		if reason == pb.Reason_STALE_OWNER {
			g.log.Warn("another activation owns the lot; stopping", "epoch", msg.commit.Epoch)
		} else {
			g.log.Error("commit lot", "error", msg.err.Error())
		}
		g.stop(ctx)
		return
	}
	for _, cm := range durable {
		if g.deps.Publisher != nil {
			g.deps.Publisher.LotChanged(g.core.event(cm, g.deps.Clock.Now()))
		}
	}
	if g.core.expired && !g.core.busy() {
		g.log.Info("lot expired and written off", "written_off", g.core.durable.WrittenOff)
		g.stop(ctx)
		return
	}
	g.flush(ctx)
}

func (g *grain) reply(ctx cluster.GrainContext, ws []waiter) {
	for _, w := range ws {
		if pid, ok := w.to.(*actor.PID); ok && pid != nil {
			ctx.Send(pid, w.msg)
		}
	}
}

// stop passivates the grain; requests that arrive later reach a new
// activation, which loads what MySQL holds.
func (g *grain) stop(ctx cluster.GrainContext) {
	if g.stopped {
		return
	}
	g.stopped = true
	if g.timer != nil {
		g.timer.Stop()
	}
	ctx.Poison(ctx.Self())
}

// recover keeps a bug from silently resetting the grain: it is logged, the
// grain stops, and the next activation reloads from MySQL.
func (g *grain) recover(ctx cluster.GrainContext) {
	if r := recover(); r != nil {
		g.deps.Logger.Error("lot grain panic", "identity", ctx.Identity(), "panic", fmt.Sprint(r))
		if g.core != nil {
			g.reply(ctx, g.core.failAll(pb.Reason_UNAVAILABLE))
		}
		g.stop(ctx)
	}
}
