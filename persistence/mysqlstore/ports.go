package mysqlstore

import (
	"shelflife/actors/lot"
	"shelflife/actors/saga"
	"shelflife/actors/warehouse"
	"shelflife/demo"
	"shelflife/stockview"
)

// The ports the Store serves, each declared by the package that uses it.
// (The HTTP handlers' ports are checked in ports_test.go, so that the
// store does not depend on the HTTP layer.)
var (
	_ lot.Store        = (*Store)(nil)
	_ warehouse.Store  = (*Store)(nil)
	_ saga.Store       = (*Store)(nil)
	_ stockview.Source = (*Store)(nil)
	_ demo.Store       = (*Store)(nil)
)
