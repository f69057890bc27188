// Package periodic runs a job now and then every interval until it is
// closed: the outbox relay, the order sweeper, the lot sweeper and the
// readiness checks are each one Job.
package periodic

import (
	"context"
	"time"
)

// Job is a running periodic job. The job's context ends when Close
// begins, so a long run stops at its next call instead of holding the
// shutdown.
type Job struct {
	cancel context.CancelFunc
	ended  chan struct{}
}

// Start runs job at once and then every interval.
func Start(interval time.Duration, job func(context.Context)) *Job {
	return start(interval, job, true)
}

// StartLater runs job every interval, the first time after one interval
// (for a caller that has just run it itself).
func StartLater(interval time.Duration, job func(context.Context)) *Job {
	return start(interval, job, false)
}

func start(interval time.Duration, job func(context.Context), now bool) *Job {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Job{cancel: cancel, ended: make(chan struct{})}
	go func() {
		defer close(p.ended)
		t := time.NewTicker(interval)
		defer t.Stop()
		for run := now; ; run = true {
			if run {
				job(ctx)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Close stops the job and waits for its run to end, or for ctx.
func (p *Job) Close(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.cancel()
	select {
	case <-p.ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
