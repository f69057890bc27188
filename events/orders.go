package events

import (
	"context"
	"encoding/json"
	"log/slog"

	"shelflife/domain"
)

// OrderEvents tells order sockets of this node at once and those of the
// other nodes through Kafka (OrdersTopic). It never blocks a saga.
type OrderEvents struct {
	// Local, when set, hears every change first (this node's sockets).
	Local func(domain.Order)
	pub   *Publisher[domain.Order]
	log   *slog.Logger
}

// NewOrderEvents publishes to OrdersTopic through out.
func NewOrderEvents(out Producer, log *slog.Logger) *OrderEvents {
	pub := NewPublisher(out, OrdersTopic, 4096, func(o domain.Order) ([]byte, []byte) {
		v, _ := json.Marshal(o)
		return []byte(o.ID), v
	}, log)
	return &OrderEvents{pub: pub, log: log}
}

// OrderChanged implements saga.Notifier.
func (e *OrderEvents) OrderChanged(o domain.Order) {
	if e.Local != nil {
		e.Local(o)
	}
	if !e.pub.Offer(o) {
		e.log.Warn("order event queue full", "order", o.ID)
	}
}

// Close publishes what is queued, then stops.
func (e *OrderEvents) Close(ctx context.Context) error { return e.pub.Close(ctx) }

// OrderReader is the handler of OrdersTopic: it hands each order read
// from Kafka to deliver.
func OrderReader(deliver func(domain.Order)) func(key, value []byte) {
	return func(_, value []byte) {
		var o domain.Order
		if json.Unmarshal(value, &o) == nil {
			deliver(o)
		}
	}
}
