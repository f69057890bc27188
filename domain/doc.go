// Package domain holds ShelfLife's pure rules and the types every layer
// shares: money, distances and service areas, lot states by expiry, the
// markdown ladder and FEFO allocation (expiry.go, geo.go, fefo.go); a lot's
// exponentially weighted sell rate and the units expected unsold at expiry
// (sellrate.go); lots and
// the lot event; orders with their typed status, step, reason and payment
// status, order items and filters, failures and the reconciliation report
// (order.go); cart items (cart.go); and the per-shopper deal limit, defaulted
// and checked here alone (deallimit.go). It does no I/O and imports no
// package of the project, so every other package can use it and tests need
// nothing.
package domain
