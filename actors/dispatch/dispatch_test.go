package dispatch

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Every run scheduled runs exactly once, from many schedulers at once,
// and the goroutines kept idle never exceed the bound.
func TestEveryRunRunsOnce(t *testing.T) {
	p := New(4, 10)
	const schedulers, each = 16, 2000
	var ran atomic.Int64
	var wg sync.WaitGroup
	wg.Add(schedulers * each)
	for range schedulers {
		go func() {
			for range each {
				p.Schedule(func() {
					ran.Add(1)
					wg.Done()
				})
			}
		}()
	}
	wg.Wait()
	if got := ran.Load(); got != schedulers*each {
		t.Fatalf("ran %d, want %d", got, schedulers*each)
	}
	if p.Idle() > 4 {
		t.Fatalf("%d goroutines idle, bound 4", p.Idle())
	}
}

// A run is given to a goroutine that ran before: the pool does not start
// one per run.
func TestRunsReuseGoroutines(t *testing.T) {
	p := New(2, 10)
	done := make(chan struct{})
	p.Schedule(func() { done <- struct{}{} })
	<-done
	// The goroutine parks itself once its run returned.
	for deadline := time.Now().Add(5 * time.Second); p.Idle() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no goroutine became idle")
		}
		runtime.Gosched()
	}
	before := runtime.NumGoroutine()
	for range 100 {
		p.Schedule(func() { done <- struct{}{} })
		<-done
		for p.Idle() == 0 {
			runtime.Gosched()
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines %d after 100 runs, %d before: runs did not reuse the idle one", after, before)
	}
}

// Actors whose props use the pool process their messages in order.
func TestActorsRunOnThePool(t *testing.T) {
	sys := actor.NewActorSystem()
	p := New(8, 300)
	var mu sync.Mutex
	var got []int
	all := make(chan struct{})
	const n = 5000
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if v, ok := c.Message().(int); ok {
			mu.Lock()
			got = append(got, v)
			if len(got) == n {
				close(all)
			}
			mu.Unlock()
		}
	}, actor.WithDispatcher(p)))
	for i := range n {
		sys.Root.Send(pid, i)
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatal("messages not all processed")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		if v != i {
			t.Fatalf("message %d processed as %d: out of order", i, v)
		}
	}
}
