package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/events"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// producer records what it is asked to publish and fails topics in fail.
type producer struct {
	mu      sync.Mutex
	batches map[string][][]byte
	fail    map[string]bool
}

func (p *producer) PublishBatch(topic string, _, values [][]byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail[topic] {
		return errors.New("broker down")
	}
	if p.batches == nil {
		p.batches = map[string][][]byte{}
	}
	for _, v := range values {
		p.batches[topic] = append(p.batches[topic], append([]byte(nil), v...))
	}
	return nil
}

func (p *producer) count(topic string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.batches[topic])
}

type view struct {
	mu      sync.Mutex
	events  []domain.LotEvent
	applies int // ApplyAll calls
}

func (v *view) Apply(e domain.LotEvent) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.events = append(v.events, e)
	return true
}

func (v *view) ApplyAll(es []domain.LotEvent) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.applies++
	v.events = append(v.events, es...)
	return len(es)
}

// Close publishes everything queued before it returns; the read model
// hears each event at once, the other nodes' through the topic.
func TestStockSinkPublishesEverythingQueuedBeforeClose(t *testing.T) {
	p, v := &producer{}, &view{}
	sink := events.NewStockSink(v, p, quiet)
	for i := range 1200 {
		sink.LotChanged(domain.LotEvent{LotID: int64(i), OnHand: 1})
	}
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.count(events.StockTopic); got != 1200 {
		t.Errorf("published %d events, want 1200", got)
	}
	if len(v.events) != 1200 {
		t.Errorf("read model heard %d events, want 1200", len(v.events))
	}
	remote := &view{}
	events.ApplyRemote(remote, quiet)(nil, p.batches[events.StockTopic][7])
	events.ApplyRemote(remote, quiet)(nil, []byte("not json"))
	if len(remote.events) != 1 || remote.events[0].LotID != 7 {
		t.Errorf("a remote node applied %+v, want lot 7 alone", remote.events)
	}
}

// A bulk change reaches the read model in one call and Kafka event by
// event.
func TestStockSinkTakesBulkChanges(t *testing.T) {
	p, v := &producer{}, &view{}
	sink := events.NewStockSink(v, p, quiet)
	bulk := make([]domain.LotEvent, 700)
	for i := range bulk {
		bulk[i] = domain.LotEvent{LotID: int64(i + 1), State: domain.Expired}
	}
	sink.LotsChanged(bulk)
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v.applies != 1 || len(v.events) != 700 {
		t.Errorf("read model: %d bulk applies of %d events, want 1 of 700", v.applies, len(v.events))
	}
	if got := p.count(events.StockTopic); got != 700 {
		t.Errorf("published %d events, want 700", got)
	}
}

func TestOrderEventsReachLocalSocketsAndKafka(t *testing.T) {
	p := &producer{}
	e := events.NewOrderEvents(p, quiet)
	var local []string
	e.Local = func(o domain.Order) { local = append(local, o.ID) }
	e.OrderChanged(domain.Order{ID: "o1", Status: domain.StatusPaid})
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got domain.Order
	events.OrderReader(func(o domain.Order) { got = o })(nil, p.batches[events.OrdersTopic][0])
	if len(local) != 1 || got.ID != "o1" || got.Status != domain.StatusPaid {
		t.Errorf("local %v, from kafka %+v", local, got)
	}
}

type outbox struct {
	pending   []domain.OutboxMessage
	published []int64
}

func (o *outbox) PendingOutbox(context.Context, int) ([]domain.OutboxMessage, error) {
	var out []domain.OutboxMessage
	for _, m := range o.pending {
		done := false
		for _, id := range o.published {
			done = done || id == m.ID
		}
		if !done {
			out = append(out, m)
		}
	}
	return out, nil
}

func (o *outbox) MarkPublished(_ context.Context, ids []int64, _ time.Time) error {
	o.published = append(o.published, ids...)
	return nil
}

