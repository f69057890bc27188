package domain

import (
	"math"
	"time"
)

// DefaultRateHalfLife is the half-life of a sell rate's memory: a sale six
// hours ago counts half as much as one now.
const DefaultRateHalfLife = 6 * time.Hour

// SellRate is an exponentially weighted rate of units sold per hour, kept as
// two numbers so that a lot can carry it without its history: the rate as of
// At. A steady stream of r units an hour converges to r; with no sales the
// rate halves every half-life. The zero value is "no sales seen yet".
type SellRate struct {
	PerHour float64   `json:"per_hour"`
	At      time.Time `json:"at"`
}

// Known reports whether any sale was ever observed.
func (r SellRate) Known() bool { return !r.At.IsZero() }

// Observe records units sold at at. Each unit adds ln 2 / halfLife (in
// hours) to the rate, which decays by half every halfLife, so the area under
// one unit's contribution is that unit. A sale dated before the last one (a
// late message) is added without decaying the rate backwards. A halfLife of
// zero or less is DefaultRateHalfLife.
func (r SellRate) Observe(units int, at time.Time, halfLife time.Duration) SellRate {
	return r.ObserveWeighted(float64(units), at, halfLife)
}

// ObserveWeighted is Observe for a fractional quantity, such as units sold
// at a markdown converted to list-price units (ListEquivalent).
func (r SellRate) ObserveWeighted(units float64, at time.Time, halfLife time.Duration) SellRate {
	halfLife = rateHalfLife(halfLife)
	if units <= 0 || math.IsNaN(units) {
		if r.Known() && at.After(r.At) {
			return SellRate{PerHour: r.Rate(at, halfLife), At: at}
		}
		return r
	}
	bump := units * math.Ln2 / halfLife.Hours()
	if !r.Known() {
		return SellRate{PerHour: bump, At: at}
	}
	if !at.After(r.At) {
		return SellRate{PerHour: r.PerHour + bump, At: r.At}
	}
	return SellRate{PerHour: r.Rate(at, halfLife) + bump, At: at}
}

// Rate is the rate in units per hour at now: PerHour decayed for the time
// since At. A now before At gives PerHour.
func (r SellRate) Rate(now time.Time, halfLife time.Duration) float64 {
	if !r.Known() || r.PerHour <= 0 {
		return 0
	}
	since := now.Sub(r.At)
	if since <= 0 {
		return r.PerHour
	}
	return r.PerHour * math.Exp2(-since.Hours()/rateHalfLife(halfLife).Hours())
}

func rateHalfLife(h time.Duration) time.Duration {
	if h <= 0 {
		return DefaultRateHalfLife
	}
	return h
}

// ExpectedUnsold is how many of onHand units are expected to remain when
// left runs out at ratePerHour: never below zero, onHand when the rate is
// zero or the time is up.
func ExpectedUnsold(onHand int, ratePerHour float64, left time.Duration) float64 {
	if onHand <= 0 {
		return 0
	}
	if left <= 0 || ratePerHour <= 0 || math.IsNaN(ratePerHour) {
		return float64(onHand)
	}
	return math.Max(0, float64(onHand)-ratePerHour*left.Hours())
}

// Remembered is how many units the rate still counts at now: the rate
// times halfLife / ln 2. A lot that sold one unit an hour ago remembers
// about 0.9 of it with a 6 h half-life.
func (r SellRate) Remembered(now time.Time, halfLife time.Duration) float64 {
	return r.Rate(now, halfLife) * rateHalfLife(halfLife).Hours() / math.Ln2
}

// MinEvidence is how many remembered units a lot's own rate needs to be
// used alone. With fewer, a lot that sells a unit now and then reads as
// nearly idle between its sales, so its rate is blended with its
// product's: own × n/MinEvidence + product × (1 − n/MinEvidence).
const MinEvidence = 3.0

// EstimateRate is the rate to price a lot by: its own when it remembers
// MinEvidence units or more, else blended with productRate as MinEvidence
// says (productRate alone for a lot that has sold nothing).
func EstimateRate(own SellRate, productRate float64, now time.Time, halfLife time.Duration) float64 {
	n := own.Remembered(now, halfLife)
	if n >= MinEvidence {
		return own.Rate(now, halfLife)
	}
	w := n / MinEvidence
	return own.Rate(now, halfLife)*w + math.Max(productRate, 0)*(1-w)
}
