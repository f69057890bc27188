package ordering

import (
	"context"
	"fmt"
	"sync"

	"shelflife/domain"
)

// unpaidCap bounds the orders one shopper has waiting for payment, so that
// one account cannot hold stock and Kakao Pay ready calls by the thousand.
// The store counts them in the order's own insert (Store.CreateOrder with
// maxUnpaid); a shopper's placements take turns on this node so that each
// count sees the order before it; on several nodes at the very same moment
// a shopper can pass the bound by one order per other node.
type unpaidCap struct {
	max int

	mu    sync.Mutex
	turns map[int64]*turn
}

type turn struct {
	ch   chan struct{}
	refs int
}

func newUnpaidCap(max int) *unpaidCap {
	return &unpaidCap{max: max, turns: map[int64]*turn{}}
}

// take waits for the shopper's turn and answers a release to call once the
// new order is stored (or refused).
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
	return release, nil
}
