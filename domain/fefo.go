package domain

import (
	"sort"
	"time"
)

// LotStock is what an allocator needs to know of one lot.
type LotStock struct {
	LotID     int64
	ExpiresAt time.Time
	Available int64
}

// Allocation takes Quantity units from one lot.
type Allocation struct {
	LotID    int64
	Quantity int64
}

// AllocateFEFO takes qty units from lots, first expired first out, splitting
// across lots when one is short. It returns the allocations and the quantity
// it could not place (0 when the lots hold enough). Ties on expiry go to the
// lower lot id so that the result is deterministic.
func AllocateFEFO(lots []LotStock, qty int64) ([]Allocation, int64) {
	sorted := append([]LotStock(nil), lots...)
	sort.Slice(sorted, func(i, j int) bool {
		if !sorted[i].ExpiresAt.Equal(sorted[j].ExpiresAt) {
			return sorted[i].ExpiresAt.Before(sorted[j].ExpiresAt)
		}
		return sorted[i].LotID < sorted[j].LotID
	})
	var out []Allocation
	for _, l := range sorted {
		if qty <= 0 {
			break
		}
		if l.Available <= 0 {
			continue
		}
		take := min(l.Available, qty)
		out = append(out, Allocation{LotID: l.LotID, Quantity: take})
		qty -= take
	}
	return out, qty
}
