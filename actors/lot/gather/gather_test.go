package gather

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// sender records the batches it is given and answers each op doubled,
// failing a batch when fail says so.
type sender struct {
	mu      sync.Mutex
	batches [][]int
	fail    bool
}

func (s *sender) send(_ string, ops []int, answer func(int, int), _ func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, slices.Clone(ops))
	if s.fail {
		return
	}
	for i, op := range ops {
		answer(i, 2*op)
	}
}

func (s *sender) sent() [][]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// holdAlone starts a call that runs alone and blocks until release is
// closed; it returns once the call is running.
func holdAlone(t *testing.T, g *Gatherer[string, int, int], key string, release chan struct{}) chan Outcome {
	t.Helper()
	running, out := make(chan struct{}), make(chan Outcome, 1)
	go func() {
		_, how := g.Do(context.Background(), key, 0, func(func()) { close(running); <-release })
		out <- how
	}()
	<-running
	return out
}

// waitQueued waits until n calls wait in key's lane.
func waitQueued(t *testing.T, g *Gatherer[string, int, int], key string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		v, ok := g.lanes.Load(key)
		if ok {
			l := v.(*lane[int, int])
			l.mu.Lock()
			queued := len(l.queue)
			l.mu.Unlock()
			if queued >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls never queued for %s", n, key)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestALoneCallRunsAloneAndLeavesNoLane(t *testing.T) {
	s := &sender{}
	g := New(8, s.send)
	ran := false
	if _, how := g.Do(t.Context(), "lot", 1, func(func()) { ran = true }); how != Alone || !ran {
		t.Fatalf("a lone call: %v, ran %v; want Alone", how, ran)
	}
	if len(s.sent()) != 0 {
		t.Errorf("batches %v for a lone call", s.sent())
	}
	if _, ok := g.lanes.Load("lot"); ok {
		t.Error("an idle lane is kept")
	}
}

// Calls made while one is on its way wait, then go together, each
// answered with its own result; calls for another key are not held up.
func TestCallsMadeMeanwhileGoTogether(t *testing.T) {
	s := &sender{}
	g := New(8, s.send)
	release := make(chan struct{})
	first := holdAlone(t, g, "lot", release)

	if _, how := g.Do(t.Context(), "other", 9, func(func()) {}); how != Alone {
		t.Errorf("a call for another key: %v, want Alone", how)
	}
	var wg sync.WaitGroup
	got := make([]int, 5)
	hows := make([]Outcome, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], hows[i] = g.Do(t.Context(), "lot", i+1, func(func()) { t.Error("a queued call ran alone") })
		}()
	}
	waitQueued(t, g, "lot", 5)
	close(release)
	wg.Wait()
	if how := <-first; how != Alone {
		t.Errorf("the first call: %v, want Alone", how)
	}
	for i := range 5 {
		if hows[i] != Answered || got[i] != 2*(i+1) {
			t.Errorf("call %d: %v %d, want Answered %d", i+1, hows[i], got[i], 2*(i+1))
		}
	}
	b := s.sent()
	if len(b) != 1 || len(b[0]) != 5 {
		t.Errorf("batches %v, want the five calls in one", b)
	}
	if batches, calls := g.Gathered(); batches != 1 || calls != 5 {
		t.Errorf("gathered %d batches of %d calls, want 1 of 5", batches, calls)
	}
}

// A batch holds at most max calls; the rest go in the next.
func TestBatchesAreBounded(t *testing.T) {
	s := &sender{}
	g := New(3, s.send)
	release := make(chan struct{})
	holdAlone(t, g, "lot", release)
	var wg sync.WaitGroup
	for i := range 7 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, how := g.Do(t.Context(), "lot", i, func(func()) {}); how != Answered || v != 2*i {
				t.Errorf("call %d: %v %d", i, how, v)
			}
		}()
	}
	waitQueued(t, g, "lot", 7)
	close(release)
	wg.Wait()
	var sizes []int
	for _, b := range s.sent() {
		sizes = append(sizes, len(b))
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Errorf("batch sizes %v, want 3, 3, 1", sizes)
	}
}

// A failed batch leaves every call in it unanswered (the caller then goes
// alone), and the lane goes on.
func TestAFailedBatchAnswersNobody(t *testing.T) {
	s := &sender{fail: true}
	g := New(8, s.send)
	release := make(chan struct{})
	holdAlone(t, g, "lot", release)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, how := g.Do(t.Context(), "lot", i, func(func()) {}); how != Unanswered {
				t.Errorf("call %d in a failed batch: %v, want Unanswered", i, how)
			}
		}()
	}
	waitQueued(t, g, "lot", 3)
	close(release)
	wg.Wait()
	if _, how := g.Do(t.Context(), "lot", 1, func(func()) {}); how != Alone {
		t.Errorf("after the failed batch: %v, want Alone", how)
	}
}

