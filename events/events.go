// Package events is ShelfLife's side of Kafka above package kafkabus: the
// topics, the publishers that queue lot and order changes for Kafka without
// ever blocking a grain (publisher.go, stock.go, orders.go), the outbox
// relay (relay.go), and inventory's consumer of "order failed" events,
// compensation 2 (restore.go).
package events

import (
	"context"
	"log/slog"
)

// Topics besides saga.OrderFailedTopic.
const (
	// StockTopic carries every committed lot change as JSON
	// (domain.LotEvent).
	StockTopic = "shelflife.stock"
	// OrdersTopic carries every order status change (domain.Order as JSON)
	// so that order sockets on every node hear about it.
	OrdersTopic = "shelflife.orders"
	// CatalogTopic says "warehouses or products changed": every node
	// reloads its read model's catalog.
	CatalogTopic = "shelflife.catalog"
)

// Producer writes batches of messages to a topic (kafkabus.Bus).
type Producer interface {
	PublishBatch(topic string, keys, values [][]byte) error
}

// batchMax bounds the messages of one produce request.
const batchMax = 500

// Publisher queues values of one kind and publishes them to one topic in
// the background: what queued while a batch was being sent goes in the
// next one. A failed batch is reported, not retried: these are
// notifications, and MySQL stays the truth. Offer never blocks.
type Publisher[T any] struct {
	topic  string
	encode func(T) (key, value []byte)
	out    Producer
	log    *slog.Logger
	queue  chan T
	done   chan struct{}
}

// NewPublisher starts a publisher of up to size queued values.
func NewPublisher[T any](out Producer, topic string, size int, encode func(T) (key, value []byte), log *slog.Logger) *Publisher[T] {
	p := &Publisher[T]{topic: topic, encode: encode, out: out, log: log, queue: make(chan T, size), done: make(chan struct{})}
	go p.run()
	return p
}

// Offer queues v, or reports false when the queue is full.
func (p *Publisher[T]) Offer(v T) bool {
	select {
	case p.queue <- v:
		return true
	default:
		return false
	}
}

func (p *Publisher[T]) run() {
	defer close(p.done)
	var keys, values [][]byte
	add := func(v T) {
		k, b := p.encode(v)
		keys, values = append(keys, k), append(values, b)
	}
	for first := range p.queue {
		keys, values = keys[:0], values[:0]
		add(first)
	drain:
		for len(values) < batchMax {
			select {
			case more, ok := <-p.queue:
				if !ok {
					break drain
				}
				add(more)
			default:
				break drain
			}
		}
		if err := p.out.PublishBatch(p.topic, keys, values); err != nil {
			p.log.Warn("publish events", "topic", p.topic, "count", len(values), "error", err.Error())
		}
	}
}

// Close publishes what is queued, then stops; Offer must not be called
// any more.
func (p *Publisher[T]) Close(ctx context.Context) error {
	close(p.queue)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
