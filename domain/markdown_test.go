package domain

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestAdaptivePercentTable(t *testing.T) {
	l := DefaultLadder()
	steps := DefaultMarkdownSteps()
	tests := []struct {
		name   string
		left   time.Duration
		onHand int64
		rate   float64 // list-price units an hour
		want   int
	}{
		// 40 h left, floor 30 %: at 30 % off 1 unit/h at list sells
		// 1/0.49 ≈ 2.04/h, 81.6 units in 40 h.
		{"fast lot keeps the floor", 40 * time.Hour, 50, 1, 30},
		{"just covered at the floor", 40 * time.Hour, 81, 1, 30},
		// 100 units need 2.5/h: 40 % off gives 1/0.36 = 2.78/h.
		{"one step deeper", 40 * time.Hour, 100, 1, 40},
		// 200 units need 5/h: 60 % gives 6.25/h, 50 % only 4/h.
		{"several steps deeper", 40 * time.Hour, 200, 1, 60},
		{"idle lot takes the last step", 40 * time.Hour, 20, 0, 90},
		{"nothing on hand stays at the floor", 40 * time.Hour, 0, 0, 30},
		// 20 h left: floor 50 %.
		{"floor moves with the ladder", 20 * time.Hour, 10, 5, 50},
		// 3 h left: floor 70 %; 30 units need 10/h: at 0.5/h list 70 %
		// gives 5.6/h, 80 % 12.5/h.
		{"last hours", 3 * time.Hour, 30, 0.5, 80},
		{"expired", 0, 30, 0.5, 70},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AdaptivePercent(MarkdownInput{Left: tt.left, OnHand: tt.onHand, ListRate: tt.rate,
				Ladder: l, Steps: steps, Elasticity: 2})
			if got != tt.want {
				t.Errorf("AdaptivePercent(%v, %d, %v) = %d, want %d", tt.left, tt.onHand, tt.rate, got, tt.want)
			}
			if floor := l.DiscountPercent(tt.left); got < floor {
				t.Errorf("%d is below the ladder's floor %d", got, floor)
			}
		})
	}
}

func TestAdaptiveFastLotKeepsSmallerDiscountThanIdleOne(t *testing.T) {
	l := DefaultLadder()
	start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	h := DefaultRateHalfLife
	// Both lots have 30 units and the same time left; one sold 2 units
	// every half hour over the last 6 hours, the other sold one unit a day
	// ago.
	var fast, idle SellRate
	for i := 0; i < 12; i++ {
		fast = fast.Observe(2, start.Add(time.Duration(i)*30*time.Minute), h)
	}
	idle = idle.Observe(1, start.Add(-18*time.Hour), h)
	now := start.Add(6 * time.Hour)
	for _, left := range []time.Duration{40 * time.Hour, 20 * time.Hour, 10 * time.Hour, 4 * time.Hour} {
		in := MarkdownInput{Left: left, OnHand: 30, Ladder: l, Steps: DefaultMarkdownSteps(), Elasticity: 2}
		in.ListRate = fast.Rate(now, h)
		f := AdaptivePercent(in)
		in.ListRate = idle.Rate(now, h)
		i := AdaptivePercent(in)
		if f >= i {
			t.Errorf("%v left: fast lot %d %% off, idle lot %d %%: want the fast one smaller", left, f, i)
		}
	}
}

func TestAdaptivePercentCustomSteps(t *testing.T) {
	// Steps below the floor are skipped; when none covers, the largest.
	in := MarkdownInput{Left: 10 * time.Hour, OnHand: 1000, ListRate: 1, Ladder: DefaultLadder(),
		Steps: MarkdownSteps{10, 20, 60}, Elasticity: 2}
	if got := AdaptivePercent(in); got != 60 {
		t.Errorf("got %d, want 60", got)
	}
	in.Steps = MarkdownSteps{10, 20}
	if got := AdaptivePercent(in); got != 50 {
		t.Errorf("steps all below the floor: got %d, want the floor 50", got)
	}
	// A zero elasticity means the default, not "price does nothing".
	in = MarkdownInput{Left: 40 * time.Hour, OnHand: 100, ListRate: 1, Ladder: DefaultLadder(), Steps: DefaultMarkdownSteps()}
	if got := AdaptivePercent(in); got != 40 {
		t.Errorf("default elasticity: got %d, want 40", got)
	}
}

func TestListEquivalentAndRateAt(t *testing.T) {
	if got := ListEquivalent(10, 50, 2); math.Abs(got-2.5) > 1e-9 {
		t.Errorf("ListEquivalent(10, 50, 2) = %v, want 2.5", got)
	}
	if got := ListEquivalent(10, 0, 2); got != 10 {
		t.Errorf("at list price = %v", got)
	}
	if got := RateAt(2.5, 50, 2); math.Abs(got-10) > 1e-9 {
		t.Errorf("RateAt(2.5, 50, 2) = %v, want 10", got)
	}
	if got := RateAt(ListEquivalent(7, 30, 2), 30, 2); math.Abs(got-7) > 1e-9 {
		t.Errorf("round trip = %v, want 7", got)
	}
}

