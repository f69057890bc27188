package lot_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot"
	"shelflife/cluster/membertest"
)

// A crowd of callers on both members, each member's callers through one
// client, so that calls made while another is on its way are gathered
// into batches: exactly the stock is held, the rest refused, and the holds
// then committed or released through batches too; MySQL agrees.
func TestGatheredCallsNeverOversell(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 100, 30*24*time.Hour)
	ctx := ctxT(t)
	clients := []*lot.Client{lot.NewClient(f.members[0].Cluster), lot.NewClient(f.members[1].Cluster)}
	until := t0.Add(10 * time.Minute)

	var mu sync.Mutex
	reasons := map[pb.Reason]int{}
	var held []string
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("o%d-l%d", i, id)
			resp, err := clients[i%2].Reserve(ctx, id, key, 1, pb.Channel_ANY, until)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("reserve %s: %v", key, err)
				return
			}
			reasons[resp.Reason]++
			if resp.Reason == pb.Reason_OK {
				held = append(held, key)
			}
		}()
	}
	wg.Wait()
	if reasons[pb.Reason_OK] != 100 || reasons[pb.Reason_INSUFFICIENT_STOCK] != 900 {
		t.Fatalf("answers %v, want 100 OK and 900 INSUFFICIENT_STOCK", reasons)
	}
	batches := int64(0)
	for _, c := range clients {
		b, calls := c.Gathered()
		if b > 0 && calls < b {
			t.Errorf("%d batches carried %d calls", b, calls)
		}
		batches += b
	}
	if batches == 0 {
		t.Error("1,000 calls at once on one lot went without a single batch")
	}
	if r := f.checkConservation(t, id); r.held != 100 || r.onHand != 0 {
		t.Errorf("after the holds: %+v, want 100 held, none on hand", r)
	}

	// Half the holds committed, half released, all at once, each twice.
	for i, key := range held {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := clients[i%2]
				if i%2 == 0 {
					if resp, err := c.Commit(ctx, id, key); err != nil || resp.Reason != pb.Reason_OK || resp.Quantity != 1 {
						t.Errorf("commit %s: %v %v", key, resp, err)
					}
					return
				}
				if resp, err := c.Release(ctx, id, key); err != nil || resp.Reason != pb.Reason_OK {
					t.Errorf("release %s: %v %v", key, resp, err)
				}
			}()
		}
	}
	wg.Wait()
	if r := f.checkConservation(t, id); r.held != 0 || r.deducted != 50 || r.onHand != 50 {
		t.Errorf("after commits and releases: %+v, want 50 deducted, 50 on hand, none held", r)
	}
}

