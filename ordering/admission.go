package ordering

import (
	"context"
	"fmt"

	"shelflife/domain"
)

// admission bounds the orders being placed at once on this node. In a
// flash sale every shopper presses "buy" in the same instant; without a
// bound all of them are placed at once and the payers who already approved
// wait behind them. With one, the rest wait in line (up to their request's
// deadline) and approvals keep the machine mostly to themselves. Approvals
// are never bounded. A nil admission admits everyone.
type admission chan struct{}

func newAdmission(n int) admission {
	if n <= 0 {
		return nil
	}
	return make(admission, n)
}

// enter waits for a place; the caller calls leave when done. When ctx ends
// first the order is not placed and the shopper may try again.
func (a admission) enter(ctx context.Context) error {
	if a == nil {
		return nil
	}
	select {
	case a <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting to place the order: %w: %w", ctx.Err(), domain.ErrUnavailable)
	}
}

func (a admission) leave() {
	if a != nil {
		<-a
	}
}

// Admitting reports how many orders are being placed and how many may be
// at once (0: no bound).
func (s *Service) Admitting() (held, capacity int) { return len(s.admit), cap(s.admit) }