// A topic that cannot be published stays pending; the others go out and
// are marked.
func TestRelayMarksOnlyWhatWasPublished(t *testing.T) {
	store := &outbox{pending: []domain.OutboxMessage{{ID: 1, Topic: "a"}, {ID: 2, Topic: "b"}, {ID: 3, Topic: "a"}}}
	p := &producer{fail: map[string]bool{"b": true}}
	r := &events.Relay{Store: store, Out: p, Now: time.Now, Log: quiet}
	if sent := r.Relay(context.Background()); sent != 2 {
		t.Errorf("relayed %d, want 2", sent)
	}
	if len(store.published) != 2 || p.count("a") != 2 {
		t.Errorf("marked %v, topic a got %d", store.published, p.count("a"))
	}
}

// While Kafka refuses, the relay counts its failures and its lag grows from
// the first failed run; a run that empties the outbox ends the lag.
func TestRelayReportsItsLagWhileKafkaRefuses(t *testing.T) {
	store := &outbox{pending: []domain.OutboxMessage{{ID: 1, Topic: "b"}}}
	p := &producer{fail: map[string]bool{"b": true}}
	now := time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)
	r := &events.Relay{Store: store, Out: p, Now: func() time.Time { return now }, Log: quiet}
	r.Relay(context.Background())
	now = now.Add(3 * time.Second)
	r.Relay(context.Background())
	if got := r.Lag(); got != 3*time.Second {
		t.Errorf("lag %s after two refused runs 3 s apart, want 3s", got)
	}
	if got := r.Failures(); got != 2 {
		t.Errorf("%d failures, want 2", got)
	}
	p.fail["b"] = false
	if sent := r.Relay(context.Background()); sent != 1 {
		t.Errorf("relayed %d once Kafka is back, want 1", sent)
	}
	if got := r.Lag(); got != 0 {
		t.Errorf("lag %s after the outbox emptied, want 0", got)
	}
}

// A publish that hangs (a broker that stopped answering) fails nothing,
// yet the lag grows while it waits, and ends when it goes out.
func TestRelayLagGrowsWhileAPublishHangs(t *testing.T) {
	store := &outbox{pending: []domain.OutboxMessage{{ID: 1, Topic: "a"}}}
	entered, release := make(chan struct{}), make(chan struct{})
	p := hangingProducer{entered: entered, release: release}
	var mu sync.Mutex
	now := time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := &events.Relay{Store: store, Out: p, Now: clock, Log: quiet}
	done := make(chan int)
	go func() { done <- r.Relay(context.Background()) }()
	<-entered
	mu.Lock()
	now = now.Add(4 * time.Second)
	mu.Unlock()
	if got := r.Lag(); got != 4*time.Second {
		t.Errorf("lag %s while a publish has hung for 4 s, want 4s", got)
	}
	close(release)
	if sent := <-done; sent != 1 {
		t.Errorf("relayed %d, want 1", sent)
	}
	if got := r.Lag(); got != 0 {
		t.Errorf("lag %s after the publish went out, want 0", got)
	}
}

type hangingProducer struct{ entered, release chan struct{} }

func (p hangingProducer) PublishBatch(string, [][]byte, [][]byte) error {
	close(p.entered)
	<-p.release
	return nil
}

type processed map[string]bool

func (p processed) Processed(_ context.Context, _, id string) (bool, error) { return p[id], nil }
func (p processed) MarkProcessed(_ context.Context, _, id string) error     { p[id] = true; return nil }

// The restore consumer gives a failed order's stock back once per event.
func TestRestorerHandlesAnEventOnce(t *testing.T) {
	st := &countingStock{}
	c := events.Restorer{Store: processed{}, Stock: st, Log: quiet}
	ev, _ := json.Marshal(domain.OrderFailedEvent{EventID: "e1", OrderID: "o1",
		Lines: []domain.OrderLine{{Kind: domain.LineDeal, LotID: 9, Quantity: 1}}})
	for range 2 {
		if err := c.Handle(context.Background(), nil, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Handle(context.Background(), nil, []byte("{}")); err != nil {
		t.Errorf("an undecodable event: %v, want it skipped", err)
	}
	if st.restores != 1 {
		t.Errorf("%d restores, want 1", st.restores)
	}
}
