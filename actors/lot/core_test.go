package lot

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "shelflife/actors/inventorypb"
	"shelflife/domain"
)

// The core's tests drive the state machine without actors, clock or MySQL:
// every commit the core starts is "written" at once, and the lot's
// conservation is checked on each.

var c0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func testState(received int64, expiresIn time.Duration) State {
	return State{Lot: domain.Lot{ID: 7, ProductID: 1, WarehouseID: 2, ExpiresAt: c0.Add(expiresIn),
		Received: received, OnHand: received, State: domain.StateAt(c0.Add(expiresIn), c0), Version: 1}, Price: 10000}
}

// harness runs a core and records what it committed.
type harness struct {
	t       *testing.T
	c       *core
	now     time.Time
	commits []Commit
}

func newHarness(t *testing.T, st State, ledger []LedgerEntry) *harness {
	return &harness{t: t, c: newCore(st, ledger, domain.DefaultLadder()), now: c0}
}

// settle writes every commit the core has due and returns the answers that
// were waiting for them, keyed by their reply address.
func (h *harness) settle() map[any]proto.Message {
	h.t.Helper()
	out := map[any]proto.Message{}
	for {
		cm, ok := h.c.take()
		if !ok {
			return out
		}
		if got := cm.OnHand + cm.Held + cm.Deducted - cm.Restored + cm.WrittenOff; got != h.c.st.Received {
			h.t.Fatalf("commit %d not conserved: on_hand %d + held %d + deducted %d - restored %d + written_off %d = %d, received %d",
				cm.Seq, cm.OnHand, cm.Held, cm.Deducted, cm.Restored, cm.WrittenOff, got, h.c.st.Received)
		}
		if cm.OnHand < 0 || cm.Held < 0 {
			h.t.Fatalf("commit %d: on_hand %d held %d", cm.Seq, cm.OnHand, cm.Held)
		}
		h.commits = append(h.commits, cm)
		due, failed := h.c.completed(commitResult{commit: cm}, pb.Reason_UNAVAILABLE)
		if failed {
			h.t.Fatal("commit failed")
		}
		for _, w := range due {
			out[w.to] = w.msg
		}
	}
}

// do runs one request and returns its answer once durable, and whether the
// request wrote anything.
func (h *harness) do(s step) (proto.Message, bool) {
	h.t.Helper()
	before := len(h.commits)
	const to = "caller"
	var answer proto.Message
	switch s.op {
	case "reserve":
		until := s.until
		if until == 0 {
			until = 15 * time.Minute
		}
		answer = h.c.reserve(h.now, &pb.ReserveRequest{OrderKey: s.key, Quantity: s.qty, Channel: s.channel,
			UntilUnixMs: h.now.Add(until).UnixMilli()}, to)
	case "commit":
		answer = h.c.commit(h.now, &pb.CommitRequest{OrderKey: s.key}, to)
	case "release":
		answer = h.c.release(h.now, &pb.LotReleaseRequest{OrderKey: s.key}, to)
	case "deduct":
		answer = h.c.deduct(h.now, &pb.DeductRequest{OrderKey: s.key, Quantity: s.qty, Channel: s.channel}, to)
	case "restore":
		answer = h.c.restore(h.now, &pb.RestoreRequest{OrderKey: s.key}, to)
	case "wait": // time passes and the timer fires
		h.now = h.now.Add(s.until)
		h.c.advance(h.now)
	case "clock": // time passes, no timer
		h.now = h.now.Add(s.until)
	default:
		h.t.Fatalf("unknown op %q", s.op)
	}
	due := h.settle()
	if s.op == "wait" || s.op == "clock" {
		return nil, len(h.commits) > before
	}
	if answer == nil {
		answer = due[to]
		if answer == nil {
			h.t.Fatalf("%s %s: no answer after its commit", s.op, s.key)
		}
	} else if len(due) > 0 {
		h.t.Fatalf("%s %s: answered at once and after a commit", s.op, s.key)
	}
	return answer, len(h.commits) > before
}

type step struct {
	op      string
	key     string
	qty     int64
	channel pb.Channel
	until   time.Duration // reserve: hold time (default 15 min); wait: how long
	// want is the answer's reason; writes whether a commit was written.
	want   pb.Reason
	writes bool
}

type counters struct{ onHand, held, deducted, restored, writtenOff int64 }

func reasonOf(m proto.Message) pb.Reason {
	if r, ok := m.(interface{ GetReason() pb.Reason }); ok {
		return r.GetReason()
	}
	return -1
}

