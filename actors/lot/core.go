package lot

import (
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "shelflife/actors/inventorypb"
	"shelflife/domain"
)

// waiter is an answer to send once the batch it depends on is durable.
type waiter struct {
	to  any // the grain's reply address; opaque here
	msg proto.Message
}

// entry is what one key did, kept without pointers: a hot lot holds one per
// order, and the garbage collector need not look inside them.
type entry struct {
	kind     entryKind
	durable  bool
	pct      int32
	quantity int64
	price    domain.KRW
	batch    uint64 // the batch that makes the entry durable, while !durable
	until    int64  // a hold's deadline, Unix nanoseconds; 0 without a hold
}

type entryKind uint8

const (
	kindDeducted entryKind = iota + 1
	kindRestored
	kindTombstone
	kindHeld
	kindReleased
	kindLapsed
)

var kindNames = map[entryKind]string{kindDeducted: Deducted, kindRestored: Restored, kindTombstone: Tombstone,
	kindHeld: Held, kindReleased: Released, kindLapsed: Lapsed}

func kindOf(name string) entryKind {
	for k, n := range kindNames {
		if n == name {
			return k
		}
	}
	return kindTombstone
}

func (e *entry) ledgerEntry(key string) LedgerEntry {
	le := LedgerEntry{Key: key, Kind: kindNames[e.kind], Quantity: e.quantity, UnitPrice: e.price, DiscountPercent: int(e.pct)}
	if e.until != 0 {
		le.HoldUntil = time.Unix(0, e.until).UTC()
	}
	return le
}

// batch gathers the changes of one group commit and who waits for it.
type batch struct {
	no      uint64
	dirty   bool
	keys    []string
	waste   []Waste
	waiters []waiter
}

// core is the lot's state machine: no actor, clock or storage types, so it
// can be reasoned about (and tested) on its own. The grain feeds it
// requests and commit results and sends what it returns.
type core struct {
	st      State // in memory: includes changes not yet durable
	durable State // as last committed
	ladder  domain.Ladder
	md      Markdown
	// fallback is the product's rate (list-price units an hour) for a
	// lot that has sold nothing itself, as fetched at fallbackAt.
	fallback   float64
	fallbackAt time.Time
	// siblings are the lots of the product in the warehouse as read for
	// the evaluation under way (nil: price the lot alone).
	siblings []Sibling
	ledger   map[string]*entry
	// refused remembers refusals in this activation so a repeated request
	// gets the same answer; refusals change nothing, so they are not stored.
	refused map[string]*pb.DeductResponse
	pending batch
	// inflight is the commit being written, if any. One at a time: the
	// store writes a commit in one round trip and the next batch gathers
	// meanwhile, so a second in flight would only contend for the lot row.
	inflight *batch
	// expired is set when the batch being assembled writes the lot off; the
	// grain stops itself after that commit.
	expired bool
	// holds orders the holds by deadline, earliest first. Entries whose
	// hold ended another way stay until they reach the top.
	holds holdHeap
	// from is where the loaded ledger starts (Unix nanoseconds; 0: the
	// whole ledger is loaded). A key the ledger does not know may be older:
	// MySQL is asked (needsLookup, learn) unless the key itself shows it is
	// younger.
	from int64
	// absent remembers keys MySQL was asked about and did not have.
	absent map[string]struct{}
}

const maxRefusalsRemembered = 100_000

// keySkew is how far a node's clock, which dates order ids, may be behind
// MySQL's, which dates ledger rows.
const keySkew = 5 * time.Minute

type commitResult struct {
	commit Commit
	err    error
}

func newCore(st State, ledger []LedgerEntry, ladder domain.Ladder) *core {
	// Maps are made when first written: most of a node's lots are idle,
	// with nothing in them.
	c := &core{st: st, durable: st, ladder: ladder, pending: batch{no: 1},
		md: Markdown{}.withDefaults()}
	if !st.LedgerFrom.IsZero() {
		c.from = st.LedgerFrom.UnixNano()
	}
	if len(ledger) > 0 {
		c.ledger = make(map[string]*entry, len(ledger))
	}
	for _, e := range ledger {
		c.load(e)
	}
	return c
}

// put records what key did.
func (c *core) put(key string, e *entry) {
	if c.ledger == nil {
		c.ledger = map[string]*entry{}
	}
	c.ledger[key] = e
}

// refuse remembers a refusal for key, forgetting them all past a bound.
func (c *core) refuse(key string, r *pb.DeductResponse) {
	if c.refused == nil || len(c.refused) >= maxRefusalsRemembered {
		c.refused = map[string]*pb.DeductResponse{}
	}
	c.refused[key] = r
}

