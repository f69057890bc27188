package warehouse

import (
	"context"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"shelflife/actors/dispatch"
	"shelflife/actors/grainctx"
	pb "shelflife/actors/inventorypb"
	"shelflife/clock"
	"shelflife/domain"
)

// Candidate is a regular lot the warehouse may allocate from.
type Candidate struct {
	LotID        int64
	ProductID    int64
	ExpiresAt    time.Time
	OnHand       int64
	MinShelfLife time.Duration
}

// PlanKey names one allocation: an order line's key and its product.
type PlanKey struct {
	Key       string
	ProductID int64
}

// Store is what the grain needs of MySQL.
type Store interface {
	// RegularLots lists the warehouse's REGULAR lots with stock.
	RegularLots(ctx context.Context, warehouseID int64) ([]Candidate, error)
	// Plans reads the allocations saved here for keys, in one query.
	Plans(ctx context.Context, warehouseID int64, keys []PlanKey) (map[PlanKey][]domain.Allocation, error)
	// SavePlans stores new allocations, all or none, before they are
	// carried out.
	SavePlans(ctx context.Context, warehouseID int64, plans map[PlanKey][]domain.Allocation) error
	// DeletePlan forgets an allocation that was undone.
	DeletePlan(ctx context.Context, key string, productID, warehouseID int64) error
}

// Lots deducts, holds and restores on lot grains. Restore gives back
// whatever the key took, held or deducted.
type Lots interface {
	Deduct(ctx context.Context, lotID int64, key string, quantity int64, ch pb.Channel) (*pb.DeductResponse, error)
	Reserve(ctx context.Context, lotID int64, key string, quantity int64, ch pb.Channel, until time.Time) (*pb.ReserveResponse, error)
	Commit(ctx context.Context, lotID int64, key string) (*pb.CommitResponse, error)
	Restore(ctx context.Context, lotID int64, key string) (*pb.RestoreResponse, error)
}

// Deps are shared by the warehouse grains of a node.
type Deps struct {
	Store  Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Lots, when nil, is a lot.Client on the grain's cluster.
	Lots        Lots
	IdleTimeout time.Duration
	CallTimeout time.Duration
}

// Kind is the cluster kind of warehouse grains.
func Kind(d Deps) *cluster.Kind {
	grainctx.Common(&d.Clock, &d.Logger, &d.IdleTimeout, 10*time.Minute)
	grainctx.Positive(&d.CallTimeout, 10*time.Second)
	deps := d
	// What the grain's goroutines send back goes ahead of the requests.
	return pb.NewWarehouseKind(func() pb.Warehouse { return &grain{deps: &deps} }, deps.IdleTimeout,
		actor.WithMailbox(actor.UnboundedPriority()), dispatch.Option())
}
