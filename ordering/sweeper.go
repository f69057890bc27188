package ordering

import (
	"context"
	"log/slog"
	"time"

	"shelflife/domain"
)

// Due lists the orders a sweep must look at.
type Due interface {
	// DueOrders lists payments waiting past their validity at now, and
	// sagas left mid-way since before stuckBefore.
	DueOrders(ctx context.Context, now, stuckBefore time.Time) ([]string, error)
}

// Resumer continues or expires one order's saga.
type Resumer interface {
	Resume(ctx context.Context, id string) (domain.Order, error)
}

// Sweeper resumes sagas left mid-way and expires unpaid orders. Run it as
// a periodic.Job.
type Sweeper struct {
	Store      Due
	Sagas      Resumer
	Now        func() time.Time
	StuckAfter time.Duration
	Log        *slog.Logger
}

// Sweep resumes or expires every due order; it reports how many.
func (s *Sweeper) Sweep(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	now := s.Now()
	ids, err := s.Store.DueOrders(ctx, now, now.Add(-s.StuckAfter))
	if err != nil {
		s.Log.Warn("order sweep", "error", err.Error())
		return 0
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		if _, err := s.Sagas.Resume(ctx, id); err != nil {
			s.Log.Warn("resume order", "order", id, "error", err.Error())
		}
	}
	return len(ids)
}
