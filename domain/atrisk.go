package domain

import "time"

// EarlyDealWindow is how long before expiry a regular lot at risk may be
// moved to the deals ahead of its closing window.
const EarlyDealWindow = 72 * time.Hour

// RiskAction is what the at-risk list suggests an admin do with a lot.
type RiskAction string

const (
	// MarkDownNow: the lot is in the deals already and will not sell out at
	// its current price; a deeper markdown now beats a write-off later.
	MarkDownNow RiskAction = "mark_down_now"
	// MoveToDealsEarly: a regular lot within EarlyDealWindow of expiry that
	// will not sell out at the list price.
	MoveToDealsEarly RiskAction = "move_to_deals_early"
	// NoAction: nothing to do yet (the lot sells out in time, or it is
	// too early to act on a regular lot).
	NoAction RiskAction = "none"
)

// RiskRateWindow is how far back the at-risk list reads a lot's sales to
// estimate its sell rate (a domain.SellRate with DefaultRateHalfLife): a
// lot with no sale in it has no rate of its own.
const RiskRateWindow = 24 * time.Hour

// AtRiskUnits is the expected unsold units from which a lot counts as at
// risk: less than one unit left over is a lot that sells out.
const AtRiskUnits = 1.0

// AtRisk reports whether a lot expected to leave expectedUnsold units at
// expiry is at risk.
func AtRisk(expectedUnsold float64) bool { return expectedUnsold >= AtRiskUnits }

// SuggestAction picks the action for a lot in state with left before its
// expiry and expectedUnsold units expected to remain then. A closing-soon
// lot at risk is marked down; a regular one is moved to the deals once it
// is within EarlyDealWindow of expiry, and left alone before that (its sell
// rate has days to change, and nothing would make it sell at a markdown).
func SuggestAction(state LotState, left time.Duration, expectedUnsold float64) RiskAction {
	if !AtRisk(expectedUnsold) || left <= 0 {
		return NoAction
	}
	switch state {
	case ClosingSoon:
		return MarkDownNow
	case Regular:
		if left <= EarlyDealWindow {
			return MoveToDealsEarly
		}
	}
	return NoAction
}

// AtRiskLot is one line of the at-risk list: a live lot, the sell rate it
// is expected to keep, and what it is expected to leave unsold at expiry.
type AtRiskLot struct {
	LotID       int64     `json:"lot_id"`
	ProductID   int64     `json:"product_id"`
	WarehouseID int64     `json:"warehouse_id"`
	State       LotState  `json:"state"`
	ExpiresAt   time.Time `json:"expires_at"`
	HoursLeft   float64   `json:"hours_left"`
	OnHand      int64     `json:"on_hand"`
	// RatePerHour is the units per hour the lot is expected to sell;
	// RateSource says where it came from: "lot" (its own recent sales),
	// "product" (the product's rate across warehouses, for a lot with no
	// recent sales) or "none" (nothing of the product sold recently).
	RatePerHour    float64 `json:"rate_per_hour"`
	RateSource     string  `json:"rate_source"`
	ExpectedUnsold float64 `json:"expected_unsold"`
	// UnitPrice is the lot's list price; ValueAtRisk the expected unsold
	// units at that price, the value a write-off would lose.
	UnitPrice   KRW        `json:"unit_price"`
	ValueAtRisk KRW        `json:"value_at_risk"`
	Action      RiskAction `json:"action"`
}

// AtRiskList is the at-risk list as weighed at At: of the Weighed live
// lots, AtRisk are at risk; Lots holds the worst of them (at most
// MaxAtRiskListed), worst value first.
type AtRiskList struct {
	At      time.Time
	Weighed int
	AtRisk  int
	Lots    []AtRiskLot
}

// MaxAtRiskListed bounds the lots an at-risk list keeps.
const MaxAtRiskListed = 1000
