// Package inventory serves the admin's lot endpoints (receiving a lot,
// listing lots, the waste report) and sweeps the lots whose expiry
// transition came while no grain held them. It knows the lot grains only
// by the Lots port: waking a lot's grain is enough, the grain does the
// rest.
package inventory

import (
	"context"
	"log/slog"
	"time"

	"shelflife/domain"
)

// Store is what inventory needs of MySQL.
type Store interface {
	CreateLot(ctx context.Context, l domain.Lot, now time.Time) (domain.Lot, error)
	Lots(ctx context.Context, f domain.LotFilter) ([]domain.Lot, error)
	WasteReport(ctx context.Context, from, to time.Time) ([]domain.WasteRow, error)
	// DueLots lists the lots whose transition is past at now but not
	// recorded.
	DueLots(ctx context.Context, now time.Time) ([]int64, error)
}

// Lots wakes lot grains.
type Lots interface {
	Wake(ctx context.Context, lotID int64) error
}

// Publisher hears every lot change (events.StockSink).
type Publisher interface {
	LotChanged(domain.LotEvent)
}

// Service serves the admin's lot endpoints and sweeps due lots.
type Service struct {
	Store     Store
	Risk      RiskStore
	Grains    Lots
	Publisher Publisher
	Now       func() time.Time
	Log       *slog.Logger
}

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

// Sweep wakes every due lot, until ctx ends; it reports how many were due.
// Run it as a periodic.Job.
func (s *Service) Sweep(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ids, err := s.Store.DueLots(ctx, s.Now())
	if err != nil {
		s.Log.Warn("sweep", "error", err.Error())
		return 0
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return 0
		}
		if err := s.Grains.Wake(ctx, id); err != nil {
			s.Log.Warn("sweep lot", "lot", id, "error", err.Error())
		}
	}
	if len(ids) > 0 {
		s.Log.Info("sweep woke lots past their transition", "lots", len(ids))
	}
	return len(ids)
}
