package domain

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// LotState is where a lot stands in its life.
type LotState string

const (
	// Regular stock is sold at the list price, allocated FEFO by its warehouse.
	Regular LotState = "REGULAR"
	// ClosingSoon stock is within the closing window of its expiry and is
	// sold lot by lot, marked down by the ladder.
	ClosingSoon LotState = "CLOSING_SOON"
	// Expired stock is not sellable; what remained was written off.
	Expired LotState = "EXPIRED"
)

// ClosingWindow is how long before expiry a lot leaves regular stock.
const ClosingWindow = 48 * time.Hour

// StateAt is the state a lot expiring at expiresAt has at now.
func StateAt(expiresAt, now time.Time) LotState {
	switch {
	case !now.Before(expiresAt):
		return Expired
	case !now.Before(expiresAt.Add(-ClosingWindow)):
		return ClosingSoon
	default:
		return Regular
	}
}

// NextTransition is when a lot in state s next changes state, and whether
// it ever does.
func NextTransition(expiresAt time.Time, s LotState) (time.Time, bool) {
	switch s {
	case Regular:
		return expiresAt.Add(-ClosingWindow), true
	case ClosingSoon:
		return expiresAt, true
	default:
		return time.Time{}, false
	}
}

// Markdown is one rung of the ladder: a lot with at most Within left before
// expiry is sold Percent off.
type Markdown struct {
	Within  time.Duration
	Percent int
}

// Ladder is a markdown ladder. The rung with the smallest Within that still
// covers the remaining time applies.
type Ladder []Markdown

// DefaultLadder is 30 % off from 48 h, 50 % from 24 h and 70 % from 6 h.
func DefaultLadder() Ladder {
	return Ladder{{48 * time.Hour, 30}, {24 * time.Hour, 50}, {6 * time.Hour, 70}}
}

// ParseLadder reads "48h:30,24h:50,6h:70".
func ParseLadder(s string) (Ladder, error) {
	var l Ladder
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, pct, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("markdown rung %q: want DURATION:PERCENT", part)
		}
		within, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return nil, fmt.Errorf("markdown rung %q: %w", part, err)
		}
		var p int
		if _, err := fmt.Sscanf(strings.TrimSpace(pct), "%d", &p); err != nil {
			return nil, fmt.Errorf("markdown rung %q: percent: %w", part, err)
		}
		l = append(l, Markdown{Within: within, Percent: p})
	}
	return l, l.Validate()
}

// Validate checks every rung.
func (l Ladder) Validate() error {
	if len(l) == 0 {
		return fmt.Errorf("markdown ladder is empty")
	}
	for _, m := range l {
		if m.Within <= 0 {
			return fmt.Errorf("markdown rung %v: window must be positive", m.Within)
		}
		if m.Percent < 0 || m.Percent > 100 {
			return fmt.Errorf("markdown rung %v: percent %d outside 0..100", m.Within, m.Percent)
		}
	}
	return nil
}

// DiscountPercent is the markdown for a lot with remaining time left; 0
// when no rung covers it.
func (l Ladder) DiscountPercent(left time.Duration) int {
	rungs := append(Ladder(nil), l...)
	sort.Slice(rungs, func(i, j int) bool { return rungs[i].Within < rungs[j].Within })
	for _, m := range rungs {
		if left <= m.Within {
			return m.Percent
		}
	}
	return 0
}

// String formats the ladder as ParseLadder reads it.
func (l Ladder) String() string {
	parts := make([]string, len(l))
	for i, m := range l {
		parts[i] = fmt.Sprintf("%s:%d", m.Within, m.Percent)
	}
	return strings.Join(parts, ",")
}

// LotEvent is a committed change of a lot, for read models and dashboards.
type LotEvent struct {
	LotID       int64     `json:"lot_id"`
	ProductID   int64     `json:"product_id"`
	WarehouseID int64     `json:"warehouse_id"`
	ExpiresAt   time.Time `json:"expires_at"`
	OnHand      int64     `json:"on_hand"`
	Held        int64     `json:"held"`
	State       LotState  `json:"state"`
	Seq         int64     `json:"seq"`
	WrittenOff  int64     `json:"written_off"`
	// DiscountPercent is the adaptive markdown in force (0 under the
	// ladder, whose markdown follows from ExpiresAt).
	DiscountPercent int       `json:"discount_percent,omitempty"`
	At              time.Time `json:"at"`
}

// UnmarshalText reads a ladder as ParseLadder does, so that configuration
// decodes it once, at start.
func (l *Ladder) UnmarshalText(b []byte) error {
	parsed, err := ParseLadder(string(b))
	if err != nil {
		return err
	}
	*l = parsed
	return nil
}

// MarshalText writes the ladder as ParseLadder reads it.
func (l Ladder) MarshalText() ([]byte, error) { return []byte(l.String()), nil }
