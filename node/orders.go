package node

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"shelflife/actors/saga"
	"shelflife/domain"
	"shelflife/kafkabus"
	"shelflife/kakaopay"
	"shelflife/persistence/mysqlstore"
)

// OrdersTopic carries every order status change (domain.Order as JSON)
// so that order sockets on every node hear about it.
const OrdersTopic = "shelflife.orders"

// payments adapts the Kakao Pay client to the saga's payment port.
type payments struct{ c *kakaopay.Client }

func (p payments) Ready(ctx context.Context, r saga.ReadyRequest) (string, string, error) {
	resp, err := p.c.Ready(ctx, kakaopay.ReadyRequest{
		PartnerOrderID: r.OrderID, PartnerUserID: strconv.FormatInt(r.UserID, 10), ItemName: r.ItemName,
		Quantity: r.Quantity, TotalAmount: int64(r.Amount), ApprovalURL: r.ApprovalURL, CancelURL: r.CancelURL, FailURL: r.FailURL,
	})
	if errors.Is(err, kakaopay.ErrUnreachable) {
		return "", "", errors.Join(saga.ErrPaymentUnreachable, err)
	}
	if err != nil {
		return "", "", err
	}
	return resp.TID, resp.NextRedirectPCURL, nil
}

func (p payments) Approve(ctx context.Context, tid, orderID string, userID int64, pgToken string, amount domain.KRW) (string, error) {
	resp, err := p.c.Approve(ctx, kakaopay.ApproveRequest{TID: tid, PartnerOrderID: orderID,
		PartnerUserID: strconv.FormatInt(userID, 10), PGToken: pgToken, TotalAmount: int64(amount)})
	switch {
	case err == nil:
		return resp.AID, nil
	case errors.Is(err, kakaopay.ErrUnknownOutcome):
		return "", errors.Join(saga.ErrOutcomeUnknown, err)
	case kakaopay.IsCode(err, kakaopay.CodeAlreadyApproved):
		return "", errors.Join(saga.ErrAlreadyApproved, err)
	}
	return "", err
}

// outcomes turns Kakao Pay's reading of a payment into the saga's.
var outcomes = map[kakaopay.Outcome]saga.PaymentOutcome{
	kakaopay.OutcomePending:  saga.PaymentPending,
	kakaopay.OutcomeTaken:    saga.PaymentTaken,
	kakaopay.OutcomeNotTaken: saga.PaymentNotTaken,
}

func (p payments) Status(ctx context.Context, tid string) (saga.PaymentOutcome, error) {
	resp, err := p.c.Order(ctx, tid)
	if err != nil {
		return saga.PaymentUnknown, err
	}
	return outcomes[resp.Outcome()], nil
}

func (p payments) Cancel(ctx context.Context, tid string, amount domain.KRW) error {
	_, err := p.c.Cancel(ctx, tid, int64(amount))
	return err
}

// callbackURLs are the addresses Kakao Pay sends the payer back to. The
// nonce proves a callback came through Kakao Pay's redirect.
type callbackURLs struct{ base string }

func (u callbackURLs) url(kind, orderID, nonce string) string {
	q := url.Values{"order_id": {orderID}, "nonce": {nonce}}
	return u.base + "/api/v1/payments/kakao/" + kind + "?" + q.Encode()
}

func (u callbackURLs) Approval(orderID, nonce string) string { return u.url("approve", orderID, nonce) }
func (u callbackURLs) Cancel(orderID, nonce string) string   { return u.url("cancel", orderID, nonce) }
func (u callbackURLs) Fail(orderID, nonce string) string     { return u.url("fail", orderID, nonce) }

// orderEvents tells order sockets of this node at once and those of the
// other nodes through Kafka. It never blocks a saga.
type orderEvents struct {
	local func(domain.Order)
	bus   *kafkabus.Bus
	queue chan domain.Order
	log   *slog.Logger
	done  chan struct{}
}

