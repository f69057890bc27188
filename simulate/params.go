// Package simulate runs a shop for days of simulated time against the real
// lot and warehouse grains and MySQL, to compare markdown policies on the
// same demand. The clock is clock.Fake: the grains' timers (closing soon,
// markdown evaluations, expiry) run as simulated time passes, and shoppers,
// drawn from a fixed seed, buy through the grains: regular stock through
// the warehouse (FEFO), deals lot by lot. Write-offs are the lots' own.
//
// Everything the model assumes is in Params, documented there and in the
// README; the numbers were chosen before any run and are not tuned to the
// result.
package simulate

import "time"

// Params is the whole model. DefaultParams is what `make simulate` runs.
type Params struct {
	// Seed makes the demand: the same seed gives the same shoppers, at the
	// same times, with the same draws, whatever the policy.
	Seed uint64
	// Days of simulated time, in steps of Step: shoppers are drawn per
	// product, warehouse and step.
	Days int
	Step time.Duration
	// Start is when the simulated fortnight begins (a Monday, 00:00 UTC).
	Start time.Time

	// ShoppersPerHour is the range a product's base rate of shoppers per
	// hour in one warehouse is drawn from (uniformly, per product and
	// warehouse), before the daily curve.
	ShoppersPerHour [2]float64
	// BaseShare is the range a product's base share is drawn from: the
	// chance a shopper buys one unit at the list price.
	BaseShare [2]float64
	// Elasticity is the shoppers' price elasticity (as a positive number):
	// a shopper offered price p buys when a uniform draw is below
	// min(1, (p/list)^-Elasticity × base share).
	Elasticity float64
	// DailyCurve scales the base rate by hour of day (UTC is the shop's
	// time here); it averages 1 over the day.
	DailyCurve [24]float64

	// RestockHour is when each product arrives in each warehouse, every
	// day: one lot expiring ShelfLife later (by category, DefaultShelfLife
	// for the others).
	RestockHour      int
	ShelfLife        map[string]time.Duration
	DefaultShelfLife time.Duration
	// A lot's quantity is the product's expected daily sales at the list
	// price in that warehouse (base rate × 24 h × base share), rounded,
	// at least 1; OverSupplied of the products (chosen by the seed) receive
	// OverSupply times that.
	OverSupplied float64
	OverSupply   float64

	// Products and Warehouses limit the demo catalogue and warehouses
	// (0: all); short runs in tests use fewer.
	Products   int
	Warehouses int
}

// DefaultParams is the model `make simulate` runs: 14 days in 15-minute
// steps over the demo catalogue and warehouses.
func DefaultParams() Params {
	return Params{
		Seed:            20261130,
		Days:            14,
		Step:            15 * time.Minute,
		Start:           time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		ShoppersPerHour: [2]float64{0.5, 4},
		BaseShare:       [2]float64{0.15, 0.45},
		Elasticity:      2,
		// Quiet nights, a lunch peak and an evening peak; mean 1.
		DailyCurve: [24]float64{
			0.2, 0.1, 0.1, 0.1, 0.1, 0.2, // 00-05
			0.5, 0.8, 1.0, 1.1, 1.2, 1.5, // 06-11
			1.8, 1.5, 1.2, 1.1, 1.2, 1.6, // 12-17
			2.2, 2.4, 2.0, 1.4, 0.8, 0.6, // 18-23
		},
		RestockHour: 6,
		ShelfLife: map[string]time.Duration{
			"Vegetables": 4 * 24 * time.Hour,
			"Fruit":      6 * 24 * time.Hour,
			"Meat":       5 * 24 * time.Hour,
			"Seafood":    3 * 24 * time.Hour,
			"Dairy":      7 * 24 * time.Hour,
			"Bakery":     3 * 24 * time.Hour,
			"Deli":       4 * 24 * time.Hour,
		},
		DefaultShelfLife: 5 * 24 * time.Hour,
		OverSupplied:     0.2,
		OverSupply:       1.5,
	}
}
