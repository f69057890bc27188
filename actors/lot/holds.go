package lot

import (
	"container/heap"
	"time"

	"google.golang.org/protobuf/proto"

	pb "shelflife/actors/inventorypb"
	"shelflife/domain"
)

// Holds: Reserve puts units aside for an order until a deadline, Commit
// turns them into a deduction, Release (or the deadline, or the lot's
// expiry) gives them back. on_hand counts the free units only, so
// received = on_hand + held + deducted - restored + written_off.

// reserve handles a Reserve. It returns an answer to send now, or nil when
// the answer waits for the commit that makes it durable.
func (c *core) reserve(now time.Time, req *pb.ReserveRequest, to any) proto.Message {
	key := req.GetOrderKey()
	if !validKey(key) {
		return &pb.ReserveResponse{Reason: pb.Reason_INVALID_ARGUMENT, LotId: c.st.ID}
	}
	c.advance(now)
	// A key that did something is answered as it stands, whatever the
	// request says: a repeat that arrives after its deadline is not a
	// refusal (its sender would give back what the key took).
	if e, ok := c.ledger[key]; ok {
		return c.await(e, c.reserveAnswer(e), to)
	}
	if req.GetQuantity() <= 0 || req.GetUntilUnixMs() <= now.UnixMilli() {
		return &pb.ReserveResponse{Reason: pb.Reason_INVALID_ARGUMENT, LotId: c.st.ID}
	}
	if r, ok := c.refused[key]; ok {
		return &pb.ReserveResponse{Reason: r.Reason, LotId: c.st.ID, OnHand: r.OnHand}
	}
	if reason := c.refusal(now, req); reason != pb.Reason_OK {
		r := &pb.DeductResponse{Reason: reason, LotId: c.st.ID, OnHand: c.st.OnHand}
		if reason == pb.Reason_NOT_SELLABLE || reason == pb.Reason_LOT_EXPIRED {
			r.OnHand = 0
		}
		c.refuse(key, r)
		return &pb.ReserveResponse{Reason: reason, LotId: c.st.ID, OnHand: r.OnHand}
	}
	// A hold never outlives its lot.
	until := min(time.UnixMilli(req.GetUntilUnixMs()).UnixNano(), c.st.ExpiresAt.UnixNano())
	price, pct := c.priceAt(now)
	qty := req.GetQuantity()
	c.st.OnHand -= qty
	c.st.Held += qty
	e := &entry{kind: kindHeld, quantity: qty, price: price, pct: int32(pct), until: until}
	c.put(key, e)
	c.holds.push(hold{until: until, key: key})
	c.touch(key, e)
	return c.await(e, c.reserveAnswer(e), to)
}

func (c *core) reserveAnswer(e *entry) *pb.ReserveResponse {
	if e.kind != kindHeld && e.kind != kindDeducted {
		return &pb.ReserveResponse{Reason: c.endedReason(e), LotId: c.st.ID, OnHand: c.st.OnHand}
	}
	return &pb.ReserveResponse{Reason: pb.Reason_OK, LotId: c.st.ID, Quantity: e.quantity,
		UnitPrice: int64(e.price), DiscountPercent: e.pct, OnHand: c.st.OnHand,
		HoldUntilUnixMs: time.Unix(0, e.until).UnixMilli()}
}

// endedReason is the refusal for a key whose hold or deduction is over.
func (c *core) endedReason(e *entry) pb.Reason {
	switch {
	case e.kind != kindLapsed:
		return pb.Reason_ALREADY_RESTORED
	case c.st.State == domain.Expired:
		return pb.Reason_LOT_EXPIRED
	default:
		return pb.Reason_HOLD_EXPIRED
	}
}

// commit handles a Commit: the key's hold becomes a deduction at the price
// it was held at. A key without a live hold is refused and nothing is
// written.
func (c *core) commit(now time.Time, req *pb.CommitRequest, to any) proto.Message {
	key := req.GetOrderKey()
	if !validKey(key) {
		return &pb.CommitResponse{Reason: pb.Reason_INVALID_ARGUMENT, LotId: c.st.ID}
	}
	c.advance(now)
	e, ok := c.ledger[key]
	if !ok {
		return &pb.CommitResponse{Reason: pb.Reason_NO_HOLD, LotId: c.st.ID}
	}
	if e.kind == kindHeld {
		c.commitHold(now, key, e)
	}
	return c.await(e, c.commitAnswer(e), to)
}

func (c *core) commitHold(now time.Time, key string, e *entry) {
	e.kind = kindDeducted
	c.observe(now, e.quantity, e.pct)
	c.st.Held -= e.quantity
	c.st.Deducted += e.quantity
	c.touch(key, e)
}

func (c *core) commitAnswer(e *entry) *pb.CommitResponse {
	if e.kind != kindDeducted {
		return &pb.CommitResponse{Reason: c.endedReason(e), LotId: c.st.ID}
	}
	return &pb.CommitResponse{Reason: pb.Reason_OK, LotId: c.st.ID, Quantity: e.quantity,
		UnitPrice: int64(e.price), DiscountPercent: e.pct}
}

// release handles a Release: whatever the key did is given back.
func (c *core) release(now time.Time, req *pb.LotReleaseRequest, to any) proto.Message {
	key := req.GetOrderKey()
	if !validKey(key) {
		return &pb.LotReleaseResponse{Reason: pb.Reason_INVALID_ARGUMENT}
	}
	e, given := c.undo(now, key)
	return c.await(e, &pb.LotReleaseResponse{Reason: pb.Reason_OK, Released: given, OnHand: c.st.OnHand}, to)
}

// lapse gives back the holds whose deadline is at or before until (Unix
// nanoseconds).
func (c *core) lapse(until int64) {
	for c.holds.Len() > 0 && c.holds[0].until <= until {
		h := heap.Pop(&c.holds).(hold)
		e, ok := c.ledger[h.key]
		if !ok || e.kind != kindHeld || e.until != h.until {
			continue
		}
		e.kind = kindLapsed
		c.st.Held -= e.quantity
		c.st.OnHand += e.quantity
		c.touch(h.key, e)
	}
}

// earliestHold is the earliest deadline of a live hold, dropping entries
// of holds that ended another way.
func (c *core) earliestHold() (int64, bool) {
	for c.holds.Len() > 0 {
		h := c.holds[0]
		if e, ok := c.ledger[h.key]; ok && e.kind == kindHeld && e.until == h.until {
			return h.until, true
		}
		heap.Pop(&c.holds)
	}
	return 0, false
}

// hold is a deadline in the heap.
type hold struct {
	until int64
	key   string
}

type holdHeap []hold

func (h holdHeap) Len() int           { return len(h) }
func (h holdHeap) Less(i, j int) bool { return h[i].until < h[j].until }
func (h holdHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *holdHeap) Push(x any)        { *h = append(*h, x.(hold)) }
func (h *holdHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (h *holdHeap) push(x hold) { heap.Push(h, x) }
