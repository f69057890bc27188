// Package inventory serves the admin's lot endpoints (receiving a lot,
// listing lots, the waste report) and sweeps the lots whose expiry
// transition came while no grain held them. A lot with a grain on this
// node moves by the grain's own timer; the others the sweep moves itself,
// a batch of lots per MySQL transaction (set-based), so that 100,000 lots
// reaching their moment in the same minute cost a few hundred
// transactions on one or two connections instead of 100,000 grain
// activations competing with checkouts.
package inventory

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"shelflife/domain"
)

// Store is what inventory needs of MySQL.
type Store interface {
	CreateLot(ctx context.Context, l domain.Lot, now time.Time) (domain.Lot, error)
	Lots(ctx context.Context, f domain.LotFilter) ([]domain.Lot, error)
	WasteReport(ctx context.Context, from, to time.Time) ([]domain.WasteRow, error)
	// DueLots lists up to limit lots whose transition is past at now but
	// not recorded, soonest first.
	DueLots(ctx context.Context, now time.Time, limit int) ([]int64, error)
	// AdvanceLots records the transitions due at now of the lots ids in
	// one transaction, skipping lots already moved, and returns the
	// changes it made.
	// With evaluate, a lot that closes soon is marked due for its first
	// adaptive markdown evaluation.
	AdvanceLots(ctx context.Context, ids []int64, now time.Time, evaluate bool) ([]domain.LotEvent, error)
	// MarkdownDueLots lists up to limit closing-soon lots whose markdown
	// evaluation is due at now.
	MarkdownDueLots(ctx context.Context, now time.Time, limit int) ([]int64, error)
}

// Lots wakes lot grains.
type Lots interface {
	Wake(ctx context.Context, lotID int64) error
}

// Local tells which lots have a grain on this node (lot.Active).
type Local interface {
	Has(id int64) bool
}

// Publisher hears every lot change (events.StockSink).
type Publisher interface {
	LotChanged(domain.LotEvent)
	// LotsChanged hears the changes of a sweep's batch at once.
	LotsChanged([]domain.LotEvent)
}

// Service serves the admin's lot endpoints and sweeps due lots.
type Service struct {
	Store     Store
	Risk      RiskStore
	Grains    Lots
	Publisher Publisher
	Now       func() time.Time
	Log       *slog.Logger
	// Active lists the lots whose grain is on this node; nil is none.
	Active Local
	// SweepBatch is the lots per transaction (default 500), SweepWorkers
	// the transactions at once (default 2): the sweep never takes more
	// MySQL connections than that, so checkouts keep the rest of the pool.
	SweepBatch   int
	SweepWorkers int
	// Adaptive is the adaptive markdown: a lot the sweep moves to closing
	// soon is due for its first evaluation, which its grain makes.
	Adaptive bool

	risk riskRuns
}

// sweepPage is how many due lots the sweep reads at a time.
const sweepPage = 5000

// Markdown evaluations need the lot's grain (its sell rate): the sweep
// wakes at most markdownPage of those due per run, markdownWakers at once,
// so that a storm of lots closing soon is evaluated over a few runs rather
// than activating them all at once.
const (
	markdownPage   = 500
	markdownWakers = 4
)

// ReceiveLot stores the lot, shows it, and wakes its grain so that its
// expiry timers run.
func (s *Service) ReceiveLot(ctx context.Context, l domain.Lot) (domain.Lot, error) {
	// CreateLot tells an unknown product from an unknown warehouse.
	created, err := s.Store.CreateLot(ctx, l, s.Now())
	if err != nil {
		return domain.Lot{}, err
	}
	s.Publisher.LotChanged(domain.LotEvent{LotID: created.ID, ProductID: created.ProductID, WarehouseID: created.WarehouseID,
		ExpiresAt: created.ExpiresAt, OnHand: created.OnHand, State: created.State, At: s.Now()})
	go s.wake(created.ID)
	return created, nil
}

func (s *Service) wake(id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Grains.Wake(ctx, id); err != nil {
		s.Log.Warn("wake lot", "lot", id, "error", err.Error())
	}
}

// Lots lists lots for admins.
func (s *Service) Lots(ctx context.Context, f domain.LotFilter) ([]domain.Lot, error) {
	return s.Store.Lots(ctx, f)
}

// WasteReport sums write-offs.
func (s *Service) WasteReport(ctx context.Context, from, to time.Time) ([]domain.WasteRow, error) {
	return s.Store.WasteReport(ctx, from, to)
}

// Sweep moves every due lot that has no grain on this node, until ctx
// ends or a minute passes, and reports how many it moved. A lot whose grain
// lives on this node is left to the grain's timer; a lot whose grain lives
// on another node is moved here and that grain, fenced out, reloads at its
// next write. Run it as a periodic.Job.
func (s *Service) Sweep(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	started := time.Now()
	moved, local := 0, 0
	for ctx.Err() == nil {
		now := s.Now()
		ids, err := s.Store.DueLots(ctx, now, sweepPage)
		if err != nil {
			s.Log.Warn("sweep", "error", err.Error())
			break
		}
		mine := ids[:0:0]
		for _, id := range ids {
			if s.Active != nil && s.Active.Has(id) {
				local++
				continue
			}
			mine = append(mine, id)
		}
		n := s.advance(ctx, mine, now)
		moved += n
		// A short page was the last; a page that moved nothing (its lots
		// are this node's grains', or failed) is left for the next run.
		if len(ids) < sweepPage || n == 0 {
			break
		}
	}
	woken := s.wakeMarkdownDue(ctx)
	if moved > 0 || woken > 0 {
		s.Log.Info("sweep moved lots past their transition", "lots", moved, "left_to_grains", local,
			"woken_for_markdown", woken, "took_ms", time.Since(started).Milliseconds())
	}
	return moved
}

// wakeMarkdownDue wakes the grains of lots whose markdown evaluation is
// due (not those already active here: their timers run it), and reports
// how many.
func (s *Service) wakeMarkdownDue(ctx context.Context) int {
	ids, err := s.Store.MarkdownDueLots(ctx, s.Now(), markdownPage)
	if err != nil {
		s.Log.Warn("sweep markdown evaluations", "error", err.Error())
		return 0
	}
	sem := make(chan struct{}, markdownWakers)
	var wg sync.WaitGroup
	woken := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		if s.Active != nil && s.Active.Has(id) {
			continue
		}
		woken++
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.Grains.Wake(ctx, id); err != nil {
				s.Log.Warn("sweep lot", "lot", id, "error", err.Error())
			}
		}()
	}
	wg.Wait()
	return woken
}

// advance moves ids in batches, a bounded number at once, and publishes
// each batch's changes.
func (s *Service) advance(ctx context.Context, ids []int64, now time.Time) int {
	batch, workers := s.SweepBatch, s.SweepWorkers
	if batch <= 0 {
		batch = 500
	}
	if workers <= 0 {
		workers = 2
	}
	work := make(chan []int64)
	var mu sync.Mutex
	moved := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for part := range work {
				events, err := s.Store.AdvanceLots(ctx, part, now, s.Adaptive)
				if err != nil {
					s.Log.Warn("sweep batch", "lots", len(part), "error", err.Error())
					continue
				}
				if len(events) > 0 {
					s.Publisher.LotsChanged(events)
				}
				mu.Lock()
				moved += len(events)
				mu.Unlock()
			}
		}()
	}
	for start := 0; start < len(ids) && ctx.Err() == nil; start += batch {
		work <- ids[start:min(start+batch, len(ids))]
	}
	close(work)
	wg.Wait()
	return moved
}