func TestMarkdownConfigValues(t *testing.T) {
	s, err := ParseMarkdownSteps("50, 30,40")
	if err != nil || s.String() != "30,40,50" {
		t.Errorf("ParseMarkdownSteps = %v %v", s, err)
	}
	for _, bad := range []string{"", "0", "100", "30,30", "x"} {
		if _, err := ParseMarkdownSteps(bad); err == nil {
			t.Errorf("ParseMarkdownSteps(%q) accepted", bad)
		}
	}
	if LadderMarkdown.Validate() != nil || AdaptiveMarkdown.Validate() != nil {
		t.Error("a known mode is refused")
	}
	if MarkdownMode("smart").Validate() == nil {
		t.Error("an unknown mode is accepted")
	}
}

func TestJointPercentsTable(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name string
		lots []QueuedLot
		rate float64
		want []int
	}{
		// Alone, the older lot (10 units, 20 h: 0.5/h) would keep the
		// ladder's 50 % and the younger (200 units, 40 h: 5/h) go to 60 %,
		// taking the older lot's shoppers. Jointly the older goes a step
		// past it: at equal price shoppers would take the younger.
		{"older goes past a deeper younger", []QueuedLot{{20 * h, 10}, {40 * h, 200}}, 1, []int{70, 60}},
		// The older lot's 100 units need 5/h (60 %); the younger's queue is
		// 120 units in 40 h, 3/h: 50 % (40 % sells 2.78/h).
		{"the queue ahead deepens the younger", []QueuedLot{{20 * h, 100}, {40 * h, 20}}, 1, []int{60, 50}},
		{"fast product keeps the floors", []QueuedLot{{5 * h, 2}, {20 * h, 10}, {40 * h, 20}}, 4, []int{70, 50, 30}},
		// A sold-out older lot is at its floor and holds no one back.
		{"an empty lot constrains no one", []QueuedLot{{20 * h, 0}, {40 * h, 300}}, 1, []int{50, 70}},
		{"idle product: every lot at the last step", []QueuedLot{{20 * h, 5}, {40 * h, 5}}, 0, []int{90, 90}},
		{"no lots", nil, 1, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := JointPercents(JointInput{Lots: tt.lots, ListRate: tt.rate, Ladder: DefaultLadder(),
				Steps: DefaultMarkdownSteps(), Elasticity: 2})
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// On random queues: a younger lot with stock is shallower than an older one
// with stock (never deeper, when the older is at the last step), no lot is
// below its ladder floor, a single lot is priced as AdaptivePercent prices
// it, and each lot's markdown is the smallest that keeps both its FEFO
// queue covered (when a step does) and the order.
func TestJointPercentsOlderIsCheaper(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 23))
	l, steps := DefaultLadder(), DefaultMarkdownSteps()
	for n := 0; n < 2000; n++ {
		lots := make([]QueuedLot, rng.IntN(5)+1)
		left := time.Duration(rng.IntN(60)+1) * time.Minute
		for i := range lots {
			lots[i] = QueuedLot{Left: left, OnHand: int64(rng.IntN(40))}
			left += time.Duration(rng.IntN(30*60)) * time.Minute
			if left > ClosingWindow {
				left = ClosingWindow
			}
		}
		rate := rng.Float64() * 3
		in := JointInput{Lots: lots, ListRate: rate, Ladder: l, Steps: steps, Elasticity: 2}
		got := JointPercents(in)
		var ahead int64
		for i, lot := range lots {
			ahead += lot.OnHand
			if f := l.DiscountPercent(lot.Left); got[i] < f {
				t.Fatalf("%v rate %.2f: lot %d at %d %%, below its floor %d", lots, rate, i, got[i], f)
			}
			for j := i + 1; j < len(lots); j++ {
				if lot.OnHand > 0 && lots[j].OnHand > 0 && (got[j] > got[i] || got[j] == got[i] && got[i] != 90) {
					t.Fatalf("%v rate %.2f: younger lot %d at %d %% is not shallower than lot %d at %d %%", lots, rate, j, got[j], i, got[i])
				}
			}
			if lot.OnHand == 0 {
				continue
			}
			own := AdaptivePercent(MarkdownInput{Left: lot.Left, OnHand: ahead, ListRate: rate, Ladder: l, Steps: steps, Elasticity: 2})
			younger := 0
			for j := i + 1; j < len(lots); j++ {
				if lots[j].OnHand > 0 {
					younger = steps.Above(got[j])
					break
				}
			}
			if got[i] != max(own, younger) {
				t.Fatalf("%v rate %.2f: lot %d at %d %%, want max(%d, %d)", lots, rate, i, got[i], own, younger)
			}
		}
		if len(lots) == 1 {
			want := AdaptivePercent(MarkdownInput{Left: lots[0].Left, OnHand: lots[0].OnHand, ListRate: rate, Ladder: l, Steps: steps, Elasticity: 2})
			if got[0] != want {
				t.Fatalf("single lot %v: %d, AdaptivePercent %d", lots[0], got[0], want)
			}
		}
	}
}

func TestMarkdownStepsAboveBelow(t *testing.T) {
	s := DefaultMarkdownSteps()
	for _, tt := range []struct{ p, above, below int }{{0, 30, 0}, {30, 40, 0}, {45, 50, 40}, {90, 90, 80}, {95, 95, 90}} {
		if a, b := s.Above(tt.p), s.Below(tt.p); a != tt.above || b != tt.below {
			t.Errorf("%d: above %d below %d, want %d and %d", tt.p, a, b, tt.above, tt.below)
		}
	}
}
