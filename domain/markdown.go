package domain

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MarkdownMode is how a closing-soon lot is priced.
type MarkdownMode string

const (
	// LadderMarkdown prices a lot by the time left alone (the ladder).
	LadderMarkdown MarkdownMode = "ladder"
	// AdaptiveMarkdown prices a lot by the time left and how fast it sells:
	// the smallest step, never below the ladder, at which the lot is
	// expected to sell out before it expires.
	AdaptiveMarkdown MarkdownMode = "adaptive"
)

// Validate accepts ladder and adaptive.
func (m MarkdownMode) Validate() error {
	switch m {
	case LadderMarkdown, AdaptiveMarkdown:
		return nil
	}
	return fmt.Errorf("markdown %q: want ladder or adaptive", string(m))
}

// MarkdownSteps are the discounts, in percent, adaptive markdown chooses
// from, ascending.
type MarkdownSteps []int

// DefaultMarkdownSteps are 30 to 90 % off in steps of 10.
func DefaultMarkdownSteps() MarkdownSteps { return MarkdownSteps{30, 40, 50, 60, 70, 80, 90} }

// ParseMarkdownSteps reads "30,40,50".
func ParseMarkdownSteps(s string) (MarkdownSteps, error) {
	var steps MarkdownSteps
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("markdown step %q: want a whole percent", part)
		}
		steps = append(steps, p)
	}
	sort.Ints(steps)
	return steps, steps.Validate()
}

// Validate wants at least one step, each in 1..99, no two equal.
func (s MarkdownSteps) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("markdown steps are empty")
	}
	for i, p := range s {
		if p < 1 || p > 99 {
			return fmt.Errorf("markdown step %d outside 1..99", p)
		}
		if i > 0 && s[i-1] >= p {
			return fmt.Errorf("markdown steps must ascend without repeats: %v", []int(s))
		}
	}
	return nil
}

// String formats the steps as ParseMarkdownSteps reads them.
func (s MarkdownSteps) String() string {
	parts := make([]string, len(s))
	for i, p := range s {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts, ",")
}

// UnmarshalText reads steps as ParseMarkdownSteps does.
func (s *MarkdownSteps) UnmarshalText(b []byte) error {
	parsed, err := ParseMarkdownSteps(string(b))
	if err != nil {
		return err
	}
	*s = parsed
	return nil
}

// MarkdownSteps writes the steps as ParseMarkdownSteps reads them.
func (s MarkdownSteps) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// DefaultElasticity is the price elasticity adaptive markdown assumes: a
// price 1 % lower sells 2 % more. Fresh food is commonly estimated to be
// elastic, around −1.5 to −2.5; the model needs one number to carry a rate
// seen at one price to another.
const DefaultElasticity = 2.0

// ListEquivalent converts units sold at percent off into the units the
// same shoppers would have bought at the list price, under elasticity e
// (given as a positive number): units × (1 − percent/100)^e. A lot keeps its
// sell rate in these units, so a rate seen at one markdown prices another.
func ListEquivalent(units float64, percent int, e float64) float64 {
	if percent <= 0 {
		return units
	}
	if percent >= 100 {
		return 0
	}
	return units * math.Pow(1-float64(percent)/100, e)
}

// RateAt is the sell rate at percent off of a lot that sells listRate
// units an hour at the list price, under elasticity e.
func RateAt(listRate float64, percent int, e float64) float64 {
	if listRate <= 0 || percent >= 100 {
		return math.Max(listRate, 0)
	}
	return listRate * math.Pow(1-float64(max(percent, 0))/100, -e)
}

// MarkdownInput is what adaptive markdown decides on.
type MarkdownInput struct {
	// Left is the time to expiry; OnHand the units to sell.
	Left   time.Duration
	OnHand int64
	// ListRate is the lot's sell rate in list-price units an hour (see
	// ListEquivalent).
	ListRate   float64
	Ladder     Ladder
	Steps      MarkdownSteps
	Elasticity float64
}

// AdaptivePercent is the markdown for a closing-soon lot: the smallest
// discount among the ladder's floor for the time left and the steps above
// it at which the expected sales before expiry cover what is on hand; the
// largest step when none does; the floor when nothing is on hand. It never
// returns less than the ladder's floor.
func AdaptivePercent(in MarkdownInput) int {
	floor := in.Ladder.DiscountPercent(in.Left)
	if in.OnHand <= 0 || in.Left <= 0 {
		return floor
	}
	e := in.Elasticity
	if e <= 0 || math.IsNaN(e) {
		e = DefaultElasticity
	}
	hours := in.Left.Hours()
	best := floor
	for _, step := range append([]int{floor}, in.Steps...) {
		if step < floor {
			continue
		}
		best = step
		if RateAt(in.ListRate, step, e)*hours >= float64(in.OnHand) {
			return step
		}
	}
	return best
}

// QueuedLot is one closing-soon lot of a product in a warehouse, as joint
// pricing sees it: the time to its expiry and the units it has on hand.
type QueuedLot struct {
	Left   time.Duration
	OnHand int64
}

// JointInput is what joint adaptive markdown decides on: a product's
// closing-soon lots in one warehouse, oldest first, and the product's
// sell rate there in list-price units an hour.
type JointInput struct {
	Lots       []QueuedLot
	ListRate   float64
	Ladder     Ladder
	Steps      MarkdownSteps
	Elasticity float64
}

// JointPercents prices a product's closing-soon lots in one warehouse
// together, so that an older lot with stock is cheaper than a younger one
// with stock (never dearer, at the last step): shoppers share the lots and take the cheapest, so a younger lot
// marked deeper takes its elders' shoppers and leaves them to expire.
//
// Lot i's markdown is the smallest step, never below the ladder's floor for
// its time left, at which the product's rate at that markdown sells, before
// lot i expires, the units of lot i and of every lot expiring before it
// (the FEFO queue ahead of it clears); then raised to at least the step
// above the markdown of the next younger lot with stock (the last step
// when that one is already there). Strictly deeper, because at equal price
// shoppers take the fresher lot. A lot with nothing on hand gets its floor
// and constrains no one. For a single lot it is AdaptivePercent.
func JointPercents(in JointInput) []int {
	out := make([]int, len(in.Lots))
	var ahead int64
	for i, l := range in.Lots {
		onHand := max(l.OnHand, 0)
		ahead += onHand
		queue := ahead
		if onHand == 0 {
			queue = 0
		}
		out[i] = AdaptivePercent(MarkdownInput{Left: l.Left, OnHand: queue, ListRate: in.ListRate,
			Ladder: in.Ladder, Steps: in.Steps, Elasticity: in.Elasticity})
	}
	younger := -1
	for i := len(in.Lots) - 1; i >= 0; i-- {
		if in.Lots[i].OnHand <= 0 {
			continue
		}
		if younger >= 0 {
			out[i] = max(out[i], in.Steps.Above(younger))
		}
		younger = out[i]
	}
	return out
}

// Above is the smallest step deeper than percent, or percent when no step
// is.
func (s MarkdownSteps) Above(percent int) int {
	for _, p := range s {
		if p > percent {
			return p
		}
	}
	return percent
}

// Below is the deepest step shallower than percent, or 0 when no step is.
func (s MarkdownSteps) Below(percent int) int {
	below := 0
	for _, p := range s {
		if p < percent {
			below = p
		}
	}
	return below
}
