package node

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"shelflife/actors/lot"
	"shelflife/domain"
	"shelflife/kafkabus"
	"shelflife/persistence/mysqlstore"
	"shelflife/stockview"
)

// StockTopic carries every committed lot change as JSON (lot.Event).
const StockTopic = "shelflife.stock"

// eventSink receives the lot grains' events: it applies them to this
// node's read model at once and queues them for Kafka, where other nodes
// (and any outside consumer) read them. It never blocks a grain: when the
// queue is full an event is dropped from Kafka (counted) — the read models
// are rebuilt from MySQL at start, which stays the truth.
type eventSink struct {
	view    *stockview.View
	bus     *kafkabus.Bus
	log     *slog.Logger
	queue   chan lot.Event
	dropped atomic.Int64
	done    chan struct{}
}

func newEventSink(view *stockview.View, bus *kafkabus.Bus, log *slog.Logger) *eventSink {
	s := &eventSink{view: view, bus: bus, log: log, queue: make(chan lot.Event, 16384), done: make(chan struct{})}
	go s.run()
	return s
}

// LotChanged implements lot.Publisher.
func (s *eventSink) LotChanged(e lot.Event) {
	s.view.Apply(e)
	select {
	case s.queue <- e:
	default:
		if s.dropped.Add(1)%1000 == 1 {
			s.log.Warn("stock event queue full; events dropped from kafka", "dropped", s.dropped.Load())
		}
	}
}

func (s *eventSink) run() {
	defer close(s.done)
	publishQueued(s.queue, func(e lot.Event) ([]byte, []byte) {
		v, _ := json.Marshal(e)
		return []byte(strconv.FormatInt(e.LotID, 10)), v
	}, func(keys, values [][]byte) error {
		return s.bus.PublishBatch(StockTopic, keys, values)
	}, func(n int, err error) {
		s.log.Warn("publish stock events", "count", n, "error", err.Error())
	})
}

// close publishes what is queued, then stops.
func (s *eventSink) close(ctx context.Context) error {
	close(s.queue)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// applyRemote takes an event read from Kafka (possibly our own).
func applyRemote(view *stockview.View, log *slog.Logger) func(key, value []byte) {
	return func(_, value []byte) {
		var e lot.Event
		if err := json.Unmarshal(value, &e); err != nil {
			log.Warn("undecodable stock event", "error", err.Error())
			return
		}
		view.Apply(e)
	}
}

// inventory serves the admin's lot endpoints.
type inventory struct {
	store *mysqlstore.Store
	sink  *eventSink
	lots  func() *lot.Client
	now   func() time.Time
	log   *slog.Logger
}

// ReceiveLot stores the lot, shows it, and wakes its grain so that its
// expiry timers run.
func (inv *inventory) ReceiveLot(ctx context.Context, l domain.Lot) (domain.Lot, error) {
	// CreateLot tells an unknown product from an unknown warehouse.
	created, err := inv.store.CreateLot(ctx, l, inv.now())
	if err != nil {
		return domain.Lot{}, err
	}
	inv.sink.LotChanged(lot.Event{LotID: created.ID, ProductID: created.ProductID, WarehouseID: created.WarehouseID,
		ExpiresAt: created.ExpiresAt, OnHand: created.OnHand, State: created.State, At: inv.now()})
	go inv.wake(created.ID)
	return created, nil
}

func (inv *inventory) wake(id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := inv.lots().Get(ctx, id); err != nil {
		inv.log.Warn("wake lot", "lot", id, "error", err.Error())
	}
}

func (inv *inventory) Lots(ctx context.Context, f domain.LotFilter) ([]domain.Lot, error) {
	return inv.store.Lots(ctx, f)
}

func (inv *inventory) WasteReport(ctx context.Context, from, to time.Time) ([]domain.WasteRow, error) {
	return inv.store.WasteReport(ctx, from, to)
}

// periodic runs a job now and then every interval, until closed. The job's
// context ends when close begins, so a long job stops at its next call
// instead of holding the shutdown.
type periodic struct {
	cancel context.CancelFunc
	ended  chan struct{}
}

func startPeriodic(interval time.Duration, job func(context.Context)) *periodic {
	ctx, cancel := context.WithCancel(context.Background())
	p := &periodic{cancel: cancel, ended: make(chan struct{})}
	go func() {
		defer close(p.ended)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			job(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// close stops the job and waits for it to end, or for ctx.
func (p *periodic) close(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.cancel()
	select {
	case <-p.ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sweeper activates lots whose transition came while no grain held them,
// at start and then periodically; the grains do the rest.
type sweeper struct {
	store    *mysqlstore.Store
	lots     *lot.Client
	now      func() time.Time
	interval time.Duration
	log      *slog.Logger
	loop     *periodic
}

func (s *sweeper) start() {
	s.loop = startPeriodic(s.interval, func(ctx context.Context) { s.sweep(ctx) })
}

// sweep wakes every due lot, until ctx ends; it reports how many were due.
func (s *sweeper) sweep(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ids, err := s.store.DueLots(ctx, s.now())
	if err != nil {
		s.log.Warn("sweep", "error", err.Error())
		return 0
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return 0
		}
		if _, err := s.lots.Get(ctx, id); err != nil {
			s.log.Warn("sweep lot", "lot", id, "error", err.Error())
		}
	}
	if len(ids) > 0 {
		s.log.Info("sweep woke lots past their transition", "lots", len(ids))
	}
	return len(ids)
}

func (s *sweeper) close(ctx context.Context) error { return s.loop.close(ctx) }