func TestCoreHolds(t *testing.T) {
	const ok = pb.Reason_OK
	tests := []struct {
		name      string
		received  int64
		expiresIn time.Duration
		steps     []step
		want      counters
		state     domain.LotState
	}{
		{name: "reserve holds, commit deducts", received: 10, expiresIn: 30 * 24 * time.Hour,
			steps: []step{
				{op: "reserve", key: "o1", qty: 3, want: ok, writes: true},
				{op: "commit", key: "o1", want: ok, writes: true},
			},
			want: counters{onHand: 7, deducted: 3}},
		{name: "repeated reserve, commit and release answer as the first", received: 10, expiresIn: 30 * 24 * time.Hour,
			steps: []step{
				{op: "reserve", key: "o1", qty: 3, want: ok, writes: true},
				{op: "reserve", key: "o1", qty: 3, want: ok},
				{op: "reserve", key: "o1", qty: 5, want: ok},
				{op: "commit", key: "o1", want: ok, writes: true},
				{op: "commit", key: "o1", want: ok},
				{op: "reserve", key: "o1", qty: 3, want: ok},
				{op: "release", key: "o1", want: ok, writes: true},
				{op: "release", key: "o1", want: ok},
				{op: "commit", key: "o1", want: pb.Reason_ALREADY_RESTORED},
				{op: "reserve", key: "o1", qty: 3, want: pb.Reason_ALREADY_RESTORED},
			},
			want: counters{onHand: 10, deducted: 3, restored: 3}},
		// The warehouse gives back every part of a plan a lot refuses: a
		// repeated hold refused for its past deadline would have undone
		// a paid order's deduction.
		{name: "a repeated reserve past its deadline answers the key as it stands", received: 10, expiresIn: 30 * 24 * time.Hour,
			steps: []step{
				{op: "reserve", key: "o1", qty: 1, want: ok, writes: true},
				{op: "commit", key: "o1", want: ok, writes: true},
				{op: "clock", until: 20 * time.Minute},
				{op: "reserve", key: "o1", qty: 1, until: -time.Minute, want: ok},
				{op: "reserve", key: "o2", qty: 1, until: -time.Minute, want: pb.Reason_INVALID_ARGUMENT},
			},
			want: counters{onHand: 9, deducted: 1}},
		{name: "release of a hold gives it back; its commit is refused", received: 10, expiresIn: 30 * 24 * time.Hour,
			steps: []step{
				{op: "reserve", key: "o1", qty: 4, want: ok, writes: true},
				{op: "release", key: "o1", want: ok, writes: true},
				{op: "commit", key: "o1", want: pb.Reason_ALREADY_RESTORED},
				{op: "release", key: "o1", want: ok},
			},
			want: counters{onHand: 10}},
		{name: "release before reserve leaves a marker that refuses the reserve", received: 10, expiresIn: 30 * 24 * time.Hour,
			steps: []step{
				{op: "release", key: "o1", want: ok, writes: true},
				{op: "reserve", key: "o1", qty: 2, want: pb.Reason_ALREADY_RESTORED},
				{op: "commit", key: "o1", want: pb.Reason_ALREADY_RESTORED},
				{op: "deduct", key: "o1", qty: 2, want: pb.Reason_ALREADY_RESTORED},
			},
			want: counters{onHand: 10}},
		{name: "refusals write nothing", received: 5, expiresIn: 30 * 24 * time.Hour,
			steps: []step{
				{op: "reserve", key: "o1", qty: 6, want: pb.Reason_INSUFFICIENT_STOCK},
				{op: "reserve", key: "o1", qty: 6, want: pb.Reason_INSUFFICIENT_STOCK},
				{op: "commit", key: "o2", want: pb.Reason_NO_HOLD},
				{op: "reserve", key: "o3", qty: 0, want: pb.Reason_INVALID_ARGUMENT},
				{op: "reserve", key: "o4", qty: 1, channel: pb.Channel_DEAL, want: pb.Reason_NOT_SELLABLE},
				{op: "reserve", key: "o5", qty: 5, want: ok, writes: true},
				{op: "reserve", key: "o6", qty: 1, want: pb.Reason_INSUFFICIENT_STOCK},
			},
			want: counters{held: 5}},
		{name: "held units are not available to others until released", received: 5, expiresIn: 30 * 24 * time.Hour,
			steps: []step{
				{op: "reserve", key: "a", qty: 3, want: ok, writes: true},
				{op: "deduct", key: "b", qty: 3, want: pb.Reason_INSUFFICIENT_STOCK},
				{op: "release", key: "a", want: ok, writes: true},
				{op: "deduct", key: "c", qty: 3, want: ok, writes: true},
			},
			want: counters{onHand: 2, deducted: 3}},
		{name: "a hold lapses at its deadline and its commit is refused", received: 10, expiresIn: 30 * 24 * time.Hour,
			steps: []step{
				{op: "reserve", key: "o1", qty: 4, until: 10 * time.Minute, want: ok, writes: true},
				{op: "reserve", key: "o2", qty: 1, until: 15 * time.Minute, want: ok, writes: true},
				{op: "wait", until: 10 * time.Minute, writes: true},
				{op: "commit", key: "o1", want: pb.Reason_HOLD_EXPIRED},
				{op: "reserve", key: "o1", qty: 4, want: pb.Reason_HOLD_EXPIRED},
				{op: "commit", key: "o2", want: ok, writes: true},
				{op: "release", key: "o1", want: ok},
			},
			want: counters{onHand: 9, deducted: 1}},
		{name: "commit after the deadline is refused even without a tick", received: 10, expiresIn: 30 * 24 * time.Hour,
			steps: []step{
				{op: "reserve", key: "o1", qty: 4, until: time.Minute, want: ok, writes: true},
				{op: "clock", until: 2 * time.Minute},
				{op: "commit", key: "o1", want: pb.Reason_HOLD_EXPIRED, writes: true},
			},
			want: counters{onHand: 10}},
		{name: "lot expiry with holds writes them off and refuses their commits", received: 10, expiresIn: 49 * time.Hour,
			steps: []step{
				{op: "wait", until: 2 * time.Hour, writes: true}, // closing soon
				{op: "reserve", key: "d1", qty: 2, channel: pb.Channel_DEAL, until: 10 * time.Minute, want: ok, writes: true},
				{op: "reserve", key: "d2", qty: 3, channel: pb.Channel_DEAL, until: 240 * time.Hour, want: ok, writes: true},
				{op: "commit", key: "d1", want: ok, writes: true},
				{op: "wait", until: 47 * time.Hour, writes: true},
				{op: "commit", key: "d2", want: pb.Reason_LOT_EXPIRED},
				{op: "reserve", key: "d3", qty: 1, channel: pb.Channel_DEAL, want: pb.Reason_LOT_EXPIRED},
				{op: "release", key: "d2", want: ok},
			},
			want: counters{deducted: 2, writtenOff: 8}, state: domain.Expired},
		{name: "release of a committed line after lot expiry is waste", received: 10, expiresIn: 49 * time.Hour,
			steps: []step{
				{op: "wait", until: 2 * time.Hour, writes: true},
				{op: "reserve", key: "d1", qty: 2, channel: pb.Channel_DEAL, want: ok, writes: true},
				{op: "commit", key: "d1", want: ok, writes: true},
				{op: "wait", until: 47 * time.Hour, writes: true},
				{op: "release", key: "d1", want: ok, writes: true},
			},
			want: counters{deducted: 2, restored: 2, writtenOff: 10}, state: domain.Expired},
		{name: "deduct of a held key commits the hold", received: 10, expiresIn: 30 * 24 * time.Hour,
			steps: []step{
				{op: "reserve", key: "o1", qty: 2, want: ok, writes: true},
				{op: "deduct", key: "o1", qty: 2, want: ok, writes: true},
				{op: "commit", key: "o1", want: ok},
				{op: "restore", key: "o1", want: ok, writes: true},
			},
			want: counters{onHand: 10, deducted: 2, restored: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testState(tt.received, tt.expiresIn), nil)
			for i, s := range tt.steps {
				answer, wrote := h.do(s)
				if s.op != "wait" && s.op != "clock" {
					if got := reasonOf(answer); got != s.want {
						t.Fatalf("step %d %s %s: got %s, want %s", i, s.op, s.key, got, s.want)
					}
				}
				if wrote != s.writes {
					t.Fatalf("step %d %s %s: wrote %v, want %v", i, s.op, s.key, wrote, s.writes)
				}
			}
			d := h.c.durable
			if got := (counters{d.OnHand, d.Held, d.Deducted, d.Restored, d.WrittenOff}); got != tt.want {
				t.Errorf("counters: got %+v, want %+v", got, tt.want)
			}
			want := tt.state
			if want == "" {
				want = h.c.st.State
			}
			if d.State != want {
				t.Errorf("state: got %s, want %s", d.State, want)
			}
		})
	}
}

