package domain

import "fmt"

// DealLimit is how many units of one deal lot one shopper may buy: the
// cart, the order's pricing and the order's insert all ask it. Zero stands
// for DefaultDealLimit, so the default lives here alone.
type DealLimit int64

// DefaultDealLimit is the limit when none is configured.
const DefaultDealLimit DealLimit = 5

// Units is the limit in units.
func (l DealLimit) Units() int64 {
	if l <= 0 {
		return int64(DefaultDealLimit)
	}
	return int64(l)
}

// Check refuses more than the limit of one lot in one request.
func (l DealLimit) Check(quantity int64) error {
	if quantity > l.Units() {
		return fmt.Errorf("%d units, at most %d: %w", quantity, l.Units(), ErrDealLimit)
	}
	return nil
}

// OrderBounds are the per-shopper bounds a new order is stored under,
// checked in the same transaction that stores it.
type OrderBounds struct {
	// DealUnits is how many units of one deal lot a shopper's live orders
	// may hold, the new order's included.
	DealUnits int64
	// MaxUnpaid is how many orders one shopper may have waiting for
	// payment, the new order included (0: no bound).
	MaxUnpaid int
}
