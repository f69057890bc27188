package saga

import (
	"context"
	"errors"
	"fmt"
	"time"

	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot"
	"shelflife/actors/warehouse"
	"shelflife/domain"
)

// ClusterStock is Stock over the lot and warehouse grains.
type ClusterStock struct {
	Lots       *lot.Client
	Warehouses *warehouse.Client
}

// Allocate takes a regular line from a warehouse.
func (s ClusterStock) Allocate(ctx context.Context, w int64, key string, product, qty int64) (pb.Reason, error) {
	r, err := s.Warehouses.Allocate(ctx, w, key, product, qty)
	if err != nil {
		return pb.Reason_UNAVAILABLE, err
	}
	return r.GetReason(), nil
}

// Release gives a regular line back to a warehouse.
func (s ClusterStock) Release(ctx context.Context, w int64, key string, product int64) error {
	r, err := s.Warehouses.Release(ctx, w, key, product)
	if err != nil {
		return err
	}
	if r.GetReason() != pb.Reason_OK {
		return fmt.Errorf("release at warehouse %d: %s", w, r.GetReason())
	}
	return nil
}

// HoldRegular holds a regular line at a warehouse, FEFO across its lots.
func (s ClusterStock) HoldRegular(ctx context.Context, w int64, key string, product, qty int64, until time.Time) (pb.Reason, int64, error) {
	r, err := s.Warehouses.Hold(ctx, w, key, product, qty, until)
	if err != nil {
		return pb.Reason_UNAVAILABLE, 0, err
	}
	return r.GetReason(), r.GetAvailable(), nil
}

// HoldDeal holds a deal line on its lot.
func (s ClusterStock) HoldDeal(ctx context.Context, lotID int64, key string, qty int64, until time.Time) (pb.Reason, int64, error) {
	r, err := s.Lots.Reserve(ctx, lotID, key, qty, pb.Channel_DEAL, until)
	if err != nil {
		return pb.Reason_UNAVAILABLE, 0, err
	}
	available := r.GetOnHand()
	if r.GetReason() == pb.Reason_NOT_SELLABLE || r.GetReason() == pb.Reason_LOT_EXPIRED {
		available = 0
	}
	return r.GetReason(), available, nil
}

// CommitRegular deducts what a regular line holds at a warehouse.
func (s ClusterStock) CommitRegular(ctx context.Context, w int64, key string, product int64) (pb.Reason, error) {
	r, err := s.Warehouses.Commit(ctx, w, key, product)
	if err != nil {
		return pb.Reason_UNAVAILABLE, err
	}
	return r.GetReason(), nil
}

// CommitDeal deducts what a deal line holds on its lot.
func (s ClusterStock) CommitDeal(ctx context.Context, lotID int64, key string) (pb.Reason, error) {
	r, err := s.Lots.Commit(ctx, lotID, key)
	if err != nil {
		return pb.Reason_UNAVAILABLE, err
	}
	return r.GetReason(), nil
}

// DeductDeal takes a deal line from its lot.
func (s ClusterStock) DeductDeal(ctx context.Context, lotID int64, key string, qty int64) (pb.Reason, error) {
	r, err := s.Lots.Deduct(ctx, lotID, key, qty, pb.Channel_DEAL)
	if err != nil {
		return pb.Reason_UNAVAILABLE, err
	}
	return r.GetReason(), nil
}

// RestoreDeal gives a deal line back to its lot.
func (s ClusterStock) RestoreDeal(ctx context.Context, lotID int64, key string) error {
	r, err := s.Lots.Restore(ctx, lotID, key)
	if err != nil {
		return err
	}
	if r.GetReason() != pb.Reason_OK {
		return fmt.Errorf("restore lot %d: %s", lotID, r.GetReason())
	}
	return nil
}

// Restore gives back everything a failed order may have taken: each deal
// line to its lot, each regular line to every warehouse that may have
// allocated it (a warehouse without a plan for the key gives nothing).
// Restores are idempotent, and one that arrives before its deduction leaves
// a marker that refuses the deduction.
func Restore(ctx context.Context, s Returner, ev domain.OrderFailedEvent) error {
	var errs []error
	for _, l := range ev.Lines {
		key := l.Key(ev.OrderID)
		if l.Kind == domain.LineDeal {
			if err := s.RestoreDeal(ctx, l.LotID, key); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		ws := ev.Warehouses
		if l.WarehouseID != 0 {
			ws = append([]int64{l.WarehouseID}, ws...)
		}
		seen := map[int64]bool{}
		for _, w := range ws {
			if seen[w] {
				continue
			}
			seen[w] = true
			if err := s.Release(ctx, w, key, l.ProductID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