func TestCoreReserveAnswer(t *testing.T) {
	h := newHarness(t, testState(10, 49*time.Hour+30*time.Minute), nil)
	h.do(step{op: "wait", until: 2 * time.Hour})
	// Deal price at 47.5 h left: 30 % off.
	a, _ := h.do(step{op: "reserve", key: "d1", qty: 2, channel: pb.Channel_DEAL, until: 10 * time.Minute})
	r := a.(*pb.ReserveResponse)
	if r.GetReason() != pb.Reason_OK || r.GetUnitPrice() != 7000 || r.GetDiscountPercent() != 30 || r.GetOnHand() != 8 {
		t.Fatalf("got %+v, want OK, 7000, 30 %%, 8 free", r)
	}
	if got, want := r.GetHoldUntilUnixMs(), h.now.Add(10*time.Minute).UnixMilli(); got != want {
		t.Errorf("hold until: got %d, want %d", got, want)
	}
	// A day later d1 has lapsed and the price has fallen; a new hold gets
	// the price of the moment it was taken.
	h.do(step{op: "wait", until: 24 * time.Hour})
	h.do(step{op: "reserve", key: "d2", qty: 1, channel: pb.Channel_DEAL, until: 10 * time.Minute})
	c, _ := h.do(step{op: "commit", key: "d2"})
	if got := c.(*pb.CommitResponse).GetUnitPrice(); got != 5000 {
		t.Errorf("commit price: got %d, want 5000", got)
	}
	// A hold never outlives its lot.
	a, _ = h.do(step{op: "reserve", key: "d3", qty: 1, channel: pb.Channel_DEAL, until: 48 * time.Hour})
	if got, want := a.(*pb.ReserveResponse).GetHoldUntilUnixMs(), h.c.st.ExpiresAt.UnixMilli(); got != want {
		t.Errorf("hold past expiry: until %d, want the lot's expiry %d", got, want)
	}
	// Refusal says how many are free: 10, less d2's deduction and d3's hold.
	a, _ = h.do(step{op: "reserve", key: "d4", qty: 100, channel: pb.Channel_DEAL})
	if r := a.(*pb.ReserveResponse); r.GetReason() != pb.Reason_INSUFFICIENT_STOCK || r.GetOnHand() != 8 {
		t.Errorf("refusal: got %+v, want INSUFFICIENT_STOCK with 8 free", r)
	}
}

