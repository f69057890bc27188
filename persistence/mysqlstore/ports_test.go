package mysqlstore_test

import (
	"shelflife/api"
	"shelflife/persistence/mysqlstore"
)

var (
	_ api.Users     = (*mysqlstore.Store)(nil)
	_ api.Catalog   = (*mysqlstore.Store)(nil)
	_ api.Dashboard = (*mysqlstore.Store)(nil)
)
