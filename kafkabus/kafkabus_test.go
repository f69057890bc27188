package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPublishReachesAnIndependentConsumer(t *testing.T) {
	broker, err := StartEmbedded(0)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	bus, err := New(Config{Brokers: broker.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.EnsureTopics("test-events"); err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureTopics("test-events"); err != nil {
		t.Fatalf("EnsureTopics twice: %v", err)
	}
	if err := bus.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(ctx, "test-events", []byte("k1"), []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}

	consumer, err := sarama.NewConsumer(broker.Addrs(), SaramaConfig("test-reader"))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	parts, err := consumer.Partitions("test-events")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *sarama.ConsumerMessage, 1)
	for _, p := range parts {
		pc, err := consumer.ConsumePartition("test-events", p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				got <- m
			}
		}()
	}
	select {
	case m := <-got:
		if string(m.Key) != "k1" || string(m.Value) != `{"n":1}` {
			t.Errorf("read key %q value %q", m.Key, m.Value)
		}
	case <-ctx.Done():
		t.Fatal("the published message never arrived")
	}
}

func TestPingFailsWhenTheBrokerIsGone(t *testing.T) {
	broker, err := StartEmbedded(0)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := New(Config{Brokers: broker.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	broker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Ping(ctx); err == nil {
		t.Error("Ping succeeded with the broker closed")
	}
}

// A broker that accepts connections and never answers (a network
// blackhole) fails the ping at its context's deadline, not at the client's
// timeouts: readiness names it within its deadline.
func TestPingFailsAtItsDeadlineWhenTheBrokerIsSilent(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	bus := &Bus{cfg: Config{Brokers: []string{silent.Addr().String()}, ClientID: "probe-test"}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = bus.Ping(ctx)
	if err == nil {
		t.Fatal("Ping succeeded against a broker that never answers")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Ping of a silent broker returned after %s, want about its 300ms deadline", took)
	}

}

// Subscribe is how other processes' changes arrive: a bus hears what
// another bus published, and skips what it published itself.
func TestSubscribeSkipsItsOwnMessages(t *testing.T) {
	broker, err := StartEmbedded(0)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	a, err := New(Config{Brokers: broker.Addrs(), ClientID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(Config{Brokers: broker.Addrs(), ClientID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.EnsureTopics("test-broadcast"); err != nil {
		t.Fatal(err)
	}
	heardA, heardB := make(chan string, 10), make(chan string, 10)
	stopA, err := a.Subscribe("test-broadcast", func(_, v []byte) { heardA <- string(v) })
	if err != nil {
		t.Fatal(err)
	}
	defer stopA()
	stopB, err := b.Subscribe("test-broadcast", func(_, v []byte) { heardB <- string(v) })
	if err != nil {
		t.Fatal(err)
	}
	defer stopB()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	time.Sleep(500 * time.Millisecond) // subscriptions start at the newest offset
	if err := a.PublishBatch("test-broadcast", [][]byte{[]byte("k")}, [][]byte{[]byte("from a")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "test-broadcast", []byte("k"), []byte("from b")); err != nil {
		t.Fatal(err)
	}
	heardEachOther(ctx, t, heardA, heardB, "never arrived")
	select {
	case v := <-heardA:
		t.Errorf("a heard %q as well", v)
	case v := <-heardB:
		t.Errorf("b heard %q as well", v)
	case <-time.After(time.Second):
	}
}

// A broker answers one connection's requests in turn and holds a fetch
// with nothing to read for the fetch wait. Publishes and the fetches of a
// live topic must not queue behind an idle topic's held fetch: with a
// wait of 15 s, messages still cross within the test's 10 s.
func TestAnIdleSubscriptionHoldsUpNothing(t *testing.T) {
	broker, err := StartEmbedded(0)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	buses := map[string]*Bus{}
	for _, name := range []string{"a", "b"} {
		bus, err := New(Config{Brokers: broker.Addrs(), ClientID: name, FetchMaxWait: 15 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		buses[name] = bus
	}
	a, b := buses["a"], buses["b"]
	if err := a.EnsureTopics("test-idle", "test-to-a", "test-to-b"); err != nil {
		t.Fatal(err)
	}
	heardA, heardB := make(chan string, 10), make(chan string, 10)
	for _, s := range []struct {
		bus   *Bus
		topic string
		heard chan string
	}{{a, "test-idle", nil}, {a, "test-to-a", heardA}, {b, "test-idle", nil}, {b, "test-to-b", heardB}} {
		stop, err := s.bus.Subscribe(s.topic, func(_, v []byte) {
			if s.heard != nil {
				s.heard <- string(v)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
	}
	time.Sleep(time.Second) // the idle topic's fetches are being held
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Publish(ctx, "test-to-b", nil, []byte("from a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "test-to-a", nil, []byte("from b")); err != nil {
		t.Fatal(err)
	}
	heardEachOther(ctx, t, heardA, heardB, "did not arrive while the idle topic's fetch was held")
}

func TestConfigTunesSarama(t *testing.T) {
	if got := (Config{}).sarama().Consumer.MaxWaitTime; got != DefaultFetchMaxWait {
		t.Errorf("default fetch wait = %v, want %v", got, DefaultFetchMaxWait)
	}
	sc := Config{FetchMaxWait: 20 * time.Millisecond, FlushFrequency: 5 * time.Millisecond}.sarama()
	if sc.Consumer.MaxWaitTime != 20*time.Millisecond || sc.Producer.Flush.Frequency != 5*time.Millisecond {
		t.Errorf("fetch wait %v, flush frequency %v; want 20ms, 5ms", sc.Consumer.MaxWaitTime, sc.Producer.Flush.Frequency)
	}
	if err := sc.Validate(); err != nil {
		t.Errorf("tuned config invalid: %v", err)
	}
}

// heardEachOther waits for a to hear "from b" and b to hear "from a".
func heardEachOther(ctx context.Context, t *testing.T, heardA, heardB chan string, missing string) {
	t.Helper()
	for _, c := range []struct {
		ch   chan string
		want string
	}{{heardA, "from b"}, {heardB, "from a"}} {
		select {
		case v := <-c.ch:
			if v != c.want {
				t.Errorf("heard %q, want %q", v, c.want)
			}
		case <-ctx.Done():
			t.Fatalf("%q %s", c.want, missing)
		}
	}
}

// A broker replaced by one that lost its log (kfake restarted on its port)
// no longer has a subscription's offsets, and sarama ends those partition
// consumers; the subscription starts them again, so the node goes on
// hearing the other nodes.
func TestSubscriptionOutlivesABrokerThatLostItsLog(t *testing.T) {
	broker, err := StartEmbedded(0)
	if err != nil {
		t.Fatal(err)
	}
	addrs := broker.Addrs()
	_, portText, _ := strings.Cut(addrs[0], "127.0.0.1:")
	port, _ := strconv.Atoi(portText)
	a, err := New(Config{Brokers: addrs, ClientID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(Config{Brokers: addrs, ClientID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.EnsureTopics("test-restart"); err != nil {
		t.Fatal(err)
	}
	heard := make(chan string, 2000)
	stop, err := a.Subscribe("test-restart", func(_, v []byte) { heard <- string(v) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	batch := func(what string, i int) {
		var keys, values [][]byte
		for k := range 8 { // every partition moves on
			keys = append(keys, []byte(fmt.Sprint(k)))
			values = append(values, []byte(fmt.Sprintf("%s %d", what, i)))
		}
		b.PublishBatch("test-restart", keys, values)
	}
	// Until a hears b (the subscription starts at the newest offset), at
	// most 40 batches: fewer than the subscription's offsets before the
	// restart, so an old partition consumer waiting for the new broker to
	// reach its offset would not hear them.
	publishUntilHeard := func(what string) {
		t.Helper()
		for i := 0; ; i++ {
			if i == 40 {
				t.Fatalf("a never heard %s", what)
			}
			batch(what, i)
			wait := time.After(300 * time.Millisecond)
		listen:
			for {
				select {
				case v := <-heard:
					if strings.HasPrefix(v, what) {
						return
					}
				case <-wait:
					break listen
				}
			}
		}
	}
	publishUntilHeard("before")
	for i := range 100 {
		batch("more", i)
	}
	broker.Close()
	if broker, err = StartEmbedded(port); err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	for b.EnsureTopics("test-restart") != nil {
		select {
		case <-ctx.Done():
			t.Fatal("the new broker never took the topic")
		case <-time.After(200 * time.Millisecond):
		}
	}
	publishUntilHeard("after")
	if a.Resubscribed() == 0 {
		t.Error("no partition consumer was started again")
	}
}

// sarama's producer opens a circuit breaker after three failures in a row
// and refuses every send for 10 s, the broker back or not. Once the broker
// answers, a send refused by the breaker gets the bus a new producer, and
// the next send goes out: before, sends kept failing for up to 10 s after
// the broker returned (the outbox took 6 s to empty after a 6 s outage).
func TestProducerRenewedWhenItsBreakerRefusesAfterTheBrokerReturned(t *testing.T) {
	var down atomic.Bool
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if down.Load() {
			return nil, errors.New("broker down"), true
		}
		return nil, nil, false
	})
	bus, err := New(Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	keys, values := [][]byte{[]byte("k1"), []byte("k2")}, [][]byte{[]byte("v1"), []byte("v2")}
	if err := bus.PublishBatch("renew", keys, values); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := bus.PublishBatch("renew", keys, values)
		if err == nil {
			t.Fatal("a send went out while the broker refused every request")
		}
		if refusedByBreaker(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the breaker never opened: %v", err)
		}
	}
	down.Store(false)
	// The breaker is open for 10 s from its last trip: the first send may
	// still meet it (and renew the producer); the one after goes out.
	time.Sleep(1100 * time.Millisecond) // a renewal is made at most once a second
	first := bus.PublishBatch("renew", keys, values)
	if first != nil && !refusedByBreaker(first) {
		t.Fatalf("the first send after the broker returned: %v", first)
	}
	if err := bus.PublishBatch("renew", keys, values); err != nil {
		t.Errorf("the second send after the broker returned: %v (renewals %d)", err, bus.ProducerRenewals())
	}
	if first != nil && bus.ProducerRenewals() == 0 {
		t.Error("a send refused by the breaker with the broker back renewed nothing")
	}
}