func TestCoreTimerFollowsEarliestHold(t *testing.T) {
	h := newHarness(t, testState(10, 30*24*time.Hour), nil)
	lotNext, _ := h.c.nextTransition()
	h.do(step{op: "reserve", key: "a", qty: 1, until: 15 * time.Minute})
	h.do(step{op: "reserve", key: "b", qty: 1, until: 5 * time.Minute})
	h.do(step{op: "reserve", key: "c", qty: 1, until: 10 * time.Minute})
	for _, want := range []struct {
		release string
		next    time.Duration
	}{{"", 5 * time.Minute}, {"b", 10 * time.Minute}, {"c", 15 * time.Minute}} {
		if want.release != "" {
			h.do(step{op: "release", key: want.release})
		}
		if got, _ := h.c.nextTransition(); !got.Equal(c0.Add(want.next)) {
			t.Errorf("after releasing %q: next %s, want %s", want.release, got, c0.Add(want.next))
		}
	}
	h.do(step{op: "commit", key: "a"})
	if got, _ := h.c.nextTransition(); !got.Equal(lotNext) {
		t.Errorf("without holds: next %s, want the lot's %s", got, lotNext)
	}
}

// A grain that starts with holds from its last activation releases those
// whose deadline passed, and keeps the others with their deadlines.
func TestCoreStartReleasesPastHolds(t *testing.T) {
	st := testState(10, 30*24*time.Hour)
	st.OnHand, st.Held = 5, 5
	ledger := []LedgerEntry{
		{Key: "old", Kind: Held, Quantity: 2, UnitPrice: 10000, HoldUntil: c0.Add(-time.Minute)},
		{Key: "new", Kind: Held, Quantity: 3, UnitPrice: 10000, HoldUntil: c0.Add(time.Minute)},
	}
	h := newHarness(t, st, ledger)
	if got, _ := h.c.nextTransition(); !got.Equal(c0.Add(-time.Minute)) {
		t.Fatalf("next: got %s, want the past deadline", got)
	}
	h.do(step{op: "wait", until: 0})
	if h.c.durable.OnHand != 7 || h.c.durable.Held != 3 {
		t.Fatalf("after start: on_hand %d held %d, want 7 and 3", h.c.durable.OnHand, h.c.durable.Held)
	}
	if e := h.commits[len(h.commits)-1].Entries; len(e) != 1 || e[0].Key != "old" || e[0].Kind != Lapsed {
		t.Fatalf("start commit entries: got %+v, want old LAPSED", e)
	}
	if a, _ := h.do(step{op: "commit", key: "new"}); reasonOf(a) != pb.Reason_OK {
		t.Fatalf("commit of the live hold: got %s", reasonOf(a))
	}
	if a, _ := h.do(step{op: "commit", key: "old"}); reasonOf(a) != pb.Reason_HOLD_EXPIRED {
		t.Fatalf("commit of the lapsed hold: got %s", reasonOf(a))
	}
}

