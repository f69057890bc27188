package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"shelflife/actors/saga"
	"shelflife/domain"
)

// RestoreConsumerName is the consumer group of Restorer, and its name in
// the processed-events table.
const RestoreConsumerName = "inventory-restore"

// Processed remembers the events a consumer handled.
type Processed interface {
	Processed(ctx context.Context, consumer, id string) (bool, error)
	MarkProcessed(ctx context.Context, consumer, id string) error
}

// Restorer is inventory's side of compensation 2: it reads "order failed"
// events (saga.OrderFailedTopic) and puts the stock back, once per event.
type Restorer struct {
	Store Processed
	Stock saga.Returner
	Log   *slog.Logger
}

// Handle takes one event; an error leaves it to be read again.
func (c Restorer) Handle(ctx context.Context, _, value []byte) error {
	var ev domain.OrderFailedEvent
	if err := json.Unmarshal(value, &ev); err != nil || ev.EventID == "" {
		c.Log.Warn("undecodable order-failed event; skipped", "payload", string(value))
		return nil
	}
	done, err := c.Store.Processed(ctx, RestoreConsumerName, ev.EventID)
	if err != nil {
		return err
	}
	if done {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := saga.Restore(rctx, c.Stock, ev); err != nil {
		c.Log.Warn("restore a failed order's stock; will retry", "order", ev.OrderID, "error", err.Error())
		return err
	}
	return c.Store.MarkProcessed(ctx, RestoreConsumerName, ev.EventID)
}