// load puts a durable ledger row into memory.
func (c *core) load(e LedgerEntry) {
	en := &entry{kind: kindOf(e.Kind), durable: true, quantity: e.Quantity, price: e.UnitPrice, pct: int32(e.DiscountPercent)}
	if !e.HoldUntil.IsZero() {
		en.until = e.HoldUntil.UnixNano()
	}
	c.put(e.Key, en)
	if en.kind == kindHeld {
		c.holds.push(hold{until: en.until, key: e.Key})
	}
}

// needsLookup reports whether MySQL must be asked what key did before a
// request for it is handled: the loaded ledger is partial, the key is not
// in memory, and it is not known to be younger than the loaded part.
func (c *core) needsLookup(key string) bool {
	if c.from == 0 || !validKey(key) {
		return false
	}
	if _, ok := c.ledger[key]; ok {
		return false
	}
	if _, ok := c.refused[key]; ok {
		return false
	}
	if _, ok := c.absent[key]; ok {
		return false
	}
	at, ok := keyTime(key)
	return !ok || at < c.from+int64(keySkew)
}

// learn takes MySQL's answer for key: its row, or found false for none.
func (c *core) learn(key string, e LedgerEntry, found bool) {
	if _, ok := c.ledger[key]; ok {
		return
	}
	if !found {
		if c.absent == nil || len(c.absent) >= maxRefusalsRemembered {
			c.absent = map[string]struct{}{}
		}
		c.absent[key] = struct{}{}
		return
	}
	e.Key = key
	c.load(e)
}

// keyTime is when the order a key belongs to was placed, read from the key:
// order ids are "o", the creation time in hex milliseconds and ten random
// hex digits, and a line's key adds "-" and the line (domain.OrderLine.Key).
// Other keys report false.
func keyTime(key string) (int64, bool) {
	if len(key) < 2 || key[0] != 'o' {
		return 0, false
	}
	end := strings.IndexByte(key, '-')
	if end < 0 {
		end = len(key)
	}
	h := key[1:end]
	if len(h) <= 10 || len(h) > 21 {
		return 0, false
	}
	ms, err := strconv.ParseUint(h[:len(h)-10], 16, 64)
	if err != nil || ms > uint64(math.MaxInt64/int64(time.Millisecond)) {
		return 0, false
	}
	if _, err := strconv.ParseUint(h[len(h)-10:], 16, 64); err != nil {
		return 0, false
	}
	return int64(ms) * int64(time.Millisecond), true
}

func (c *core) info(s State, reason pb.Reason) *pb.LotInfo {
	return &pb.LotInfo{
		Reason: reason, LotId: s.ID, ProductId: s.ProductID, WarehouseId: s.WarehouseID,
		ExpiresAtUnixMs: s.ExpiresAt.UnixMilli(), Received: s.Received, OnHand: s.OnHand, Held: s.Held,
		Deducted: s.Deducted, Restored: s.Restored, WrittenOff: s.WrittenOff,
		State: string(s.State), Epoch: s.Version, Seq: s.Seq,
	}
}

// deduct handles a Deduct. It returns an answer to send now, or nil when the
// answer waits for the commit that makes it durable.
func (c *core) deduct(now time.Time, req *pb.DeductRequest, to any) proto.Message {
	key := req.GetOrderKey()
	if !validKey(key) || req.GetQuantity() <= 0 {
		return &pb.DeductResponse{Reason: pb.Reason_INVALID_ARGUMENT, LotId: c.st.ID}
	}
	c.advance(now)
	if e, ok := c.ledger[key]; ok {
		if e.kind == kindHeld {
			c.commitHold(now, key, e)
		}
		return c.await(e, c.deductAnswer(e), to)
	}
	if r, ok := c.refused[key]; ok {
		return r
	}
	reason := c.refusal(now, req)
	if reason != pb.Reason_OK {
		r := &pb.DeductResponse{Reason: reason, LotId: c.st.ID, OnHand: c.st.OnHand}
		c.refuse(key, r)
		return r
	}
	price, pct := c.priceAt(now)
	qty := req.GetQuantity()
	c.st.OnHand -= qty
	c.st.Deducted += qty
	e := &entry{kind: kindDeducted, quantity: qty, price: price, pct: int32(pct)}
	c.put(key, e)
	c.observe(now, qty, e.pct)
	c.touch(key, e)
	return c.await(e, c.deductAnswer(e), to)
}