// Answers wait for the commit that makes them durable, and a failed commit
// answers every waiting request with the failure.
func TestCoreAnswersWaitForTheirCommit(t *testing.T) {
	c := newCore(testState(10, 30*24*time.Hour), nil, domain.DefaultLadder())
	until := c0.Add(time.Minute).UnixMilli()
	if a := c.reserve(c0, &pb.ReserveRequest{OrderKey: "a", Quantity: 1, UntilUnixMs: until}, "A"); a != nil {
		t.Fatalf("answered before durable: %v", a)
	}
	first, _ := c.take()
	// A repeat while the first is in flight waits for the same commit.
	if a := c.reserve(c0, &pb.ReserveRequest{OrderKey: "a", Quantity: 1, UntilUnixMs: until}, "A2"); a != nil {
		t.Fatalf("repeat answered before durable: %v", a)
	}
	if a := c.reserve(c0, &pb.ReserveRequest{OrderKey: "b", Quantity: 1, UntilUnixMs: until}, "B"); a != nil {
		t.Fatalf("answered before durable: %v", a)
	}
	due, _ := c.completed(commitResult{commit: first}, pb.Reason_UNAVAILABLE)
	if len(due) != 2 || due[0].to != "A" || due[1].to != "A2" {
		t.Fatalf("due after first commit: %+v", due)
	}
	second, _ := c.take()
	due, failed := c.completed(commitResult{commit: second, err: errors.New("disk")}, pb.Reason_UNAVAILABLE)
	if !failed || len(due) != 1 || reasonOf(due[0].msg) != pb.Reason_UNAVAILABLE {
		t.Fatalf("failed commit: failed %v due %+v", failed, due)
	}
	if _, ok := due[0].msg.(*pb.ReserveResponse); !ok {
		t.Fatalf("failure answer type %T, want *ReserveResponse", due[0].msg)
	}
}

// With a partial ledger, a key the core does not know is asked about
// unless its order is younger than the loaded part; what MySQL answers is
// then known, a key it lacks included.
func TestNeedsLookup(t *testing.T) {
	st := testState(10, 30*24*time.Hour)
	from := c0.Add(-time.Hour)
	orderKey := func(at time.Time) string { return fmt.Sprintf("o%x%s-p3", at.UnixMilli(), "0123456789") }
	if got, ok := keyTime(orderKey(from)); !ok || got != from.UnixNano() {
		t.Errorf("keyTime = %d, %v; want %d", got, ok, from.UnixNano())
	}
	for _, k := range []string{"", "o", "order-1", "o12-p1", "ozz0123456789-p1", "o1a2b3c4d5e6f0123456789zz-p1", "x18f0000000000000000000"} {
		if _, ok := keyTime(k); ok {
			t.Errorf("keyTime(%q) read a time", k)
		}
	}
	st.LedgerFrom = from
	c := newCore(st, []LedgerEntry{{Key: "loaded", Kind: Deducted, Quantity: 1, UnitPrice: 10000}}, domain.DefaultLadder())
	for key, want := range map[string]bool{
		"loaded":                        false, // in memory
		"other":                         true,  // no time: ask
		orderKey(from.Add(-time.Hour)):  true,  // older than the window
		orderKey(from.Add(keySkew / 2)): true,  // within the clocks' skew
		orderKey(from.Add(keySkew)):     false, // younger: it would have been loaded
		"bad key":                       false, // refused as invalid, nothing to ask
	} {
		if got := c.needsLookup(key); got != want {
			t.Errorf("needsLookup(%q) = %v, want %v", key, got, want)
		}
	}
	c.learn("other", LedgerEntry{}, false)
	c.learn("old", LedgerEntry{Kind: Restored, Quantity: 2, UnitPrice: 9000}, true)
	if c.needsLookup("other") || c.needsLookup("old") {
		t.Error("a key MySQL answered for is asked about again")
	}
	if e := c.ledger["old"]; e == nil || e.kind != kindRestored || !e.durable || e.quantity != 2 {
		t.Errorf("learned entry %+v", e)
	}
	// A complete ledger never asks.
	st.LedgerFrom = time.Time{}
	if newCore(st, nil, domain.DefaultLadder()).needsLookup("other") {
		t.Error("a complete ledger asks MySQL")
	}
}
