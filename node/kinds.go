package node

import "github.com/asynkron/protoactor-go/cluster"

// kinds lists every grain kind this node hosts. A new actor package adds its
// kind here and nowhere else.
func kinds() []*cluster.Kind {
	return nil
}
