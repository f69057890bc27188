package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync/atomic"

	"shelflife/domain"
)

// View is the read model a node keeps of stock (stockview.View).
type View interface {
	Apply(e domain.LotEvent) bool
	ApplyAll(es []domain.LotEvent) int
}

// StockSink receives the lot grains' events: it applies them to this
// node's read model at once and queues them for Kafka, where other nodes
// (and any outside consumer) read them. It never blocks a grain: when the
// queue is full an event is dropped from Kafka (counted) — the read models
// are rebuilt from MySQL at start, which stays the truth.
type StockSink struct {
	view    View
	pub     *Publisher[domain.LotEvent]
	log     *slog.Logger
	dropped atomic.Int64
}

// NewStockSink publishes to StockTopic through out.
func NewStockSink(view View, out Producer, log *slog.Logger) *StockSink {
	pub := NewPublisher(out, StockTopic, 16384, func(e domain.LotEvent) ([]byte, []byte) {
		v, _ := json.Marshal(e)
		return []byte(strconv.FormatInt(e.LotID, 10)), v
	}, log)
	return &StockSink{view: view, pub: pub, log: log}
}

// LotChanged implements lot.Publisher.
func (s *StockSink) LotChanged(e domain.LotEvent) {
	s.view.Apply(e)
	s.offer(e)
}

// LotsChanged takes the changes of many lots at once (the lot sweep's):
// the read model applies them under one lock and its listeners hear them
// as one change.
func (s *StockSink) LotsChanged(es []domain.LotEvent) {
	s.view.ApplyAll(es)
	for _, e := range es {
		s.offer(e)
	}
}

func (s *StockSink) offer(e domain.LotEvent) {
	if !s.pub.Offer(e) {
		if s.dropped.Add(1)%1000 == 1 {
			s.log.Warn("stock event queue full; events dropped from kafka", "dropped", s.dropped.Load())
		}
	}
}

// Close publishes what is queued, then stops.
func (s *StockSink) Close(ctx context.Context) error { return s.pub.Close(ctx) }

// ApplyRemote is the handler of StockTopic: it takes an event read from
// Kafka (possibly this node's own) into view.
func ApplyRemote(view View, log *slog.Logger) func(key, value []byte) {
	return func(_, value []byte) {
		var e domain.LotEvent
		if err := json.Unmarshal(value, &e); err != nil {
			log.Warn("undecodable stock event", "error", err.Error())
			return
		}
		view.Apply(e)
	}
}
