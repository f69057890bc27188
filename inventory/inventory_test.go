package inventory_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/inventory"
)

// store holds due lots in memory; AdvanceLots moves those still due.
type store struct {
	mu       sync.Mutex
	due      []int64 // soonest first
	moved    map[int64]int
	batches  [][]int64
	inFlight atomic.Int32
	maxAtOne atomic.Int32
	evaluate atomic.Bool
	// markdownDue are the lots whose markdown evaluation is due.
	markdownDue []int64
}

// grains records the lots woken.
type grains struct {
	mu    sync.Mutex
	woken []int64
}

func (g *grains) Wake(_ context.Context, id int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.woken = append(g.woken, id)
	return nil
}

func (s *store) CreateLot(context.Context, domain.Lot, time.Time) (domain.Lot, error) {
	return domain.Lot{}, nil
}
func (s *store) Lots(context.Context, domain.LotFilter) ([]domain.Lot, error) { return nil, nil }
func (s *store) WasteReport(context.Context, time.Time, time.Time) ([]domain.WasteRow, error) {
	return nil, nil
}

func (s *store) DueLots(_ context.Context, _ time.Time, limit int) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for _, id := range s.due {
		if s.moved[id] == 0 && len(out) < limit {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *store) MarkdownDueLots(_ context.Context, _ time.Time, limit int) ([]int64, error) {
	return s.markdownDue[:min(limit, len(s.markdownDue))], nil
}

func (s *store) AdvanceLots(_ context.Context, ids []int64, now time.Time, evaluate bool) ([]domain.LotEvent, error) {
	if evaluate {
		s.evaluate.Store(true)
	}
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxAtOne.Load()
		if n <= m || s.maxAtOne.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, slices.Clone(ids))
	var out []domain.LotEvent
	for _, id := range ids {
		if s.moved[id] == 0 {
			out = append(out, domain.LotEvent{LotID: id, State: domain.Expired, At: now})
		}
		s.moved[id]++
	}
	return out, nil
}

type publisher struct {
	mu     sync.Mutex
	bulk   int
	lots   []int64
	single int
}

func (p *publisher) LotChanged(domain.LotEvent) { p.mu.Lock(); p.single++; p.mu.Unlock() }
func (p *publisher) LotsChanged(es []domain.LotEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bulk++
	for _, e := range es {
		p.lots = append(p.lots, e.LotID)
	}
}

type active map[int64]bool

func (a active) Has(id int64) bool { return a[id] }

// The sweep moves every due lot without a grain here, in batches of the
// configured size on at most the configured connections, and leaves the
// lots with a grain here to their timers.
func TestSweepBatchesDueLotsAndLeavesLocalGrains(t *testing.T) {
	st := &store{moved: map[int64]int{}}
	const lots = 12_000 // more than a page
	local := active{}
	for id := int64(1); id <= lots; id++ {
		st.due = append(st.due, id)
		if id%1000 == 0 {
			local[id] = true
		}
	}
	pub := &publisher{}
	s := &inventory.Service{Store: st, Grains: &grains{}, Publisher: pub, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Active: local, SweepBatch: 300, SweepWorkers: 3}
	moved := s.Sweep(context.Background())
	if want := lots - len(local); moved != want || len(pub.lots) != want {
		t.Errorf("moved %d, published %d; want %d", moved, len(pub.lots), want)
	}
	for id := int64(1); id <= lots; id++ {
		switch n := st.moved[id]; {
		case local[id] && n != 0:
			t.Errorf("lot %d has a grain here but the sweep moved it", id)
		case !local[id] && n != 1:
			t.Errorf("lot %d moved %d times, want once", id, n)
		}
	}
	for _, b := range st.batches {
		if len(b) > 300 {
			t.Errorf("a batch of %d lots, want at most 300", len(b))
		}
	}
	if m := st.maxAtOne.Load(); m > 3 {
		t.Errorf("%d batches at once, want at most 3 (workers 3)", m)
	}
	if pub.single != 0 || pub.bulk != len(st.batches) {
		t.Errorf("published %d single events and %d bulk ones for %d batches", pub.single, pub.bulk, len(st.batches))
	}
	// Nothing is left but the local grains' lots: the next run moves none.
	if again := s.Sweep(context.Background()); again != 0 {
		t.Errorf("second sweep moved %d", again)
	}
	if st.evaluate.Load() {
		t.Error("under the ladder the sweep asked for markdown evaluations")
	}
}

// Markdown evaluations need the lot's grain: the sweep wakes the lots
// whose evaluation is due, a page at a time, except those with a grain
// here; under the adaptive markdown the lots it moves are due for one.
func TestSweepWakesLotsForTheirMarkdown(t *testing.T) {
	st := &store{moved: map[int64]int{}, due: []int64{1, 2, 3}}
	for id := int64(100); id < 1200; id++ {
		st.markdownDue = append(st.markdownDue, id)
	}
	g := &grains{}
	s := &inventory.Service{Store: st, Grains: g, Publisher: &publisher{}, Now: time.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Active: active{100: true}, Adaptive: true}
	if moved := s.Sweep(context.Background()); moved != 3 {
		t.Errorf("moved %d, want 3", moved)
	}
	if !st.evaluate.Load() {
		t.Error("under the adaptive markdown the moved lots were not marked for evaluation")
	}
	if len(g.woken) != 499 || slices.Contains(g.woken, 100) {
		t.Errorf("woke %d lots (lot 100 among them: %v), want the first page of 500 but the local one", len(g.woken), slices.Contains(g.woken, 100))
	}
}