// A caller whose context ends while it waits leaves at once, and its call
// is not sent.
func TestAWaitingCallerLeavesWithItsContext(t *testing.T) {
	s := &sender{}
	g := New(8, s.send)
	release := make(chan struct{})
	holdAlone(t, g, "lot", release)
	ctx, cancel := context.WithCancel(t.Context())
	left := make(chan Outcome)
	go func() {
		_, how := g.Do(ctx, "lot", 41, func(func()) {})
		left <- how
	}()
	kept := make(chan int)
	go func() {
		v, _ := g.Do(t.Context(), "lot", 42, func(func()) {})
		kept <- v
	}()
	waitQueued(t, g, "lot", 2)
	cancel()
	if how := <-left; how != Unanswered {
		t.Errorf("the caller that left: %v, want Unanswered", how)
	}
	close(release)
	if v := <-kept; v != 84 {
		t.Errorf("the caller that stayed: %d, want 84", v)
	}
	if b := s.sent(); len(b) != 1 || !slices.Equal(b[0], []int{42}) {
		t.Errorf("batches %v, want only the call that stayed", b)
	}
}

// A call that panics while it runs alone leaves the lane free.
func TestAPanicAloneLeavesTheLaneFree(t *testing.T) {
	g := New(8, (&sender{}).send)
	func() {
		defer func() { _ = recover() }()
		g.Do(t.Context(), "lot", 1, func(func()) { panic("boom") })
	}()
	ran := false
	if _, how := g.Do(t.Context(), "lot", 2, func(func()) { ran = true }); how != Alone || !ran {
		t.Errorf("the next call: %v, ran %v; want Alone", how, ran)
	}
}

// A batch that frees its lane before its last answer: its callers with an
// answer have it at once, the lane sends the next batch meanwhile, and the
// rest are answered when the batch has their results. An op the batch
// never answers goes Unanswered.
func TestAFreedLaneGoesOnWhileItsBatchWaits(t *testing.T) {
	var mu sync.Mutex
	var batches [][]int
	later := make(chan struct{})
	g := New(8, func(_ string, ops []int, answer func(int, int), free func()) {
		mu.Lock()
		batches = append(batches, slices.Clone(ops))
		mu.Unlock()
		// Even ops are answered at once, odd ones after later closes;
		// op 99 never.
		var rest []int
		for i, op := range ops {
			if op%2 == 0 {
				answer(i, 2*op)
			} else {
				rest = append(rest, i)
			}
		}
		free()
		if len(rest) == 0 {
			return
		}
		<-later
		for _, i := range rest {
			if ops[i] != 99 {
				answer(i, 2*ops[i])
			}
		}
	})
	release := make(chan struct{})
	holdAlone(t, g, "lot", release)
	type outcome struct {
		op, v int
		how   Outcome
	}
	done := make(chan outcome, 8)
	do := func(op int) {
		go func() {
			v, how := g.Do(t.Context(), "lot", op, func(func()) { t.Errorf("op %d ran alone", op) })
			done <- outcome{op, v, how}
		}()
	}
	for _, op := range []int{1, 2, 99, 4} {
		do(op)
	}
	waitQueued(t, g, "lot", 4)
	close(release)
	got := map[int]outcome{}
	for range 2 {
		o := <-done
		got[o.op] = o
	}
	if got[2] != (outcome{2, 4, Answered}) || got[4] != (outcome{4, 8, Answered}) {
		t.Fatalf("answered before the batch's rest: %v; want ops 2 and 4, doubled", got)
	}
	// The first batch still waits for its rest, and the lane is not
	// taken: a call made now runs alone, and calls queued behind it go in
	// the next batch.
	if _, how := g.Do(t.Context(), "lot", 5, func(func()) {}); how != Alone {
		t.Fatalf("a call while the first batch waits: %v, want Alone", how)
	}
	release = make(chan struct{})
	holdAlone(t, g, "lot", release)
	do(6)
	waitQueued(t, g, "lot", 1)
	close(release)
	if o := <-done; o != (outcome{6, 12, Answered}) {
		t.Fatalf("the call queued after the lane was freed: %+v; want op 6 answered while the first batch waits", o)
	}
	close(later)
	for range 2 {
		o := <-done
		got[o.op] = o
	}
	if got[1] != (outcome{1, 2, Answered}) {
		t.Errorf("the op answered later: %+v", got[1])
	}
	if got[99].how != Unanswered {
		t.Errorf("the op never answered: %+v, want Unanswered", got[99])
	}
	mu.Lock()
	defer mu.Unlock()
	if len(batches) != 2 || !slices.Equal(batches[1], []int{6}) {
		t.Errorf("batches %v; want the four, then op 6 alone in the next", batches)
	}
}

// A call alone that frees the lane before it ends: what queued behind it
// is sent at once, while it still runs.
func TestAFreedAloneCallLetsTheQueueGo(t *testing.T) {
	s := &sender{}
	g := New(8, s.send)
	freeNow, finish := make(chan struct{}), make(chan struct{})
	running := make(chan struct{})
	alone := make(chan Outcome, 1)
	go func() {
		_, how := g.Do(t.Context(), "lot", 0, func(free func()) {
			close(running)
			<-freeNow
			free()
			<-finish
		})
		alone <- how
	}()
	<-running
	queued := make(chan int, 1)
	go func() {
		v, _ := g.Do(t.Context(), "lot", 3, func(func()) { t.Error("the queued call ran alone") })
		queued <- v
	}()
	waitQueued(t, g, "lot", 1)
	close(freeNow)
	if v := <-queued; v != 6 {
		t.Fatalf("the queued call: %d, want 6, answered while the call alone still runs", v)
	}
	close(finish)
	if how := <-alone; how != Alone {
		t.Errorf("the call alone: %v", how)
	}
}
