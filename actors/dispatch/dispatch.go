// Package dispatch runs the grains' mailboxes on goroutines that are kept
// between runs.
//
// protoactor-go's default dispatcher starts a goroutine each time a
// mailbox that was empty receives a message. A new goroutine starts on a
// small stack, and a grain's handler (the actor middleware, the grain, its
// state machine) is deep enough that the stack is grown and copied on
// nearly every run: under a crowd on one lot that was a fifth of the CPU
// of the lot's requests. A goroutine that has run a mailbox keeps its
// grown stack; Pool hands the next run to one that is idle.
package dispatch

import "github.com/asynkron/protoactor-go/actor"

// Pool is an actor.Dispatcher that reuses goroutines. A run goes to an
// idle goroutine if there is one, else to a new one; after its run a
// goroutine waits for the next unless idle ones are already as many as
// the pool keeps, and then it ends. Schedule never blocks.
type Pool struct {
	throughput int
	// idle holds the inbox of each waiting goroutine. An inbox is in
	// idle at most once and is taken by exactly one Schedule, which puts
	// exactly one run in it (its buffer of one never blocks).
	idle chan chan func()
}

var _ actor.Dispatcher = (*Pool)(nil)

// New makes a pool that keeps up to keep idle goroutines; throughput is
// the messages a mailbox processes per run before it yields (protoactor's
// default is 300).
func New(keep, throughput int) *Pool {
	return &Pool{throughput: max(throughput, 1), idle: make(chan chan func(), max(keep, 0))}
}

// Schedule runs fn on an idle goroutine, or on a new one.
func (p *Pool) Schedule(fn func()) {
	select {
	case inbox := <-p.idle:
		inbox <- fn
	default:
		go p.work(fn)
	}
}

// Throughput implements actor.Dispatcher.
func (p *Pool) Throughput() int { return p.throughput }

// Idle is how many goroutines wait for a run.
func (p *Pool) Idle() int { return len(p.idle) }

func (p *Pool) work(fn func()) {
	inbox := make(chan func(), 1)
	for {
		fn()
		select {
		case p.idle <- inbox:
		default:
			return // enough wait already
		}
		fn = <-inbox
	}
}

// Grains is the pool every grain kind of a process shares: enough idle
// goroutines for the mailboxes that run at once on a busy node.
var Grains = New(256, 300)

// Calls is the pool grain clients wait for their answers on (a call is
// marshalled and sent there, so that its caller can stop waiting at its
// deadline): one goroutine a caller waiting at once.
var Calls = New(1024, 1)

// Option is the props option that puts a kind's mailboxes on Grains.
func Option() actor.PropsOption { return actor.WithDispatcher(Grains) }