func newOrderEvents(bus *kafkabus.Bus, log *slog.Logger) *orderEvents {
	e := &orderEvents{bus: bus, queue: make(chan domain.Order, 4096), log: log, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		publishQueued(e.queue, func(o domain.Order) ([]byte, []byte) {
			v, _ := json.Marshal(o)
			return []byte(o.ID), v
		}, func(keys, values [][]byte) error {
			return e.bus.PublishBatch(OrdersTopic, keys, values)
		}, func(n int, err error) {
			log.Warn("publish order events", "orders", n, "error", err.Error())
		})
	}()
	return e
}

func (e *orderEvents) OrderChanged(o domain.Order) {
	if e.local != nil {
		e.local(o)
	}
	select {
	case e.queue <- o:
	default:
		e.log.Warn("order event queue full", "order", o.ID)
	}
}

func (e *orderEvents) close(ctx context.Context) error {
	close(e.queue)
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// outboxRelay publishes the outbox to Kafka: at least once, in order of
// writing. Consumers de-duplicate by event id.
type outboxRelay struct {
	store    *mysqlstore.Store
	bus      *kafkabus.Bus
	now      func() time.Time
	interval time.Duration
	log      *slog.Logger
	loop     *periodic
}

func (r *outboxRelay) start() {
	r.loop = startPeriodic(r.interval, func(ctx context.Context) { r.relay(ctx) })
}

// relay publishes what is pending; it reports how many messages went out.
// When stop ends it finishes the batch in hand (publishing and marking it)
// and starts no other.
func (r *outboxRelay) relay(stop context.Context) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sent := 0
	for stop.Err() == nil {
		msgs, err := r.store.PendingOutbox(ctx, 200)
		if err != nil {
			r.log.Warn("read outbox", "error", err.Error())
			return sent
		}
		if len(msgs) == 0 {
			return sent
		}
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
			if err := r.bus.PublishBatch(topic, keys, values); err != nil {
				r.log.Warn("publish outbox", "topic", topic, "error", err.Error())
				continue
			}
			for _, m := range ms {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) == 0 {
			return sent
		}
		if err := r.store.MarkPublished(ctx, ids, r.now()); err != nil {
			r.log.Warn("mark outbox published", "error", err.Error())
			return sent
		}
		sent += len(ids)
	}
	return sent
}

func (r *outboxRelay) close(ctx context.Context) error { return r.loop.close(ctx) }

// restoreConsumer is inventory's side of compensation 2: it reads "order
// failed" events and puts the stock back, once per event.
type restoreConsumer struct {
	store *mysqlstore.Store
	stock saga.Stock
	log   *slog.Logger
}

const restoreConsumerName = "inventory-restore"

func (c restoreConsumer) handle(ctx context.Context, _, value []byte) error {
	var ev domain.OrderFailedEvent
	if err := json.Unmarshal(value, &ev); err != nil || ev.EventID == "" {
		c.log.Warn("undecodable order-failed event; skipped", "payload", string(value))
		return nil
	}
	done, err := c.store.Processed(ctx, restoreConsumerName, ev.EventID)
	if err != nil {
		return err
	}
	if done {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := saga.Restore(rctx, c.stock, ev); err != nil {
		c.log.Warn("restore a failed order's stock; will retry", "order", ev.OrderID, "error", err.Error())
		return err
	}
	return c.store.MarkProcessed(ctx, restoreConsumerName, ev.EventID)
}

// orderSweeper resumes sagas left mid-way and expires unpaid orders.
type orderSweeper struct {
	store      *mysqlstore.Store
	sagas      *saga.Client
	now        func() time.Time
	stuckAfter time.Duration
	interval   time.Duration
	log        *slog.Logger
	loop       *periodic
}

func (s *orderSweeper) start() {
	s.loop = startPeriodic(s.interval, func(ctx context.Context) { s.sweep(ctx) })
}

// sweep resumes or expires every due order; it reports how many.
func (s *orderSweeper) sweep(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	now := s.now()
	ids, err := s.store.DueOrders(ctx, now, now.Add(-s.stuckAfter))
	if err != nil {
		s.log.Warn("order sweep", "error", err.Error())
		return 0
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		if _, err := s.sagas.Resume(ctx, id); err != nil {
			s.log.Warn("resume order", "order", id, "error", err.Error())
		}
	}
	return len(ids)
}

func (s *orderSweeper) close(ctx context.Context) error { return s.loop.close(ctx) }
