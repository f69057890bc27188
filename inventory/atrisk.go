package inventory

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"shelflife/domain"
)

// RiskLot is a live lot as the at-risk list needs it.
type RiskLot struct {
	ID          int64
	ProductID   int64
	WarehouseID int64
	State       domain.LotState
	ExpiresAt   time.Time
	OnHand      int64
	Price       domain.KRW
}

// SalesSlice is the units a lot had deducted in one slice of time that
// ended Ago before now.
type SalesSlice struct {
	LotID       int64
	ProductID   int64
	WarehouseID int64
	Ago         time.Duration
	Units       int64
}

// RiskStore is what the at-risk list needs of MySQL.
type RiskStore interface {
	// RiskLots lists the live lots with units on hand at now that expire
	// by until (of one warehouse, or all when warehouseID is 0).
	RiskLots(ctx context.Context, now, until time.Time, warehouseID int64) ([]RiskLot, error)
	// RecentSales sums the units deducted in [since, now) from the live
	// lots of every warehouse expiring by until, by slices of step counted
	// back from now (a product's fallback rate is taken across warehouses,
	// so one warehouse's list needs them all too).
	RecentSales(ctx context.Context, since, now, until time.Time, step time.Duration) ([]SalesSlice, error)
}

// RateSlice is the length of the slices of time in which the sales of the
// last domain.RiskRateWindow are read; each slice's units count as sold
// at its middle.
const RateSlice = 10 * time.Minute

// ErrNoRiskStore: the service was built without a RiskStore.
var ErrNoRiskStore = errors.New("this node has no at-risk figures")

// RiskMaxAge is how long an at-risk list is served again to the next
// callers before it is weighed anew: on a large shop weighing reads every
// live lot in the horizon, and several admin pages open at once should
// cost one reading, not one each.
const RiskMaxAge = 20 * time.Second

type riskKey struct {
	warehouse int64
	within    time.Duration
}

// riskRun is one weighing: callers that come while it runs wait for it.
type riskRun struct {
	done chan struct{}
	list domain.AtRiskList
	err  error
}

type riskRuns struct {
	mu   sync.Mutex
	runs map[riskKey]*riskRun
}

// AtRisk lists the live lots expiring within the given time (of one
// warehouse, or all when warehouseID is 0) expected to leave units unsold
// at expiry at their current sell rate, worst value first. A lot expiring
// later is not weighed; the lots sold before one that is always are, since
// they expire earlier. A list weighed less than RiskMaxAge ago, or being
// weighed, is shared.
func (s *Service) AtRisk(ctx context.Context, warehouseID int64, within time.Duration) (domain.AtRiskList, error) {
	if s.Risk == nil {
		return domain.AtRiskList{}, ErrNoRiskStore
	}
	k := riskKey{warehouseID, within}
	now := s.Now()
	s.risk.mu.Lock()
	r := s.risk.runs[k]
	if r == nil || (isDone(r) && (r.err != nil || now.Sub(r.list.At) >= RiskMaxAge || now.Before(r.list.At))) {
		r = &riskRun{done: make(chan struct{})}
		if s.risk.runs == nil {
			s.risk.runs = map[riskKey]*riskRun{}
		}
		for key, old := range s.risk.runs { // forget the stale lists of other horizons and warehouses
			if isDone(old) && (old.err != nil || now.Sub(old.list.At) >= RiskMaxAge) {
				delete(s.risk.runs, key)
			}
		}
		s.risk.runs[k] = r
		s.risk.mu.Unlock()
		r.list, r.err = s.weigh(ctx, now, warehouseID, within)
		close(r.done)
		return r.list, r.err
	}
	s.risk.mu.Unlock()
	select {
	case <-r.done:
		return r.list, r.err
	case <-ctx.Done():
		return domain.AtRiskList{}, ctx.Err()
	}
}

func isDone(r *riskRun) bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// weigh reads the lots and their recent sales at now and ranks them.
func (s *Service) weigh(ctx context.Context, now time.Time, warehouseID int64, within time.Duration) (domain.AtRiskList, error) {
	until := now.Add(within)
	lots, err := s.Risk.RiskLots(ctx, now, until, warehouseID)
	if err != nil {
		return domain.AtRiskList{}, err
	}
	sales, err := s.Risk.RecentSales(ctx, now.Add(-domain.RiskRateWindow), now, until, RateSlice)
	if err != nil {
		return domain.AtRiskList{}, err
	}
	ranked := RankAtRisk(now, lots, sales, domain.DefaultRateHalfLife)
	// A copy of the worst, so that the shared list does not hold on to a
	// million lines.
	return domain.AtRiskList{At: now, Weighed: len(lots), AtRisk: len(ranked),
		Lots: slices.Clone(ranked[:min(len(ranked), domain.MaxAtRiskListed)])}, nil
}