// A batch's requests are answered in their places, each as it would have
// been alone: a repeat as the first, a refusal without a write, a reserve
// after its key's release refused, an empty request refused.
func TestBatchAnswersEachRequestAsAlone(t *testing.T) {
	f := newFixture(t)
	id := f.newLot(t, 10, 30*24*time.Hour)
	until := t0.Add(10 * time.Minute).UnixMilli()
	g := pb.GetLotGrainClient(f.members[1].Cluster, strconv.FormatInt(id, 10))
	reserve := func(key string, q int64) *pb.LotOp {
		return &pb.LotOp{Op: &pb.LotOp_Reserve{Reserve: &pb.ReserveRequest{OrderKey: key, Quantity: q, UntilUnixMs: until}}}
	}
	ops := []*pb.LotOp{
		reserve("a", 3),
		reserve("a", 3),
		{Op: &pb.LotOp_Deduct{Deduct: &pb.DeductRequest{OrderKey: "b", Quantity: 2}}},
		reserve("big", 6),
		{Op: &pb.LotOp_Commit{Commit: &pb.CommitRequest{OrderKey: "a"}}},
		{Op: &pb.LotOp_Release{Release: &pb.LotReleaseRequest{OrderKey: "c"}}},
		reserve("c", 1),
		{Op: &pb.LotOp_Commit{Commit: &pb.CommitRequest{OrderKey: "nobody"}}},
		{},
	}
	resp, err := g.Batch(&pb.LotBatchRequest{Ops: ops}, cluster.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	res := resp.GetResults()
	if len(res) != len(ops) {
		t.Fatalf("batch answered %d results, want %d", len(res), len(ops))
	}
	check := func(i int, got, want pb.Reason) {
		t.Helper()
		if got != want {
			t.Errorf("request %d: %v, want %v", i, got, want)
		}
	}
	check(0, res[0].GetReserve().GetReason(), pb.Reason_OK)
	if res[0].GetReserve().GetQuantity() != 3 || res[1].GetReserve().GetQuantity() != 3 {
		t.Errorf("the hold and its repeat: %v, %v; want 3 units each", res[0].GetReserve(), res[1].GetReserve())
	}
	check(1, res[1].GetReserve().GetReason(), pb.Reason_OK)
	check(2, res[2].GetDeduct().GetReason(), pb.Reason_OK)
	check(3, res[3].GetReserve().GetReason(), pb.Reason_INSUFFICIENT_STOCK)
	check(4, res[4].GetCommit().GetReason(), pb.Reason_OK)
	check(5, res[5].GetRelease().GetReason(), pb.Reason_OK)
	check(6, res[6].GetReserve().GetReason(), pb.Reason_ALREADY_RESTORED)
	check(7, res[7].GetCommit().GetReason(), pb.Reason_NO_HOLD)
	check(8, res[8].GetDeduct().GetReason(), pb.Reason_INVALID_ARGUMENT)
	if r := f.checkConservation(t, id); r.deducted != 5 || r.held != 0 || r.onHand != 5 {
		t.Errorf("after the batch: %+v, want 5 deducted (3 committed, 2 deducted), none held, 5 on hand", r)
	}
	// The same batch again changes nothing and answers the same.
	again, err := g.Batch(&pb.LotBatchRequest{Ops: ops}, cluster.WithTimeout(10*time.Second))
	if err != nil || len(again.GetResults()) != len(ops) {
		t.Fatalf("the batch again: %v, %v", again, err)
	}
	for i := range 7 {
		if a, b := again.GetResults()[i], res[i]; fmt.Sprint(reasonOf(a)) != fmt.Sprint(reasonOf(b)) {
			t.Errorf("request %d again: %v, first %v", i, reasonOf(a), reasonOf(b))
		}
	}
	if r := f.checkConservation(t, id); r.deducted != 5 || r.onHand != 5 {
		t.Errorf("after the batch again: %+v, want it unchanged", r)
	}
}

func reasonOf(r *pb.LotOpResult) pb.Reason {
	switch {
	case r.GetDeduct() != nil:
		return r.GetDeduct().GetReason()
	case r.GetReserve() != nil:
		return r.GetReserve().GetReason()
	case r.GetCommit() != nil:
		return r.GetCommit().GetReason()
	case r.GetRelease() != nil:
		return r.GetRelease().GetReason()
	case r.GetRestore() != nil:
		return r.GetRestore().GetReason()
	}
	return -1
}

// lookupGate holds the first ledger lookup at its gate.
type lookupGate struct {
	lot.Store
	gate *membertest.Gate
}

func (s *lookupGate) LedgerEntry(ctx context.Context, lotID int64, key string) (lot.LedgerEntry, bool, error) {
	if err := s.gate.Pass(ctx); err != nil {
		return lot.LedgerEntry{}, false, err
	}
	return s.Store.LedgerEntry(ctx, lotID, key)
}

// A batch does not wait past its patience (1 s) for its slowest request:
// here a key the grain must look up in MySQL, whose lookup hangs. The
// other request's answer comes in time, the waiting one is answered
// UNAVAILABLE, and asked again once the lookup ends it takes its stock
// once.
func TestABatchDoesNotWaitForItsSlowestRequest(t *testing.T) {
	gate := membertest.NewGate(t)
	f := newFixtureWith(t, func(d *lot.Deps) { d.Store = &lookupGate{Store: d.Store, gate: gate} })
	id := f.newLot(t, 10, 30*24*time.Hour)
	// A lot older than the ledger window loads only its last hour, so a
	// key not dated within it ("unknown-key") must be looked up.
	if _, err := f.store.DB().Exec("UPDATE lots SET created_at = ? WHERE id = ?", t0.Add(-72*time.Hour), id); err != nil {
		t.Fatal(err)
	}
	recent := fmt.Sprintf("o%x%010x-p1", t0.UnixMilli(), 1)
	ops := []*pb.LotOp{
		{Op: &pb.LotOp_Deduct{Deduct: &pb.DeductRequest{OrderKey: recent, Quantity: 2}}},
		{Op: &pb.LotOp_Deduct{Deduct: &pb.DeductRequest{OrderKey: "unknown-key", Quantity: 3}}},
	}
	g := pb.GetLotGrainClient(f.members[1].Cluster, strconv.FormatInt(id, 10))
	start := time.Now()
	resp, err := g.Batch(&pb.LotBatchRequest{Ops: ops}, cluster.WithTimeout(10*time.Second))
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-gate.Entered:
	default:
		t.Fatal("no ledger lookup was made: the test does not test the batch's patience")
	}
	res := resp.GetResults()
	if len(res) != 2 || res[0].GetDeduct().GetReason() != pb.Reason_OK || res[1].GetDeduct().GetReason() != pb.Reason_UNAVAILABLE {
		t.Fatalf("batch = %v; want OK, then UNAVAILABLE for the request still waiting", res)
	}
	if took > 5*time.Second {
		t.Errorf("the batch took %s, beyond its patience and the lookup's own timeout", took)
	}
	gate.Open()
	d, err := f.client.Deduct(ctxT(t), id, "unknown-key", 3, pb.Channel_ANY)
	if err != nil || d.Reason != pb.Reason_OK || d.Quantity != 3 {
		t.Fatalf("the waiting request asked again = %v, %v", d, err)
	}
	if r := f.checkConservation(t, id); r.deducted != 5 || r.onHand != 5 {
		t.Errorf("lot %+v; want 5 deducted, 5 on hand", r)
	}
}

