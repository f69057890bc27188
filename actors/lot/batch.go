package lot

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	pb "shelflife/actors/inventorypb"
)

// Batch handles the requests of a LotBatchRequest in their order, each as
// if it had come alone, and starts one commit for all of them: a crowd's
// requests gathered by the callers' node (Client) cost the grain one
// message, and their writes share one group commit. The answer goes once
// every request has one: at once for refusals and repeats, after the
// commit for the rest. A partial batch is answered at once with what is
// answered at once; the rest are left empty, for its caller to ask again.
func (g *grain) Batch(req *pb.LotBatchRequest, respond func(*pb.LotBatchResponse), _ func(error), ctx cluster.GrainContext) error {
	ops := req.GetOps()
	if len(ops) == 0 {
		respond(&pb.LotBatchResponse{})
		return nil
	}
	b := &callBatch{results: make([]*pb.LotOpResult, len(ops))}
	if !req.GetPartial() {
		b.to = ctx.Sender()
	}
	b.left.Store(int64(len(ops)))
	slots := make([]*batchSlot, len(ops))
	for i := range slots {
		slots[i] = &batchSlot{b: b, i: i}
	}
	now := make([]waiter, 0, len(ops))
	// lookups: the requests parked for a key's ledger lookup, with the
	// answer type each takes.
	var lookups []lookupSlot
	handled := 0
	g.safely(func() {
		for i, op := range ops {
			r := g.opRequest(op)
			if r.fn == nil {
				now = append(now, waiter{to: slots[i], msg: failure(r.kind, pb.Reason_INVALID_ARGUMENT, g.id())})
			} else if a, lookup := g.apply(slots[i], r); a != nil {
				now = append(now, waiter{to: slots[i], msg: a})
			} else if lookup {
				lookups = append(lookups, lookupSlot{slots[i], r.kind})
			}
			handled = i + 1
		}
		if g.core != nil && !g.stopped {
			g.flush()
			g.rearm()
		}
	})
	// A panic stopped the grain part-way: what it never handled is refused
	// as by a stopped grain, so the batch is answered and its callers ask
	// the next activation (a slot the panic's clean-up answered keeps that
	// answer).
	for i := handled; i < len(ops); i++ {
		now = append(now, waiter{to: slots[i], msg: failure(g.opRequest(ops[i]).kind, pb.Reason_STALE_OWNER, g.id())})
	}
	if req.GetPartial() {
		// The caller does not wait for the commit: what it brings answers
		// nobody (the batch has no one to send to), and the caller's
		// repeats of those requests are answered with it.
		results := make([]*pb.LotOpResult, len(ops))
		for i := range results {
			results[i] = &pb.LotOpResult{}
		}
		for _, w := range now {
			if slot, ok := w.to.(*batchSlot); ok {
				results[slot.i] = opResult(w.msg)
			}
		}
		respond(&pb.LotBatchResponse{Results: results})
		return nil
	}
	g.reply(now)
	if len(lookups) > 0 && b.left.Load() > 0 {
		// A request parked for a lookup gets an answer within
		// batchPatience. The answers to come are sent after this handler
		// returns (by the commit's or the lookup's message), so the timer
		// is in place.
		system, id := g.system, g.id()
		b.patience.Store(time.AfterFunc(batchPatience, func() {
			for _, l := range lookups {
				l.slot.answer(system, failure(l.kind, pb.Reason_UNAVAILABLE, id))
			}
		}))
	}
	return nil
}

// lookupSlot is a batch's request parked for a key's ledger lookup.
type lookupSlot struct {
	slot *batchSlot
	kind proto.Message
}

// batchPatience bounds how long a batch waits for its requests parked for
// a key's ledger lookup (a read that may take up to the write timeout to
// fail): then they are answered UNAVAILABLE, and their callers ask again
// alone, where the repeat waits for the same lookup. It is half the lot
// client's attempt (2 s), so the requests a batch did answer reach their
// callers before those give up on the batch. The requests waiting for a
// commit are not cut short: they are answered together when the commit
// ends, and asked alone they would only wait for the same commit.
const batchPatience = time.Second

// opRequest is one request of a batch as the core takes it; an empty one
// has no handling and is answered as a Deduct.
func (g *grain) opRequest(op *pb.LotOp) request {
	switch o := op.GetOp().(type) {
	case *pb.LotOp_Deduct:
		return g.deductRequest(o.Deduct)
	case *pb.LotOp_Reserve:
		return g.reserveRequest(o.Reserve)
	case *pb.LotOp_Commit:
		return g.commitRequest(o.Commit)
	case *pb.LotOp_Release:
		return g.releaseRequest(o.Release)
	case *pb.LotOp_Restore:
		return g.restoreRequest(o.Restore)
	}
	return request{kind: &pb.DeductResponse{}}
}

// callBatch gathers the answers of one LotBatchRequest. Each slot is answered
// once, by whichever goroutine has its answer (the grain's, or the one
// sending a commit's answers); the last one sends the whole.
type callBatch struct {
	to      *actor.PID // nil: a partial batch, answered already
	results []*pb.LotOpResult
	left    atomic.Int64
	// patience answers what still waits after batchPatience; stopped
	// once every request has its answer.
	patience atomic.Pointer[time.Timer]
}

// batchSlot is the reply address of one request of a batch.
type batchSlot struct {
	b        *callBatch
	i        int
	answered atomic.Bool
}

// answer records msg as the slot's answer, unless it has one, and, when
// it was the last one missing, sends the batch's answer.
func (s *batchSlot) answer(system *actor.ActorSystem, msg proto.Message) {
	if !s.answered.CompareAndSwap(false, true) {
		return
	}
	s.b.results[s.i] = opResult(msg)
	if s.b.left.Add(-1) != 0 {
		return
	}
	if t := s.b.patience.Load(); t != nil {
		t.Stop()
	}
	if s.b.to != nil {
		system.Root.Send(s.b.to, &pb.LotBatchResponse{Results: s.b.results})
	}
}

// opResult wraps one answer for a LotBatchResponse.
func opResult(msg proto.Message) *pb.LotOpResult {
	switch m := msg.(type) {
	case *pb.DeductResponse:
		return &pb.LotOpResult{Result: &pb.LotOpResult_Deduct{Deduct: m}}
	case *pb.ReserveResponse:
		return &pb.LotOpResult{Result: &pb.LotOpResult_Reserve{Reserve: m}}
	case *pb.CommitResponse:
		return &pb.LotOpResult{Result: &pb.LotOpResult_Commit{Commit: m}}
	case *pb.LotReleaseResponse:
		return &pb.LotOpResult{Result: &pb.LotOpResult_Release{Release: m}}
	case *pb.RestoreResponse:
		return &pb.LotOpResult{Result: &pb.LotOpResult_Restore{Restore: m}}
	}
	return &pb.LotOpResult{}
}
