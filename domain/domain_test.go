package domain

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestDistanceKm(t *testing.T) {
	seoulCityHall := Point{37.5663, 126.9779}
	gangnam := Point{37.4979, 127.0276}
	busan := Point{35.1796, 129.0756}
	tests := []struct {
		name     string
		a, b     Point
		want     float64
		tolerate float64
	}{
		{"same point", seoulCityHall, seoulCityHall, 0, 1e-9},
		{"city hall to gangnam", seoulCityHall, gangnam, 8.8, 0.3},
		{"seoul to busan", seoulCityHall, busan, 325, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DistanceKm(tt.a, tt.b)
			if math.Abs(got-tt.want) > tt.tolerate {
				t.Errorf("DistanceKm = %.2f, want %.2f ± %.2f", got, tt.want, tt.tolerate)
			}
			if back := DistanceKm(tt.b, tt.a); math.Abs(back-got) > 1e-9 {
				t.Errorf("not symmetric: %f vs %f", got, back)
			}
		})
	}
}

func TestServiceArea(t *testing.T) {
	area := ServiceArea{Center: Point{37.5663, 126.9779}, RadiusKm: 5}
	if !area.Serves(Point{37.57, 126.98}) {
		t.Error("a point 0.5 km away is not served")
	}
	if area.Serves(Point{37.4979, 127.0276}) {
		t.Error("a point 8.8 km away is served by a 5 km area")
	}
	bad := []ServiceArea{
		{Center: Point{91, 0}, RadiusKm: 1},
		{Center: Point{0, -181}, RadiusKm: 1},
		{Center: Point{0, 0}, RadiusKm: 0},
		{Center: Point{0, 0}, RadiusKm: math.NaN()},
		{Center: Point{math.NaN(), 0}, RadiusKm: 1},
	}
	for _, a := range bad {
		if a.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", a)
		}
	}
}

func TestDiscounted(t *testing.T) {
	tests := []struct {
		price   KRW
		percent int
		want    KRW
	}{
		{10000, 30, 7000},
		{9990, 30, 6990},
		{4500, 70, 1350},
		{1234, 50, 610},
		{1000, 0, 1000},
		{1000, 100, 0},
		{1000, 150, 0},
	}
	for _, tt := range tests {
		if got := Discounted(tt.price, tt.percent); got != tt.want {
			t.Errorf("Discounted(%d, %d) = %d, want %d", tt.price, tt.percent, got, tt.want)
		}
	}
}

func TestStateAtAndTransitions(t *testing.T) {
	exp := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		now  time.Time
		want LotState
	}{
		{exp.Add(-49 * time.Hour), Regular},
		{exp.Add(-48 * time.Hour), ClosingSoon},
		{exp.Add(-time.Second), ClosingSoon},
		{exp, Expired},
		{exp.Add(time.Hour), Expired},
	}
	for _, tt := range tests {
		if got := StateAt(exp, tt.now); got != tt.want {
			t.Errorf("StateAt(exp, exp%+v) = %s, want %s", tt.now.Sub(exp), got, tt.want)
		}
	}
	if at, ok := NextTransition(exp, Regular); !ok || !at.Equal(exp.Add(-48*time.Hour)) {
		t.Errorf("NextTransition(Regular) = %v %v", at, ok)
	}
	if at, ok := NextTransition(exp, ClosingSoon); !ok || !at.Equal(exp) {
		t.Errorf("NextTransition(ClosingSoon) = %v %v", at, ok)
	}
	if _, ok := NextTransition(exp, Expired); ok {
		t.Error("an expired lot has a next transition")
	}
}

func TestLadder(t *testing.T) {
	l := DefaultLadder()
	tests := []struct {
		left time.Duration
		want int
	}{
		{72 * time.Hour, 0},
		{48 * time.Hour, 30},
		{30 * time.Hour, 30},
		{24 * time.Hour, 50},
		{7 * time.Hour, 50},
		{6 * time.Hour, 70},
		{time.Minute, 70},
	}
	for _, tt := range tests {
		if got := l.DiscountPercent(tt.left); got != tt.want {
			t.Errorf("DiscountPercent(%v) = %d, want %d", tt.left, got, tt.want)
		}
	}
	parsed, err := ParseLadder(l.String())
	if err != nil {
		t.Fatalf("ParseLadder(%q): %v", l.String(), err)
	}
	if parsed.String() != l.String() {
		t.Errorf("round trip = %q, want %q", parsed, l)
	}
	for _, bad := range []string{"", "48h", "x:30", "48h:x", "48h:120", "-1h:10"} {
		if _, err := ParseLadder(bad); err == nil {
			t.Errorf("ParseLadder(%q) = nil error", bad)
		}
	}
}

func TestAllocateFEFO(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	lots := []LotStock{
		{LotID: 3, ExpiresAt: t0.Add(72 * time.Hour), Available: 10},
		{LotID: 1, ExpiresAt: t0.Add(96 * time.Hour), Available: 5},
		{LotID: 2, ExpiresAt: t0.Add(72 * time.Hour), Available: 4},
		{LotID: 4, ExpiresAt: t0.Add(60 * time.Hour), Available: 0},
	}
	got, short := AllocateFEFO(lots, 16)
	want := []Allocation{{2, 4}, {3, 10}, {1, 2}}
	if short != 0 || len(got) != len(want) {
		t.Fatalf("AllocateFEFO = %v short %d, want %v short 0", got, short, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("allocation %d = %v, want %v", i, got[i], want[i])
		}
	}
	if _, short := AllocateFEFO(lots, 20); short != 1 {
		t.Errorf("short = %d, want 1", short)
	}
	if got, short := AllocateFEFO(nil, 3); len(got) != 0 || short != 3 {
		t.Errorf("no lots: %v short %d", got, short)
	}
}

func TestAddLineBoundsMoney(t *testing.T) {
	for _, tc := range []struct {
		total, price KRW
		qty          int64
		want         KRW
		err          error
	}{
		{0, 3000, 2, 6000, nil},
		{6000, MaxPrice, 99, 6000 + 99*MaxPrice, nil},
		{0, MaxPrice + 1, 1, 0, ErrPriceTooHigh},
		{0, -1, 1, 0, ErrNegativePrice},
		{0, 4_611_686_018_427_387_905, 4, 0, ErrPriceTooHigh},
		{0, 1000, 1 << 62, 0, ErrAmountTooLarge},
		{1 << 53, 1000, 1, 1 << 53, ErrAmountTooLarge},
	} {
		got, err := AddLine(tc.total, tc.price, tc.qty)
		if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
			t.Errorf("AddLine(%d, %d, %d) = %d, %v; want %d, %v", tc.total, tc.price, tc.qty, got, err, tc.want, tc.err)
		}
	}
}
