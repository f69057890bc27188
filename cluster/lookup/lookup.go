// Package lookup is the cluster's identity lookup: it decides which member
// hosts a grain and asks that member to activate it.
//
// It replaces protoactor-go's disthash lookup, which waits a fixed 5 s for
// an activation on a member that may be dead and keeps that member as the
// owner until the cluster provider drops it (a check interval or a lease
// TTL later). Here:
//   - owners are ranked by rendezvous hashing over the live members;
//   - an activation request waits ActivationTimeout, then the next member
//     in the ranking is asked;
//   - a member is suspect from the moment this node's connection to it
//     ends (the remote's endpoint-terminated event), not when the provider
//     notices: suspects are ranked last, the grain addresses cached for
//     them are dropped, and calls waiting on them fail at once so that
//     they are retried on the next owner (see Lookup.ContextProducer).
//
// A suspect is cleared when a connection to it succeeds again, when it
// joins anew, when the provider drops it, or after SuspectFor.
//
// This lookup only shortens the wait. Two activations of one grain can
// still exist for a moment (a false suspicion, members that see a change
// at different times); the grains' own fencing (a lot row's version) is
// what keeps a single writer.
package lookup

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
)

// placementName is the name of the actor on every member that activates
// the grains it is asked for.
const placementName = "shelflife-placement"

// Config tunes the lookup; zero values take the defaults.
type Config struct {
	// ActivationTimeout bounds one activation request to one member
	// (default 500ms). A live member answers at once (it spawns the grain
	// and replies with its address; loading happens in the grain), so
	// this is only ever reached by a member that is dead, partitioned or
	// paused.
	ActivationTimeout time.Duration
	// Tries is how many members, in ranking order, one lookup asks
	// (default 2).
	Tries int
	// SuspectFor is how long a member whose connection ended stays suspect
	// when nothing else clears it (default 10s: longer than any provider's
	// failure detection here, so that a dead member is dropped by the
	// provider before it would be tried again).
	SuspectFor time.Duration
	Logger     *slog.Logger
}

// Lookup implements cluster.IdentityLookup.
type Lookup struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	c         *cluster.Cluster
	self      string
	placement *actor.PID
	sub       *eventstream.Subscription

	mu      sync.Mutex
	members map[string]map[string]bool // address -> kinds it hosts
	suspect map[string]time.Time       // address -> suspect until
	lost    map[string]chan struct{}   // address -> closed when its connection ends
}

var _ cluster.IdentityLookup = (*Lookup)(nil)

