package kafkabus

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
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
