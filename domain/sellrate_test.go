package domain

import (
	"math"
	"testing"
	"time"
)

func TestSellRateConvergesToSteadyRate(t *testing.T) {
	start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	var r SellRate
	if r.Known() || r.Rate(start, time.Hour) != 0 {
		t.Fatalf("zero rate is known or non-zero: %+v", r)
	}
	// 4 units every 15 minutes is 16 an hour; after 10 half-lives the
	// estimate is within a few percent of it (the sawtooth of discrete sales
	// keeps it from being exact).
	h := 2 * time.Hour
	at := start
	for i := 0; i < 80; i++ {
		at = at.Add(15 * time.Minute)
		r = r.Observe(4, at, h)
	}
	got := r.Rate(at.Add(7*time.Minute), h)
	if math.Abs(got-16) > 1 {
		t.Errorf("rate after a steady 16/h = %.2f, want 16 ± 1", got)
	}
}

func TestSellRateDecaysByHalfPerHalfLife(t *testing.T) {
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	h := 3 * time.Hour
	r := SellRate{PerHour: 10, At: at}
	if got := r.Rate(at.Add(h), h); math.Abs(got-5) > 1e-9 {
		t.Errorf("after one half-life = %v, want 5", got)
	}
	if got := r.Rate(at.Add(2*h), h); math.Abs(got-2.5) > 1e-9 {
		t.Errorf("after two half-lives = %v, want 2.5", got)
	}
	if got := r.Rate(at.Add(-time.Hour), h); got != 10 {
		t.Errorf("before At = %v, want 10", got)
	}
	// Observing nothing later moves At and keeps the decayed value.
	later := r.Observe(0, at.Add(h), h)
	if !later.At.Equal(at.Add(h)) || math.Abs(later.PerHour-5) > 1e-9 {
		t.Errorf("Observe(0) = %+v, want 5 at +h", later)
	}
}

func TestSellRateOneUnitAreaIsOneUnit(t *testing.T) {
	// The integral of one unit's contribution over all time is one unit:
	// PerHour × halfLife / ln 2.
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	h := 4 * time.Hour
	r := SellRate{}.Observe(1, at, h)
	if area := r.PerHour * h.Hours() / math.Ln2; math.Abs(area-1) > 1e-9 {
		t.Errorf("area = %v, want 1", area)
	}
}

func TestSellRateLateSaleDoesNotMoveBack(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	h := time.Hour
	r := SellRate{}.Observe(2, at, h)
	late := r.Observe(2, at.Add(-30*time.Minute), h)
	if !late.At.Equal(at) {
		t.Errorf("a late sale moved At to %v", late.At)
	}
	if math.Abs(late.PerHour-2*r.PerHour) > 1e-9 {
		t.Errorf("late sale PerHour = %v, want %v", late.PerHour, 2*r.PerHour)
	}
	// A non-positive half-life falls back to the default, not a division by
	// zero.
	d := SellRate{}.Observe(1, at, 0)
	if want := math.Ln2 / DefaultRateHalfLife.Hours(); math.Abs(d.PerHour-want) > 1e-12 {
		t.Errorf("default half-life PerHour = %v, want %v", d.PerHour, want)
	}
}

func TestExpectedUnsold(t *testing.T) {
	tests := []struct {
		onHand int
		rate   float64
		left   time.Duration
		want   float64
	}{
		{10, 0, 24 * time.Hour, 10},
		{10, 1, 4 * time.Hour, 6},
		{10, 1, 24 * time.Hour, 0},
		{10, 2.5, 2 * time.Hour, 5},
		{10, 5, 0, 10},
		{10, 5, -time.Hour, 10},
		{0, 5, time.Hour, 0},
		{-3, 5, time.Hour, 0},
		{10, math.NaN(), time.Hour, 10},
	}
	for _, tt := range tests {
		if got := ExpectedUnsold(tt.onHand, tt.rate, tt.left); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("ExpectedUnsold(%d, %v, %v) = %v, want %v", tt.onHand, tt.rate, tt.left, got, tt.want)
		}
	}
}

func TestEstimateRateBlendsThinEvidence(t *testing.T) {
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	h := 6 * time.Hour
	// 13 units remembered: the lot's own rate alone.
	busy := SellRate{PerHour: 1.5, At: at}
	if got := EstimateRate(busy, 10, at, h); got != 1.5 {
		t.Errorf("busy lot = %v, want its own 1.5", got)
	}
	// Nothing sold: the product's rate.
	if got := EstimateRate(SellRate{}, 0.4, at, h); got != 0.4 {
		t.Errorf("lot without sales = %v, want the product's 0.4", got)
	}
	// One unit just sold: a third own, two thirds product.
	one := SellRate{}.Observe(1, at, h)
	if n := one.Remembered(at, h); math.Abs(n-1) > 1e-9 {
		t.Fatalf("remembered %v, want 1", n)
	}
	want := one.PerHour/3 + 0.4*2/3
	if got := EstimateRate(one, 0.4, at, h); math.Abs(got-want) > 1e-9 {
		t.Errorf("thin lot = %v, want %v", got, want)
	}
	// A negative product rate counts as none.
	if got := EstimateRate(SellRate{}, -1, at, h); got != 0 {
		t.Errorf("negative product rate gave %v", got)
	}
}
