package redisstore_test

import (
	"shelflife/api"
	"shelflife/persistence/redisstore"
)

// The ports the stores serve, declared by the HTTP handlers (checked here
// so that the handlers do not depend on Redis).
var (
	_ api.Carts    = (*redisstore.Carts)(nil)
	_ api.Throttle = (*redisstore.Throttle)(nil)
)
