package ordering

import (
	"context"
	"fmt"
	"sync"

	"shelflife/domain"
)

// unpaidCap bounds the orders one shopper has waiting for payment, so that
// one account cannot hold stock and Kakao Pay ready calls by the thousand.
// A shopper's placements take turns on this node between counting and
// storing the order; on several nodes at the very same moment a shopper
// can pass the bound by one order per other node.
type unpaidCap struct {
	max   int
	count func(ctx context.Context, userID int64) (int, error)

	mu    sync.Mutex
	turns map[int64]*turn
}

type turn struct {
	ch   chan struct{}
	refs int
}

func newUnpaidCap(max int, count func(context.Context, int64) (int, error)) *unpaidCap {
	return &unpaidCap{max: max, count: count, turns: map[int64]*turn{}}
}

// take waits for the shopper's turn and counts their unpaid orders. Below
// the bound it answers a release to call once the new order is stored (or
// refused); at the bound, domain.ErrTooManyUnpaid.
func (u *unpaidCap) take(ctx context.Context, userID int64) (release func(), err error) {
	if u == nil || u.max <= 0 {
		return func() {}, nil
	}
	u.mu.Lock()
	t := u.turns[userID]
	if t == nil {
		t = &turn{ch: make(chan struct{}, 1)}
		u.turns[userID] = t
	}
	t.refs++
	u.mu.Unlock()
	done := func() {
		u.mu.Lock()
		if t.refs--; t.refs == 0 {
			delete(u.turns, userID)
		}
		u.mu.Unlock()
	}
	select {
	case t.ch <- struct{}{}:
	case <-ctx.Done():
		done()
		return nil, fmt.Errorf("wait for the shopper's other orders: %v: %w", ctx.Err(), domain.ErrUnavailable)
	}
	release = func() {
		<-t.ch
		done()
	}
	n, err := u.count(ctx, userID)
	if err != nil {
		release()
		return nil, err
	}
	if n >= u.max {
		release()
		return nil, fmt.Errorf("user %d has %d unpaid orders: %w", userID, n, domain.ErrTooManyUnpaid)
	}
	return release, nil
}