// validKey accepts 1 to 100 printable ASCII characters (the ledger stores
// keys as ASCII for speed; order ids are).
func validKey(k string) bool {
	if k == "" || len(k) > 100 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

func (c *core) refusal(now time.Time, req interface {
	GetChannel() pb.Channel
	GetQuantity() int64
}) pb.Reason {
	switch {
	case c.st.State == domain.Expired:
		return pb.Reason_LOT_EXPIRED
	case req.GetChannel() == pb.Channel_REGULAR &&
		(c.st.State != domain.Regular || c.st.ExpiresAt.Sub(now) < c.st.MinShelfLife):
		return pb.Reason_NOT_SELLABLE
	case req.GetChannel() == pb.Channel_DEAL && c.st.State != domain.ClosingSoon:
		return pb.Reason_NOT_SELLABLE
	case req.GetQuantity() > c.st.OnHand:
		return pb.Reason_INSUFFICIENT_STOCK
	}
	return pb.Reason_OK
}

// priceAt is the unit price now: the list price, or the markdown in force
// (percentAt) while the lot is closing soon.
func (c *core) priceAt(now time.Time) (domain.KRW, int) {
	if c.st.State != domain.ClosingSoon {
		return c.st.Price, 0
	}
	pct := c.percentAt(now)
	return domain.Discounted(c.st.Price, pct), pct
}

func (c *core) deductAnswer(e *entry) *pb.DeductResponse {
	if e.kind != kindDeducted {
		return &pb.DeductResponse{Reason: c.endedReason(e), LotId: c.st.ID}
	}
	return &pb.DeductResponse{Reason: pb.Reason_OK, LotId: c.st.ID, Quantity: e.quantity,
		UnitPrice: int64(e.price), DiscountPercent: e.pct, OnHand: c.st.OnHand}
}

// restore handles a Restore, like deduct: it undoes what the key did.
func (c *core) restore(now time.Time, req *pb.RestoreRequest, to any) proto.Message {
	key := req.GetOrderKey()
	if !validKey(key) {
		return &pb.RestoreResponse{Reason: pb.Reason_INVALID_ARGUMENT}
	}
	e, given := c.undo(now, key)
	return c.await(e, &pb.RestoreResponse{Reason: pb.Reason_OK, Restored: given, OnHand: c.st.OnHand}, to)
}

// undo gives back what key took: a hold is released, a deduction restored;
// a key that took nothing gets a marker that refuses it later. It returns
// the key's entry and the units given back now.
func (c *core) undo(now time.Time, key string) (*entry, int64) {
	c.advance(now)
	e, ok := c.ledger[key]
	switch {
	case !ok:
		// The undo overtook its request: leave a marker that refuses it.
		delete(c.refused, key)
		e = &entry{kind: kindTombstone}
		c.put(key, e)
		c.touch(key, e)
		return e, 0
	case e.kind == kindHeld:
		e.kind = kindReleased
		c.st.Held -= e.quantity
		c.st.OnHand += e.quantity
		c.touch(key, e)
		return e, e.quantity
	case e.kind == kindDeducted:
		e.kind = kindRestored
		c.st.Restored += e.quantity
		if c.st.State == domain.Expired {
			// Goods that come back to an expired lot are waste at once.
			c.st.WrittenOff += e.quantity
			c.pending.waste = append(c.pending.waste, Waste{Quantity: e.quantity, UnitCost: c.st.Price, Kind: "RETURN", At: now})
		} else {
			c.st.OnHand += e.quantity
		}
		c.touch(key, e)
		return e, e.quantity
	default:
		return e, 0
	}
}

// touch puts e into the batch being assembled.
func (c *core) touch(key string, e *entry) {
	if e.durable || e.batch != c.pending.no {
		c.pending.keys = append(c.pending.keys, key)
	}
	e.durable = false
	e.batch = c.pending.no
	c.pending.dirty = true
}

// await answers now when e is durable, else queues the answer on e's batch.
func (c *core) await(e *entry, answer proto.Message, to any) proto.Message {
	if e.durable {
		return answer
	}
	w := waiter{to: to, msg: answer}
	if c.inflight != nil && c.inflight.no == e.batch {
		c.inflight.waiters = append(c.inflight.waiters, w)
		return nil
	}
	c.pending.waiters = append(c.pending.waiters, w)
	return nil
}

// advance applies the expiry transitions due at now.
func (c *core) advance(now time.Time) {
	if c.st.State == domain.Expired {
		return
	}
	c.lapse(now.UnixNano())
	target := domain.StateAt(c.st.ExpiresAt, now)
	if target == c.st.State || target == domain.Regular {
		return
	}
	c.pending.dirty = true
	if target == domain.ClosingSoon {
		c.st.State = domain.ClosingSoon
		return
	}
	// A hold never outlives its lot: what is still held comes back, and is
	// written off with the rest.
	c.lapse(math.MaxInt64)
	left := c.st.OnHand
	c.st.WrittenOff += left
	c.st.OnHand = 0
	c.st.State = domain.Expired
	c.pending.waste = append(c.pending.waste, Waste{Quantity: left, UnitCost: c.st.Price, Kind: "EXPIRY", At: now})
	c.expired = true
}

// nextTransition is when advance next has work, if ever: the lot's next
// state, the earliest hold's deadline or, for an adaptive closing-soon
// lot, its next markdown evaluation.
func (c *core) nextTransition() (time.Time, bool) {
	at, ok := domain.NextTransition(c.st.ExpiresAt, c.st.State)
	if until, held := c.earliestHold(); held && (!ok || until < at.UnixNano()) {
		at, ok = time.Unix(0, until), true
	}
	if c.md.adaptive() && c.st.State == domain.ClosingSoon {
		due := c.st.MarkdownDueAt
		if due.IsZero() {
			due = c.st.ExpiresAt.Add(-domain.ClosingWindow)
		}
		if !ok || due.Before(at) {
			at, ok = due, true
		}
	}
	return at, ok
}

// take starts the next group commit, if there is something to write and
// none is in flight.
func (c *core) take() (Commit, bool) {
	if c.inflight != nil || !c.pending.dirty {
		return Commit{}, false
	}
	c.st.Seq++
	cm := Commit{
		LotID: c.st.ID, Epoch: c.st.Version, Seq: c.st.Seq, PrevSeq: c.st.Seq - 1,
		OnHand: c.st.OnHand, Held: c.st.Held, Deducted: c.st.Deducted, Restored: c.st.Restored, WrittenOff: c.st.WrittenOff,
		State: c.st.State, Pricing: c.st.Pricing, Waste: c.pending.waste, ProductID: c.st.ProductID, WarehouseID: c.st.WarehouseID,
		batch: c.pending.no,
	}
	cm.Entries = make([]LedgerEntry, 0, len(c.pending.keys))
	for _, k := range c.pending.keys {
		cm.Entries = append(cm.Entries, c.ledger[k].ledgerEntry(k))
	}
	b := c.pending
	c.inflight = &b
	c.pending = batch{no: b.no + 1}
	return cm, true
}

// busy reports whether a commit is in flight or due.
func (c *core) busy() bool { return c.inflight != nil || c.pending.dirty }

// completed takes the result of the commit in flight and returns the
// answers now due and whether it failed. On failure every waiting request,
// in flight or queued, is answered with the failure's reason and the grain
// must stop: its memory may hold changes that never became durable.
func (c *core) completed(r commitResult, reason pb.Reason) (due []waiter, failed bool) {
	b := c.inflight
	if b == nil || b.no != r.commit.batch {
		// Not the commit this core started: nothing to apply.
		return nil, false
	}
	if r.err != nil {
		return c.failAll(reason), true
	}
	c.inflight = nil
	for _, k := range b.keys {
		if e := c.ledger[k]; e.batch == b.no {
			e.durable = true
		}
	}
	cm := r.commit
	c.durable.OnHand, c.durable.Held, c.durable.Deducted, c.durable.Restored, c.durable.WrittenOff = cm.OnHand, cm.Held, cm.Deducted, cm.Restored, cm.WrittenOff
	c.durable.State, c.durable.Seq, c.durable.Pricing = cm.State, cm.Seq, cm.Pricing
	return b.waiters, false
}

// failAll answers every waiting request with reason.
func (c *core) failAll(reason pb.Reason) []waiter {
	var waiting []waiter
	if c.inflight != nil {
		waiting = append(waiting, c.inflight.waiters...)
	}
	waiting = append(waiting, c.pending.waiters...)
	c.inflight = nil
	c.pending.waiters = nil
	out := make([]waiter, 0, len(waiting))
	for _, w := range waiting {
		out = append(out, waiter{to: w.to, msg: failure(w.msg, reason, c.st.ID)})
	}
	return out
}

// failure is the answer of the same type as msg, refusing with reason.
func failure(msg proto.Message, reason pb.Reason, lotID int64) proto.Message {
	switch msg.(type) {
	case *pb.DeductResponse:
		return &pb.DeductResponse{Reason: reason, LotId: lotID}
	case *pb.RestoreResponse:
		return &pb.RestoreResponse{Reason: reason}
	case *pb.ReserveResponse:
		return &pb.ReserveResponse{Reason: reason, LotId: lotID}
	case *pb.CommitResponse:
		return &pb.CommitResponse{Reason: reason, LotId: lotID}
	case *pb.LotReleaseResponse:
		return &pb.LotReleaseResponse{Reason: reason}
	default:
		return &pb.LotInfo{Reason: reason, LotId: lotID}
	}
}

// event describes the lot as of cm.
func (c *core) event(cm Commit, at time.Time) domain.LotEvent {
	return domain.LotEvent{LotID: c.st.ID, ProductID: c.st.ProductID, WarehouseID: c.st.WarehouseID, ExpiresAt: c.st.ExpiresAt,
		OnHand: cm.OnHand, Held: cm.Held, State: cm.State, Seq: cm.Seq, WrittenOff: cm.WrittenOff,
		DiscountPercent: cm.Pricing.MarkdownPercent, At: at}
}
