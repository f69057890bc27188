package ordering

import (
	"context"
	"fmt"
	"sync"

	"shelflife/domain"
)

// shopperTurns makes one shopper's placements on this node store their
// orders one after another, so that the bound on a shopper's unpaid orders
// (checked by Store.CreateOrder in the insert itself) sees each of them:
// two orders of one shopper stored at once would each count the other and
// could both be refused. On several nodes at the very same moment a
// shopper can pass the bound by one order per other node.
type shopperTurns struct {
	on bool

	mu    sync.Mutex
	turns map[int64]*turn
}

type turn struct {
	ch   chan struct{}
	refs int
}

func newShopperTurns(on bool) *shopperTurns {
	return &shopperTurns{on: on, turns: map[int64]*turn{}}
}

// take waits for the shopper's turn and answers a release to call once
// the new order is stored (or refused).
func (u *shopperTurns) take(ctx context.Context, userID int64) (release func(), err error) {
	if u == nil || !u.on {
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
	return func() {
		<-t.ch
		done()
	}, nil
}