// RankAtRisk weighs each lot at now and keeps those at risk, worst value
// first (then soonest expiry, then lot id).
//
// A closing-soon lot is sold lot by lot, so it keeps its own rate. Regular
// stock of a product in a warehouse is sold first-expiry-first-out, so the
// rate that counts is the warehouse's for the product (the sum of its
// regular lots' rates) and a lot sells only after the lots expiring before
// it: its expected unsold units are what the queue up to and including it
// leaves at its expiry, at most its own units. A lot, or a warehouse's
// regular stock, with no sale in the window takes the product's rate per
// warehouse instead: the product's sales in every warehouse over the
// number of warehouses holding it.
func RankAtRisk(now time.Time, lots []RiskLot, sales []SalesSlice, halfLife time.Duration) []domain.AtRiskLot {
	type wp struct{ warehouse, product int64 }
	sales = append([]SalesSlice(nil), sales...)
	sort.SliceStable(sales, func(i, j int) bool { return sales[i].Ago > sales[j].Ago }) // oldest first
	own := map[int64]domain.SellRate{}
	for _, x := range sales {
		// Each slice's units are dated at its middle.
		own[x.LotID] = own[x.LotID].Observe(int(x.Units), now.Add(-x.Ago-RateSlice/2), halfLife)
	}
	rate := func(id int64) float64 { return own[id].Rate(now, halfLife) }
	productRate := map[int64]float64{}
	holders := map[int64]map[int64]bool{}
	for _, x := range sales {
		if holders[x.ProductID] == nil {
			holders[x.ProductID] = map[int64]bool{}
		}
		holders[x.ProductID][x.WarehouseID] = true
	}
	seen := map[int64]bool{}
	for _, x := range sales {
		if !seen[x.LotID] {
			seen[x.LotID] = true
			productRate[x.ProductID] += rate(x.LotID)
		}
	}
	regular := map[wp][]RiskLot{}
	for _, l := range lots {
		if holders[l.ProductID] == nil {
			holders[l.ProductID] = map[int64]bool{}
		}
		holders[l.ProductID][l.WarehouseID] = true
		if l.State == domain.Regular {
			k := wp{l.WarehouseID, l.ProductID}
			regular[k] = append(regular[k], l)
		}
	}
	fallback := func(product int64) (float64, string) {
		if r := productRate[product]; r > 0 {
			return r / float64(len(holders[product])), "product"
		}
		return 0, "none"
	}

	var out []domain.AtRiskLot
	add := func(l RiskLot, r float64, source string, unsold float64) {
		if !domain.AtRisk(unsold) {
			return
		}
		left := l.ExpiresAt.Sub(now)
		out = append(out, domain.AtRiskLot{LotID: l.ID, ProductID: l.ProductID, WarehouseID: l.WarehouseID, State: l.State,
			ExpiresAt: l.ExpiresAt.UTC(), HoursLeft: left.Hours(), OnHand: l.OnHand, RatePerHour: r, RateSource: source,
			ExpectedUnsold: unsold, UnitPrice: l.Price, ValueAtRisk: domain.KRW(unsold * float64(l.Price)), Action: domain.SuggestAction(l.State, left, unsold)})
	}
	for _, l := range lots {
		if l.State != domain.ClosingSoon {
			continue
		}
		r, source := rate(l.ID), "lot"
		if r <= 0 {
			r, source = fallback(l.ProductID)
		}
		add(l, r, source, domain.ExpectedUnsold(int(l.OnHand), r, l.ExpiresAt.Sub(now)))
	}
	for _, queue := range regular {
		sort.Slice(queue, func(i, j int) bool {
			if !queue[i].ExpiresAt.Equal(queue[j].ExpiresAt) {
				return queue[i].ExpiresAt.Before(queue[j].ExpiresAt)
			}
			return queue[i].ID < queue[j].ID
		})
		var r float64
		for _, l := range queue {
			r += rate(l.ID)
		}
		source := "warehouse"
		if r <= 0 {
			r, source = fallback(queue[0].ProductID)
		}
		var ahead int64
		for _, l := range queue {
			unsold := domain.ExpectedUnsold(int(ahead+l.OnHand), r, l.ExpiresAt.Sub(now))
			add(l, r, source, min(unsold, float64(l.OnHand)))
			ahead += l.OnHand
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.ValueAtRisk != b.ValueAtRisk {
			return a.ValueAtRisk > b.ValueAtRisk
		}
		if !a.ExpiresAt.Equal(b.ExpiresAt) {
			return a.ExpiresAt.Before(b.ExpiresAt)
		}
		return a.LotID < b.LotID
	})
	return out
}
