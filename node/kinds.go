package node

import (
	"github.com/asynkron/protoactor-go/cluster"

	"shelflife/actors/lot"
	"shelflife/actors/saga"
	"shelflife/actors/warehouse"
)

// grainDeps are what the grains of this node share.
type grainDeps struct {
	lot       lot.Deps
	warehouse warehouse.Deps
	saga      saga.Deps
}

// kinds lists every grain kind this node hosts. A new actor package adds its
// kind here and nowhere else.
func kinds(d grainDeps) []*cluster.Kind {
	return []*cluster.Kind{
		lot.Kind(d.lot),
		warehouse.Kind(d.warehouse),
		saga.Kind(d.saga),
	}
}
