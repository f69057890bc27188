// Package gather gathers concurrent calls to one key (a lot) into batches:
// the first call finds its key's lane idle and runs alone; calls made
// while it (or a batch) is on its way queue, and when it is answered they
// go together in one batch. A single caller waits no longer than without
// gathering, and a crowd on one key costs one message per round trip. It
// knows nothing of actors: the lot client gives it the batch's sending.
// A batch may answer its calls as their results come, and free its lane
// for the next batch before its last answer (the lot client does, once the
// lot has answered what it could at once).
package gather

import (
	"context"
	"sync"
	"sync/atomic"
)

// Outcome says how a call was made.
type Outcome int

const (
	// Alone: the lane was idle and the call ran alone.
	Alone Outcome = iota
	// Answered: the call went in a batch, which answered it.
	Answered
	// Unanswered: the call went in no batch that answered it (the batch
	// failed, or the caller's context ended first); the caller goes alone.
	Unanswered
)

// Send sends one batch of ops for key. It hands op i's result to
// answer(i, res) when it has it, at most once per op and only before it
// returns, from its own goroutine; and it calls free once key's lane may
// send its next batch (if it does not, its return frees the lane). An op
// it did not answer when it returns goes Unanswered.
type Send[K comparable, Op, Res any] func(key K, ops []Op, answer func(i int, res Res), free func())

// Gatherer keeps a lane per key.
type Gatherer[K comparable, Op, Res any] struct {
	send    Send[K, Op, Res]
	max     int
	lanes   sync.Map // K -> *lane
	batches atomic.Int64
	calls   atomic.Int64
}

// New gathers calls into batches of at most max ops, sent by send.
func New[K comparable, Op, Res any](max int, send Send[K, Op, Res]) *Gatherer[K, Op, Res] {
	return &Gatherer[K, Op, Res]{send: send, max: max}
}

type lane[Op, Res any] struct {
	mu      sync.Mutex
	sending bool
	queue   []*pending[Op, Res]
}

type pending[Op, Res any] struct {
	ctx  context.Context
	op   Op
	done chan result[Res]
}

type result[Res any] struct {
	res Res
	ok  bool
}

// Do makes one call for key: alone(free) when nothing is on its way for
// key, else op in the next batch. What queued meanwhile is sent once alone
// calls free or returns. A result comes only with Answered.
func (g *Gatherer[K, Op, Res]) Do(ctx context.Context, key K, op Op, alone func(free func())) (Res, Outcome) {
	var zero Res
	l, p := g.join(ctx, key, op)
	if p == nil {
		free := g.freer(key, l)
		// Deferred: a panic in alone must not leave the lane taken.
		defer free()
		alone(free)
		return zero, Alone
	}
	select {
	case r := <-p.done:
		if r.ok {
			return r.res, Answered
		}
	case <-ctx.Done():
	}
	return zero, Unanswered
}

// join takes key's lane (p nil: the caller runs alone, then calls next)
// or queues op in it.
func (g *Gatherer[K, Op, Res]) join(ctx context.Context, key K, op Op) (*lane[Op, Res], *pending[Op, Res]) {
	v, ok := g.lanes.Load(key)
	if !ok {
		v, _ = g.lanes.LoadOrStore(key, &lane[Op, Res]{})
	}
	l := v.(*lane[Op, Res])
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.sending {
		l.sending = true
		return l, nil
	}
	p := &pending[Op, Res]{ctx: ctx, op: op, done: make(chan result[Res], 1)}
	l.queue = append(l.queue, p)
	return l, p
}

// next sends what queued in l as one batch, on a goroutine of its own (the
// caller that ran alone returns at once), and again once that batch frees
// the lane or ends; an empty queue leaves the lane idle and forgets it.
// A lane forgotten while a caller was joining it still works: that caller
// runs alone, and for a moment two batches of one key may be on their
// way, which only costs a message.
func (g *Gatherer[K, Op, Res]) next(key K, l *lane[Op, Res]) {
	l.mu.Lock()
	if len(l.queue) == 0 {
		l.sending = false
		g.lanes.CompareAndDelete(key, l)
		l.mu.Unlock()
		return
	}
	n := min(len(l.queue), g.max)
	todo := l.queue[:n:n]
	l.queue = l.queue[n:]
	if len(l.queue) == 0 {
		l.queue = nil
	}
	l.mu.Unlock()
	go func() {
		free := g.freer(key, l)
		// Deferred: a panic in send must not leave the lane taken.
		defer free()
		g.sendBatch(key, todo, free)
	}()
}

// freer is what frees l for its next batch: the first call sends it (see
// next), later ones do nothing.
func (g *Gatherer[K, Op, Res]) freer(key K, l *lane[Op, Res]) func() {
	var once sync.Once
	return func() { once.Do(func() { g.next(key, l) }) }
}

// sendBatch sends the ops of todo whose callers still wait, once, and
// hands each its result as it comes; those send left unanswered learn it
// when it returns.
func (g *Gatherer[K, Op, Res]) sendBatch(key K, todo []*pending[Op, Res], free func()) {
	live := make([]*pending[Op, Res], 0, len(todo))
	ops := make([]Op, 0, len(todo))
	for _, p := range todo {
		if p.ctx.Err() != nil {
			p.done <- result[Res]{}
			continue
		}
		live, ops = append(live, p), append(ops, p.op)
	}
	if len(live) == 0 {
		return
	}
	g.batches.Add(1)
	g.calls.Add(int64(len(live)))
	answered := make([]bool, len(live))
	defer func() {
		for i, p := range live {
			if !answered[i] {
				p.done <- result[Res]{}
			}
		}
	}()
	g.send(key, ops, func(i int, res Res) {
		if i < 0 || i >= len(live) || answered[i] {
			return
		}
		answered[i] = true
		live[i].done <- result[Res]{res: res, ok: true}
	}, free)
}

// Gathered reports how many batches were sent and how many calls went in
// them.
func (g *Gatherer[K, Op, Res]) Gathered() (batches, calls int64) {
	return g.batches.Load(), g.calls.Load()
}