// New makes a lookup; pass it to cluster.Configure and its
// ContextProducer to cluster.WithClusterContextProducer.
func New(cfg Config) *Lookup {
	if cfg.ActivationTimeout <= 0 {
		cfg.ActivationTimeout = 500 * time.Millisecond
	}
	if cfg.Tries <= 0 {
		cfg.Tries = 2
	}
	if cfg.SuspectFor <= 0 {
		cfg.SuspectFor = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Lookup{
		cfg:     cfg,
		log:     log.With("component", "lookup"),
		now:     time.Now,
		members: map[string]map[string]bool{},
		suspect: map[string]time.Time{},
		lost:    map[string]chan struct{}{},
	}
}

// Setup starts the placement actor (members only) and follows the
// membership and the remote's connections.
func (l *Lookup) Setup(c *cluster.Cluster, kinds []string, isClient bool) {
	l.c = c
	l.self = c.ActorSystem.Address()
	l.sub = c.ActorSystem.EventStream.SubscribeWithPredicate(l.onEvent, func(ev any) bool {
		switch ev.(type) {
		case *cluster.ClusterTopology, *remote.EndpointTerminatedEvent, *remote.EndpointConnectedEvent:
			return true
		}
		return false
	})
	if isClient {
		return
	}
	props := actor.PropsFromProducer(func() actor.Actor { return &placement{l: l, grains: map[string]*grain{}, byPID: map[string]string{}} })
	pid, err := c.ActorSystem.Root.SpawnNamed(props, placementName)
	if err != nil {
		l.log.Error("start placement actor", "error", err.Error())
		return
	}
	l.placement = pid
}

// Shutdown stops the placement actor, which first stops its grains.
func (l *Lookup) Shutdown() {
	if l.sub != nil {
		l.c.ActorSystem.EventStream.Unsubscribe(l.sub)
	}
	if l.placement != nil {
		if err := l.c.ActorSystem.Root.PoisonFuture(l.placement).Wait(); err != nil {
			l.log.Warn("stop placement actor", "error", err.Error())
		}
	}
}

// RemovePid forgets a grain address that did not answer.
func (l *Lookup) RemovePid(ci *cluster.ClusterIdentity, pid *actor.PID) {
	l.c.PidCache.RemoveByValue(ci.Identity, ci.Kind, pid)
}

var (
	// errRefused: the member answered but could not activate the grain.
	errRefused = errors.New("activation refused")
	// ErrMemberLost: the connection to the member hosting the grain ended
	// while a call waited for its answer.
	ErrMemberLost = errors.New("cluster member lost")
)

// Get returns the grain's address, activating it on its owner: the first
// member in the ranking that answers within ActivationTimeout, trying at
// most Tries members. nil when none does.
func (l *Lookup) Get(ci *cluster.ClusterIdentity) *actor.PID {
	key := ci.AsKey()
	for i, addr := range l.candidates(ci.Kind, key) {
		if i >= l.cfg.Tries {
			break
		}
		pid, err := l.activate(addr, ci)
		if err == nil {
			return pid
		}
		l.log.Warn("activation failed; asking the next member", "grain", key, "member", addr, "error", err.Error())
		if !errors.Is(err, errRefused) {
			l.markSuspect(addr, "no answer to an activation request")
		}
	}
	return nil
}

func (l *Lookup) activate(addr string, ci *cluster.ClusterIdentity) (*actor.PID, error) {
	req := &cluster.ActivationRequest{ClusterIdentity: ci}
	res, err := l.c.ActorSystem.Root.RequestFuture(actor.NewPID(addr, placementName), req, l.cfg.ActivationTimeout).Result()
	if err != nil {
		return nil, err
	}
	r, ok := res.(*cluster.ActivationResponse)
	if !ok || r.Failed || r.Pid == nil {
		return nil, fmt.Errorf("%w by %s", errRefused, addr)
	}
	return r.Pid, nil
}

// candidates ranks the members hosting kind for key: members in good
// standing first, suspects after them (a cluster whose every member is
// suspect still tries them).
func (l *Lookup) candidates(kind, key string) []string {
	l.mu.Lock()
	now := l.now()
	var good, suspects []string
	for addr, kinds := range l.members {
		if !kinds[kind] {
			continue
		}
		if l.isSuspectLocked(addr, now) {
			suspects = append(suspects, addr)
		} else {
			good = append(good, addr)
		}
	}
	l.mu.Unlock()
	return append(rank(key, good), rank(key, suspects)...)
}

// owner is the member that should host key now, "" if none.
func (l *Lookup) owner(kind, key string) string {
	if c := l.candidates(kind, key); len(c) > 0 {
		return c[0]
	}
	return ""
}

func (l *Lookup) isSuspectLocked(addr string, now time.Time) bool {
	until, ok := l.suspect[addr]
	if ok && now.After(until) {
		delete(l.suspect, addr)
		return false
	}
	return ok
}

// Suspect reports whether addr is suspect now.
func (l *Lookup) Suspect(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.isSuspectLocked(addr, l.now())
}

// markSuspect ranks addr last, drops the grain addresses cached for it
// and wakes the calls waiting on it.
func (l *Lookup) markSuspect(addr, why string) {
	if addr == l.self {
		return
	}
	l.mu.Lock()
	_, known := l.members[addr]
	was := l.isSuspectLocked(addr, l.now())
	l.suspect[addr] = l.now().Add(l.cfg.SuspectFor)
	if ch, ok := l.lost[addr]; ok {
		close(ch)
		delete(l.lost, addr)
	}
	l.mu.Unlock()
	l.dropCached(addr)
	if !was && known {
		l.log.Info("member suspect", "member", addr, "why", why)
	}
}

func (l *Lookup) clearSuspect(addr, why string) bool {
	l.mu.Lock()
	_, was := l.suspect[addr]
	delete(l.suspect, addr)
	l.mu.Unlock()
	if was {
		l.log.Info("member no longer suspect", "member", addr, "why", why)
	}
	return was
}

// lostSignal is closed when the connection to addr ends.
func (l *Lookup) lostSignal(addr string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.lost[addr]
	if !ok {
		ch = make(chan struct{})
		l.lost[addr] = ch
	}
	return ch
}

func (l *Lookup) dropCached(addr string) {
	if l.c == nil {
		return
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return
	}
	l.c.PidCache.RemoveByMember(&cluster.Member{Host: host, Port: int32(port)})
}

// onEvent runs on the publisher's goroutine: it only updates state and
// sends to the placement actor.
func (l *Lookup) onEvent(ev any) {
	switch e := ev.(type) {
	case *remote.EndpointTerminatedEvent:
		l.markSuspect(e.Address, "connection ended")
	case *remote.EndpointConnectedEvent:
		if l.clearSuspect(e.Address, "connected again") {
			l.rebalance()
		}
	case *cluster.ClusterTopology:
		l.setMembers(e)
		l.rebalance()
	}
}

func (l *Lookup) setMembers(t *cluster.ClusterTopology) {
	members := make(map[string]map[string]bool, len(t.Members))
	for _, m := range t.Members {
		kinds := make(map[string]bool, len(m.Kinds))
		for _, k := range m.Kinds {
			kinds[k] = true
		}
		members[m.Address()] = kinds
	}
	l.mu.Lock()
	l.members = members
	for addr := range l.suspect {
		if _, ok := members[addr]; !ok {
			delete(l.suspect, addr)
		}
	}
	for _, m := range t.Joined {
		delete(l.suspect, m.Address())
	}
	l.mu.Unlock()
}

func (l *Lookup) rebalance() {
	if l.placement != nil {
		l.c.ActorSystem.Root.Send(l.placement, rebalance{})
	}
}
