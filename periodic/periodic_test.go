package periodic_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"shelflife/periodic"
)

// A periodic job in the middle of a long call ends when close begins: its
// context is cancelled, so close does not wait for the call's own timeout.
func TestPeriodicCloseCancelsTheRunningJob(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	var sawCancel bool
	p := periodic.Start(time.Hour, func(ctx context.Context) {
		once.Do(func() { close(started) })
		select {
		case <-ctx.Done():
			sawCancel = true
		case <-time.After(time.Minute):
		}
	})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if !sawCancel {
		t.Error("the running job's context was not cancelled by close")
	}
}

// close gives up at its own deadline when the job ignores its context.
func TestPeriodicCloseStopsWaitingAtItsDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	var once sync.Once
	p := periodic.Start(time.Hour, func(context.Context) {
		once.Do(func() { close(started) })
		<-release
	})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("close of a stuck job: %v, want the deadline", err)
	}
}

// StartLater waits one interval before the first run; Start does not.
func TestStartLaterWaitsOneInterval(t *testing.T) {
	ran := make(chan string, 4)
	now := periodic.Start(time.Hour, func(context.Context) { ran <- "start" })
	later := periodic.StartLater(time.Hour, func(context.Context) { ran <- "later" })
	if got := <-ran; got != "start" {
		t.Errorf("first run came from %s, want start", got)
	}
	for _, j := range []*periodic.Job{now, later} {
		if err := j.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	close(ran)
	for got := range ran {
		t.Errorf("%s ran again (an hour has not passed)", got)
	}
}
