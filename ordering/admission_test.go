package ordering

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"shelflife/domain"
)

func TestAdmissionBoundsConcurrentPlacements(t *testing.T) {
	a := newAdmission(3)
	var in, most atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.enter(context.Background()); err != nil {
				t.Error(err)
				return
			}
			n := in.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			in.Add(-1)
			a.leave()
		}()
	}
	wg.Wait()
	if most.Load() != 3 {
		t.Errorf("at most %d placements at once, want 3", most.Load())
	}
}

func TestAdmissionGivesUpAtTheDeadline(t *testing.T) {
	a := newAdmission(1)
	if err := a.enter(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := a.enter(ctx); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("a full admission answered %v, want unavailable", err)
	}
	a.leave()
	if err := a.enter(context.Background()); err != nil {
		t.Fatalf("the freed place was not given: %v", err)
	}
}

func TestNoAdmissionAdmitsEveryone(t *testing.T) {
	a := newAdmission(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100 {
		if err := a.enter(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a.leave()
}