// A batch waiting for a slow commit is not cut short by its patience: its
// requests are answered together when the commit ends (asked alone, they
// would only wait for the same commit).
func TestABatchWaitsForItsCommit(t *testing.T) {
	gate := membertest.NewGate(t)
	f := newFixtureWith(t, func(d *lot.Deps) { d.Store = &gatedStore{Store: d.Store, gate: gate} })
	id := f.newLot(t, 10, 30*24*time.Hour)
	go func() {
		<-gate.Entered
		time.Sleep(1500 * time.Millisecond) // past the batch's patience
		gate.Open()
	}()
	g := pb.GetLotGrainClient(f.members[1].Cluster, strconv.FormatInt(id, 10))
	ops := []*pb.LotOp{
		{Op: &pb.LotOp_Deduct{Deduct: &pb.DeductRequest{OrderKey: "a", Quantity: 2}}},
		{Op: &pb.LotOp_Deduct{Deduct: &pb.DeductRequest{OrderKey: "b", Quantity: 3}}},
	}
	resp, err := g.Batch(&pb.LotBatchRequest{Ops: ops}, cluster.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.GetResults() {
		if r.GetDeduct().GetReason() != pb.Reason_OK {
			t.Errorf("request %d = %v; want OK once the slow commit ended", i, r)
		}
	}
	if r := f.checkConservation(t, id); r.deducted != 5 {
		t.Errorf("lot %+v; want 5 deducted", r)
	}
}

// A partial batch is answered at once with what needs no commit (here a
// refusal and an invalid request), while its hold still waits for the
// commit held at the gate; the hold asked again is answered when the
// commit lands, and taken once.
func TestAPartialBatchAnswersWhatNeedsNoCommit(t *testing.T) {
	gate := membertest.NewGate(t)
	f := newFixtureWith(t, func(d *lot.Deps) { d.Store = &gatedStore{Store: d.Store, gate: gate} })
	id := f.newLot(t, 10, 30*24*time.Hour)
	until := t0.Add(10 * time.Minute).UnixMilli()
	reserve := func(key string, q int64) *pb.LotOp {
		return &pb.LotOp{Op: &pb.LotOp_Reserve{Reserve: &pb.ReserveRequest{OrderKey: key, Quantity: q, UntilUnixMs: until}}}
	}
	g := pb.GetLotGrainClient(f.members[1].Cluster, strconv.FormatInt(id, 10))
	ops := []*pb.LotOp{reserve("a", 6), reserve("b", 6), {}}
	resp, err := g.Batch(&pb.LotBatchRequest{Ops: ops, Partial: true}, cluster.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatalf("the partial batch while its commit is held: %v", err)
	}
	select {
	case <-gate.Entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the hold started no commit: the test does not test a partial answer")
	}
	res := resp.GetResults()
	if len(res) != 3 || res[0].GetResult() != nil || res[1].GetReserve().GetReason() != pb.Reason_INSUFFICIENT_STOCK ||
		res[2].GetDeduct().GetReason() != pb.Reason_INVALID_ARGUMENT {
		t.Fatalf("partial batch = %v; want the hold left empty, the refusal and the invalid request answered", res)
	}
	again := make(chan *pb.LotBatchResponse, 1)
	go func() {
		r, err := g.Batch(&pb.LotBatchRequest{Ops: ops[:1]}, cluster.WithTimeout(10*time.Second))
		if err != nil {
			t.Error(err)
		}
		again <- r
	}()
	select {
	case r := <-again:
		t.Fatalf("the hold asked again was answered before its commit: %v", r)
	case <-time.After(200 * time.Millisecond):
	}
	gate.Open()
	if r := (<-again).GetResults(); len(r) != 1 || r[0].GetReserve().GetReason() != pb.Reason_OK || r[0].GetReserve().GetQuantity() != 6 {
		t.Fatalf("the hold asked again = %v; want OK, 6 units", r)
	}
	if r := f.checkConservation(t, id); r.held != 6 || r.onHand != 4 {
		t.Errorf("lot %+v; want 6 held once, 4 on hand", r)
	}
}

// commitGates holds the lot's n-th commit at gates[n-1].
type commitGates struct {
	lot.Store
	n     atomic.Int64
	gates []*membertest.Gate
}

func (s *commitGates) CommitLot(ctx context.Context, c lot.Commit) error {
	if n := int(s.n.Add(1)); n <= len(s.gates) {
		if err := s.gates[n-1].Pass(ctx); err != nil {
			return err
		}
	}
	return s.Store.CommitLot(ctx, c)
}

// Through the client, a shopper refused for stock in a batch is answered
// while the hold that took the last units in the same batch still waits
// for its commit; the hold is answered when that commit lands.
func TestARefusalDoesNotWaitForAnotherHoldsCommit(t *testing.T) {
	first, second := membertest.NewGate(t), membertest.NewGate(t)
	f := newFixtureWith(t, func(d *lot.Deps) { d.Store = &commitGates{Store: d.Store, gates: []*membertest.Gate{first, second}} })
	id := f.newLot(t, 10, 30*24*time.Hour)
	until := t0.Add(10 * time.Minute)
	ctx := ctxT(t)
	// A deduction alone whose commit is held keeps the lane (only a hold
	// alone frees it early), so the two holds asked meanwhile go together
	// in the next batch.
	go func() {
		if r, err := f.client.Deduct(ctx, id, "x", 1, pb.Channel_ANY); err != nil || r.GetReason() != pb.Reason_OK {
			t.Errorf("the deduction = %v, %v", r, err)
		}
	}()
	<-first.Entered
	type answer struct {
		key string
		r   *pb.ReserveResponse
	}
	answers := make(chan answer, 2)
	// Within 1.5 s: a batch answered whole would answer the refusal only
	// when the held commit lands, or when the batch's attempt (2 s) gave
	// up.
	soon, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	for _, key := range []string{"w1", "w2"} {
		go func() {
			r, err := f.client.Reserve(soon, id, key, 9, pb.Channel_ANY, until)
			if err != nil {
				t.Error(err)
			}
			answers <- answer{key, r}
		}()
	}
	time.Sleep(100 * time.Millisecond) // both queue behind the held call
	first.Open()
	<-second.Entered
	refused := <-answers
	if refused.r.GetReason() != pb.Reason_INSUFFICIENT_STOCK {
		t.Fatalf("first answer while the winner's commit is held: %s %v; want INSUFFICIENT_STOCK", refused.key, refused.r)
	}
	select {
	case a := <-answers:
		t.Fatalf("the winner %s was answered before its commit: %v", a.key, a.r)
	case <-time.After(200 * time.Millisecond):
	}
	second.Open()
	if won := <-answers; won.r.GetReason() != pb.Reason_OK || won.r.GetQuantity() != 9 {
		t.Fatalf("the winner %s = %v; want OK, 9 units", won.key, won.r)
	}
	if b, _ := f.client.Gathered(); b == 0 {
		t.Error("no batch was sent: the test does not test a batch")
	}
	if r := f.checkConservation(t, id); r.held != 9 || r.deducted != 1 || r.onHand != 0 {
		t.Errorf("lot %+v; want 9 held, 1 deducted, none on hand", r)
	}
}

// A shopper refused for stock is answered while the hold that went alone
// and took the last units still waits for its commit: that hold does not
// keep the lot's lane until its commit lands.
func TestARefusalDoesNotWaitForAHoldAlone(t *testing.T) {
	gate := membertest.NewGate(t)
	f := newFixtureWith(t, func(d *lot.Deps) { d.Store = &gatedStore{Store: d.Store, gate: gate} })
	id := f.newLot(t, 10, 30*24*time.Hour)
	until := t0.Add(10 * time.Minute)
	ctx := ctxT(t)
	held := make(chan *pb.ReserveResponse, 1)
	go func() {
		r, err := f.client.Reserve(ctx, id, "winner", 10, pb.Channel_ANY, until)
		if err != nil {
			t.Error(err)
		}
		held <- r
	}()
	<-gate.Entered
	// Within a second: waiting behind the winner, the late shopper would
	// be answered only when the winner's attempt (2 s) gave up.
	soon, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	r, err := f.client.Reserve(soon, id, "late", 1, pb.Channel_ANY, until)
	if err != nil || r.GetReason() != pb.Reason_INSUFFICIENT_STOCK {
		t.Fatalf("the late shopper = %v, %v; want INSUFFICIENT_STOCK", r, err)
	}
	select {
	case r := <-held:
		t.Fatalf("the winner was answered before its commit: %v", r)
	default:
	}
	gate.Open()
	if r := <-held; r.GetReason() != pb.Reason_OK || r.GetQuantity() != 10 {
		t.Fatalf("the winner = %v; want OK, 10 units", r)
	}
	if r := f.checkConservation(t, id); r.held != 10 || r.onHand != 0 {
		t.Errorf("lot %+v; want 10 held, none on hand", r)
	}
}

// A restore gathered in one batch with a hold says how many units came
// back: the hold goes partial, the restore goes whole (asked again while
// its commit is pending, it would find the units back already and say 0).
func TestARestoreBatchedWithAHoldSaysWhatCameBack(t *testing.T) {
	first, second := membertest.NewGate(t), membertest.NewGate(t)
	first.Open()
	f := newFixtureWith(t, func(d *lot.Deps) { d.Store = &commitGates{Store: d.Store, gates: []*membertest.Gate{first, second}} })
	id := f.newLot(t, 10, 30*24*time.Hour)
	ctx := ctxT(t)
	if r, err := f.client.Deduct(ctx, id, "d", 3, pb.Channel_ANY); err != nil || r.GetReason() != pb.Reason_OK {
		t.Fatalf("deduct = %v, %v", r, err)
	}
	// A deduction alone whose commit is held keeps the lane, so the
	// restore and the hold asked meanwhile go together.
	go func() {
		if r, err := f.client.Deduct(ctx, id, "x", 1, pb.Channel_ANY); err != nil || r.GetReason() != pb.Reason_OK {
			t.Errorf("the deduction holding the lane = %v, %v", r, err)
		}
	}()
	<-second.Entered
	restored := make(chan *pb.RestoreResponse, 1)
	go func() {
		r, err := f.client.Restore(ctx, id, "d")
		if err != nil {
			t.Error(err)
		}
		restored <- r
	}()
	held := make(chan *pb.ReserveResponse, 1)
	go func() {
		r, err := f.client.Reserve(ctx, id, "r", 1, pb.Channel_ANY, t0.Add(10*time.Minute))
		if err != nil {
			t.Error(err)
		}
		held <- r
	}()
	time.Sleep(100 * time.Millisecond) // both queue behind the held deduction
	second.Open()
	if r := <-restored; r.GetReason() != pb.Reason_OK || r.GetRestored() != 3 {
		t.Errorf("the restore = %v; want OK, 3 units back", r)
	}
	if r := <-held; r.GetReason() != pb.Reason_OK || r.GetQuantity() != 1 {
		t.Errorf("the hold = %v; want OK, 1 unit", r)
	}
	if b, calls := f.client.Gathered(); b == 0 || calls < 2 {
		t.Errorf("%d batches with %d calls: the restore and the hold did not go together", b, calls)
	}
	if r := f.checkConservation(t, id); r.deducted != 4 || r.restored != 3 || r.held != 1 {
		t.Errorf("lot %+v; want 4 deducted, 3 restored, 1 held", r)
	}
}
