package lookup

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
)

// rebalance asks the placement actor to stop the grains this member no
// longer owns (a member joined, or one is no longer suspect).
type rebalance struct{}

type grain struct {
	id      *cluster.ClusterIdentity
	pid     *actor.PID
	leaving bool
}

// placement activates grains on this member when asked and stops them
// when their owner becomes another member. The grains are its children,
// so it hears when each one ends.
type placement struct {
	l      *Lookup
	grains map[string]*grain // by ClusterIdentity.AsKey
	byPID  map[string]string // grain PID's id -> its key
}

func (p *placement) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started, *actor.Stopped, *actor.Restarting:
	case *actor.Stopping:
		p.stopAll(ctx)
	case *cluster.ActivationRequest:
		ctx.Respond(p.activate(ctx, msg.ClusterIdentity))
	case *actor.Terminated:
		p.ended(msg.Who)
	case rebalance:
		p.rebalance(ctx)
	}
}

func (p *placement) activate(ctx actor.Context, ci *cluster.ClusterIdentity) *cluster.ActivationResponse {
	if ci == nil {
		return &cluster.ActivationResponse{Failed: true}
	}
	key := ci.AsKey()
	if g, ok := p.grains[key]; ok {
		return &cluster.ActivationResponse{Pid: g.pid}
	}
	kind, ok := p.l.c.TryGetClusterKind(ci.Kind)
	if !ok {
		ctx.Logger().Warn("activation of an unknown kind", "kind", ci.Kind)
		return &cluster.ActivationResponse{Failed: true}
	}
	// SpawnNamed rather than SpawnPrefix, which panics on an error.
	name := ci.Identity + ctx.ActorSystem().ProcessRegistry.NextId()
	pid, err := ctx.SpawnNamed(cluster.WithClusterIdentity(kind.Props, ci), name)
	if err != nil {
		ctx.Logger().Warn("spawn grain", "grain", key, "error", err.Error())
		return &cluster.ActivationResponse{Failed: true}
	}
	kind.Inc()
	p.grains[key] = &grain{id: ci, pid: pid}
	p.byPID[pid.Id] = key
	return &cluster.ActivationResponse{Pid: pid}
}

func (p *placement) ended(pid *actor.PID) {
	key, ok := p.byPID[pid.Id]
	if !ok {
		return
	}
	delete(p.byPID, pid.Id)
	g := p.grains[key]
	delete(p.grains, key)
	if kind, ok := p.l.c.TryGetClusterKind(g.id.Kind); ok {
		kind.Dec()
	}
}

// rebalance stops (gracefully: a grain persists as it stops) every grain
// whose owner is now another member. Requests already routed here meet a
// stopping grain and are retried by their callers on the new owner.
func (p *placement) rebalance(ctx actor.Context) {
	for key, g := range p.grains {
		if g.leaving {
			continue
		}
		if owner := p.l.owner(g.id.Kind, key); owner != "" && owner != p.l.self {
			g.leaving = true
			ctx.Poison(g.pid)
		}
	}
}

// stopAll stops every grain and waits for each, so that a member leaving
// gracefully has persisted its grains before it goes.
func (p *placement) stopAll(ctx actor.Context) {
	futures := make([]*actor.Future, 0, len(p.grains))
	for _, g := range p.grains {
		futures = append(futures, ctx.PoisonFuture(g.pid))
	}
	for _, f := range futures {
		if err := f.Wait(); err != nil {
			ctx.Logger().Warn("grain did not stop", "error", err.Error())
		}
	}
}
