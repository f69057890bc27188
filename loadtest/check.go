package loadtest

import "fmt"

// LotState is a lot as the admin API reports it.
type LotState struct {
	ID         int64 `json:"id"`
	Received   int64 `json:"received"`
	OnHand     int64 `json:"on_hand"`
	Held       int64 `json:"held"`
	Deducted   int64 `json:"deducted"`
	Restored   int64 `json:"restored"`
	WrittenOff int64 `json:"written_off"`
}

// Payment is one payment in the fake Kakao Pay's ledger.
type Payment struct {
	PartnerOrderID string `json:"partner_order_id"`
	Status         string `json:"status"`
	Amount         int64  `json:"amount"`
	Canceled       int64  `json:"canceled"`
	Approvals      int    `json:"approvals"`
}

// Observed is what a run leaves behind, as read back from the shop and the
// fake Kakao Pay.
type Observed struct {
	Stock int64
	Lots  []LotState
	// OrderStatus is the shop's status of every order the run placed.
	OrderStatus map[string]string
	// OrderUnits is the units each order asked for.
	OrderUnits map[string]int64
	Payments   []Payment
}

// Verdict is the invariant check's result.
type Verdict struct {
	OrdersPaid        int64    `json:"orders_paid"`
	UnitsSold         int64    `json:"units_sold"`
	Oversold          int64    `json:"oversold"`
	NotConserved      int64    `json:"not_conserved"`
	TakenWithoutOrder int64    `json:"taken_without_order"`
	PaidWithoutMoney  int64    `json:"paid_without_money"`
	DoubleCharged     int64    `json:"double_charged"`
	Problems          []string `json:"problems"`
}

// OK reports whether every invariant held.
func (v Verdict) OK() bool { return len(v.Problems) == 0 }

// Check tests the invariants: units sold never exceed the stock and match
// the PAID orders; every lot is conserved (received = on_hand + held +
// deducted - restored + written_off); every payment taken belongs to a PAID order (or
// was refunded in full) and every PAID order was paid, once.
func Check(o Observed) Verdict {
	v := Verdict{Problems: []string{}}
	var taken int64
	for _, l := range o.Lots {
		taken += l.Deducted - l.Restored
		if l.OnHand < 0 {
			v.Oversold += -l.OnHand
		}
		if l.Received != l.OnHand+l.Held+l.Deducted-l.Restored+l.WrittenOff {
			v.NotConserved++
			v.Problems = append(v.Problems, fmt.Sprintf("lot %d not conserved: %+v", l.ID, l))
		}
	}
	var paidUnits int64
	for id, st := range o.OrderStatus {
		if st == "PAID" {
			v.OrdersPaid++
			paidUnits += o.OrderUnits[id]
		}
	}
	v.UnitsSold = paidUnits
	if paidUnits > o.Stock {
		v.Oversold += paidUnits - o.Stock
	}
	if v.Oversold > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("%d units oversold (stock %d, sold %d)", v.Oversold, o.Stock, paidUnits))
	}
	if taken != paidUnits {
		v.Problems = append(v.Problems, fmt.Sprintf("the lots gave out %d units but PAID orders hold %d", taken, paidUnits))
	}
	paidAt := map[string]bool{}
	for _, p := range o.Payments {
		st, ours := o.OrderStatus[p.PartnerOrderID]
		if !ours {
			continue
		}
		if p.Approvals > 1 {
			v.DoubleCharged++
			v.Problems = append(v.Problems, fmt.Sprintf("order %s approved %d times", p.PartnerOrderID, p.Approvals))
		}
		kept := p.Status == "SUCCESS_PAYMENT" || (p.Status == "CANCEL_PAYMENT" && p.Canceled < p.Amount)
		if kept {
			paidAt[p.PartnerOrderID] = true
			if st != "PAID" {
				v.TakenWithoutOrder++
				v.Problems = append(v.Problems, fmt.Sprintf("money taken for order %s, which is %s", p.PartnerOrderID, st))
			}
		}
	}
	for id, st := range o.OrderStatus {
		if st == "PAID" && !paidAt[id] {
			v.PaidWithoutMoney++
			v.Problems = append(v.Problems, fmt.Sprintf("order %s is PAID but no payment was taken", id))
		}
	}
	return v
}
