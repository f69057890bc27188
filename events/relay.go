package events

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"shelflife/domain"
)

// Outbox is what the relay needs of MySQL.
type Outbox interface {
	PendingOutbox(ctx context.Context, limit int) ([]domain.OutboxMessage, error)
	MarkPublished(ctx context.Context, ids []int64, now time.Time) error
}

// Relay publishes the outbox to Kafka: at least once, in order of writing.
// Consumers de-duplicate by event id. Run it as a periodic.Job.
type Relay struct {
	Store Outbox
	Out   Producer
	Now   func() time.Time
	Log   *slog.Logger

	// failures counts publish attempts that failed (each is retried at
	// the next run); behindSince is when the outbox last started to hold
	// messages the relay could not publish, publishingSince when the
	// publish in hand began (unix nanoseconds, 0: none).
	failures, behindSince, publishingSince atomic.Int64
}

// Failures is how many times publishing or reading the outbox failed and
// was left for the next run.
func (r *Relay) Failures() int64 { return r.failures.Load() }

// Lag is how long the outbox has held messages the relay could not
// publish (Kafka or MySQL away), or how long the publish in hand has
// waited if that is longer (a broker that stopped answering fails
// nothing, it only holds the publish); 0 when the last run emptied it.
func (r *Relay) Lag() time.Duration {
	since := r.behindSince.Load()
	if p := r.publishingSince.Load(); p != 0 && (since == 0 || p < since) {
		since = p
	}
	if since == 0 {
		return 0
	}
	return max(0, r.Now().Sub(time.Unix(0, since)))
}

// behind notes a run that left messages in the outbox.
func (r *Relay) behind() {
	r.failures.Add(1)
	r.behindSince.CompareAndSwap(0, r.Now().UnixNano())
}

// Relay publishes what is pending; it reports how many messages went out.
// When stop ends it finishes the batch in hand (publishing and marking it)
// and starts no other.
func (r *Relay) Relay(stop context.Context) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sent := 0
	for stop.Err() == nil {
		msgs, err := r.Store.PendingOutbox(ctx, 200)
		if err != nil {
			r.Log.Warn("read outbox", "error", err.Error())
			r.behind()
			return sent
		}
		if len(msgs) == 0 {
			r.behindSince.Store(0)
			return sent
		}
		r.publishingSince.Store(r.Now().UnixNano())
		ids := r.publish(msgs)
		r.publishingSince.Store(0)
		if len(ids) < len(msgs) {
			r.behind()
		}
		if len(ids) == 0 {
			return sent
		}
		if err := r.Store.MarkPublished(ctx, ids, r.Now()); err != nil {
			r.Log.Warn("mark outbox published", "error", err.Error())
			r.behind()
			return sent
		}
		sent += len(ids)
	}
	return sent
}

// publish sends msgs, one batch per topic, and answers the ids sent.
func (r *Relay) publish(msgs []domain.OutboxMessage) []int64 {
	byTopic := map[string][]domain.OutboxMessage{}
	for _, m := range msgs {
		byTopic[m.Topic] = append(byTopic[m.Topic], m)
	}
	var ids []int64
	for topic, ms := range byTopic {
		keys, values := make([][]byte, len(ms)), make([][]byte, len(ms))
		for i, m := range ms {
			keys[i], values[i] = []byte(m.Key), m.Payload
		}
		if err := r.Out.PublishBatch(topic, keys, values); err != nil {
			r.Log.Warn("publish outbox", "topic", topic, "error", err.Error())
			continue
		}
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
	}
	return ids
}
