package membertest

import (
	"context"
	"sync"
	"testing"
)

// Gate holds the first call that passes it until Open, so that a test can
// act on a grain while the grain's work is on its way (a commit, a read).
// Entered is closed when that call arrives; later calls pass at once.
type Gate struct {
	Entered chan struct{}
	release chan struct{}
	first   sync.Once
	open    sync.Once
}

// NewGate is a closed gate, opened when tb ends if the test did not.
func NewGate(tb testing.TB) *Gate {
	g := &Gate{Entered: make(chan struct{}), release: make(chan struct{})}
	tb.Cleanup(g.Open)
	return g
}

// Pass holds the first caller until Open or ctx ends (then ctx's error).
func (g *Gate) Pass(ctx context.Context) error {
	first := false
	g.first.Do(func() { first = true })
	if !first {
		return nil
	}
	close(g.Entered)
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Open lets the held call go on; it may be called more than once.
func (g *Gate) Open() { g.open.Do(func() { close(g.release) }) }
