// Package kafkabus carries ShelfLife's events over Kafka through IBM/sarama:
// a sync, idempotent producer that waits for all replicas, topic creation,
// and an in-process Kafka-protocol broker for tests and the single-machine
// run (sarama reaches it over TCP like a real broker). Which topics exist
// and what goes on them is package events' business.
package kafkabus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"
	"github.com/rcrowley/go-metrics"
	"github.com/twmb/franz-go/pkg/kfake"
)

func init() {
	// sarama keeps histograms of every request and response in
	// go-metrics, which nothing here reads: under a flash sale updating
	// them cost about 3% of the node's CPU. Nil metrics record nothing.
	metrics.UseNilMetrics = true
}

// Embedded is an in-process Kafka-protocol broker on 127.0.0.1.
type Embedded struct {
	c *kfake.Cluster
}

// StartEmbedded starts a one-broker cluster on a free port of 127.0.0.1
// (or on port when it is not 0).
func StartEmbedded(port int) (*Embedded, error) {
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(4),
	)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	return &Embedded{c: c}, nil
}

// Addrs are the broker addresses to give to clients.
func (e *Embedded) Addrs() []string { return e.c.ListenAddrs() }

// Close stops the broker.
func (e *Embedded) Close() { e.c.Close() }

// Config names the brokers and the client id, and tunes delivery.
type Config struct {
	Brokers  []string
	ClientID string
	// Partitions and Replication are used when creating missing topics.
	Partitions  int32
	Replication int16
	// FetchMaxWait is how long a broker may hold a subscription's fetch
	// when nothing new arrived (0: DefaultFetchMaxWait). New messages
	// answer a waiting fetch at once, so this bounds idle round trips,
	// not delivery.
	FetchMaxWait time.Duration
	// FlushFrequency, when positive, lets the producer gather messages
	// this long before sending a request (fewer, larger requests; each
	// message waits up to that long). 0 sends at once.
	FlushFrequency time.Duration
}

// DefaultFetchMaxWait is FetchMaxWait's default.
const DefaultFetchMaxWait = 100 * time.Millisecond

// Bus is a connection to Kafka: a client, a sync producer over it, and the
// settings consumers are made with. Every Subscribe has a client (and so
// broker connections) of its own.
type Bus struct {
	cfg    Config
	client sarama.Client
	// producer is replaced when sarama's circuit breaker refuses (see
	// renewProducer); pmu guards it.
	pmu      sync.Mutex
	producer sarama.SyncProducer
	renewing atomic.Bool
	renewed  atomic.Int64 // when it was last replaced (unix nanoseconds)
	renewals atomic.Int64
	mu       sync.Mutex
	subs     map[sarama.Client]struct{}
	// origin marks what this bus publishes (a record header), so that its
	// own broadcast subscriptions can skip it.
	origin []byte
	// resubscribed counts partition consumers started again (see follow).
	resubscribed atomic.Int64
}

// OriginHeader is the record header naming the bus that published a
// message.
const OriginHeader = "shelflife-origin"

// SaramaConfig is the configuration every ShelfLife client uses: an
// idempotent producer that waits for all in-sync replicas.
func SaramaConfig(clientID string) *sarama.Config {
	return Config{ClientID: clientID}.sarama()
}

func (c Config) sarama() *sarama.Config {
	clientID := c.ClientID
	sc := sarama.NewConfig()
	sc.ClientID = clientID
	sc.Version = sarama.V3_6_0_0
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Idempotent = true
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Retry.Max = 5
	sc.Producer.Retry.Backoff = 50 * time.Millisecond
	sc.Net.MaxOpenRequests = 1 // required by the idempotent producer
	sc.Net.DialTimeout = 5 * time.Second
	sc.Metadata.Retry.Max = 3
	sc.Metadata.Retry.Backoff = 100 * time.Millisecond
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.MaxWaitTime = DefaultFetchMaxWait
	if c.FetchMaxWait > 0 {
		sc.Consumer.MaxWaitTime = c.FetchMaxWait
	}
	sc.Producer.Flush.Frequency = c.FlushFrequency
	sc.Consumer.Offsets.AutoCommit.Enable = true
	return sc
}

// New connects to the brokers.
func New(cfg Config) (*Bus, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "shelflife"
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 4
	}
	if cfg.Replication <= 0 {
		cfg.Replication = 1
	}
	client, err := sarama.NewClient(cfg.Brokers, cfg.sarama())
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	producer, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	origin := make([]byte, 8)
	rand.Read(origin)
	return &Bus{cfg: cfg, client: client, producer: producer, subs: map[sarama.Client]struct{}{},
		origin: []byte(hex.EncodeToString(origin))}, nil
}

// EnsureTopics creates the topics that do not exist yet.
func (b *Bus) EnsureTopics(topics ...string) error {
	admin, err := sarama.NewClusterAdminFromClient(b.client)
	if err != nil {
		return fmt.Errorf("kafka admin: %w", err)
	}
	// Closing the admin would close the shared client; it holds nothing else.
	existing, err := admin.ListTopics()
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	for _, t := range topics {
		if _, ok := existing[t]; ok {
			continue
		}
		err := admin.CreateTopic(t, &sarama.TopicDetail{NumPartitions: b.cfg.Partitions, ReplicationFactor: b.cfg.Replication}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			var te *sarama.TopicError
			if !errors.As(err, &te) || te.Err != sarama.ErrTopicAlreadyExists {
				return fmt.Errorf("create topic %s: %w", t, err)
			}
		}
	}
	return b.client.RefreshMetadata(topics...)
}

// Publish writes one message and returns once the brokers acknowledged it.
func (b *Bus) Publish(ctx context.Context, topic string, key, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg := &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(value), Headers: b.headers()}
	if key != nil {
		msg.Key = sarama.ByteEncoder(key)
	}
	p := b.currentProducer()
	if _, _, err := p.SendMessage(msg); err != nil {
		b.renewProducer(p, err)
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

func (b *Bus) currentProducer() sarama.SyncProducer {
	b.pmu.Lock()
	defer b.pmu.Unlock()
	return b.producer
}

// renewProducer replaces p when err says sarama's circuit breaker refused
// the send. sarama opens a breaker for 10 s after three failures in a row
// (not configurable) and keeps refusing for that long after the broker
// is back: the outbox's compensations and the stock events would wait or
// be dropped meanwhile. A new producer has its breaker closed. One is made
// at a time and at most once a second; while the broker is still away
// making one fails (it asks the broker for a producer id) and p stays.
func (b *Bus) renewProducer(p sarama.SyncProducer, err error) {
	if !refusedByBreaker(err) || time.Since(time.Unix(0, b.renewed.Load())) < time.Second ||
		!b.renewing.CompareAndSwap(false, true) {
		return
	}
	defer b.renewing.Store(false)
	fresh, nerr := sarama.NewSyncProducerFromClient(b.client)
	if nerr != nil {
		return
	}
	b.pmu.Lock()
	if b.producer != p {
		b.pmu.Unlock()
		fresh.Close()
		return
	}
	b.producer = fresh
	b.pmu.Unlock()
	b.renewed.Store(time.Now().UnixNano())
	b.renewals.Add(1)
	// Sends still in flight on the old one end with it; the client stays.
	go p.Close()
}

// refusedByBreaker says whether a send failed, in part or whole, because
// sarama's circuit breaker was open.
func refusedByBreaker(err error) bool {
	var batch sarama.ProducerErrors
	if errors.As(err, &batch) {
		for _, pe := range batch {
			if errors.Is(pe.Err, breaker.ErrBreakerOpen) {
				return true
			}
		}
		return false
	}
	return errors.Is(err, breaker.ErrBreakerOpen)
}

// ProducerRenewals is how many times the producer was replaced because
// its circuit breaker kept refusing.
func (b *Bus) ProducerRenewals() int64 { return b.renewals.Load() }

// Ping checks that a broker answers a metadata request, on a connection
// opened for the ping: the bus's own connections may wait in the client's
// retries or behind held fetches, and a broker that stopped answering
// must be named at ctx's deadline. The brokers are asked in turn until
// one answers. A connection that does not answer by the deadline is left
// to its read timeout (the same bound) and then closed.
func (b *Bus) Ping(ctx context.Context) error {
	conf := b.cfg.sarama()
	bound := time.Second
	if d, ok := ctx.Deadline(); ok {
		bound = max(time.Until(d), 10*time.Millisecond)
	}
	conf.Net.DialTimeout, conf.Net.ReadTimeout, conf.Net.WriteTimeout = bound, bound, bound
	conf.ClientID = b.cfg.ClientID + "-probe"
	var errs []error
	for _, addr := range b.cfg.Brokers {
		err := pingBroker(ctx, conf, addr)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("kafka metadata from %s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

func pingBroker(ctx context.Context, conf *sarama.Config, addr string) error {
	br := sarama.NewBroker(addr)
	if err := br.Open(conf); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer br.Close()
		_, err := br.GetMetadata(sarama.NewMetadataRequest(conf.Version, nil))
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Brokers are the addresses this bus was given.
func (b *Bus) Brokers() []string { return append([]string(nil), b.cfg.Brokers...) }

// Close flushes the producer and closes the clients, the subscriptions'
// among them.
func (b *Bus) Close() error {
	errs := []error{b.currentProducer().Close(), b.client.Close()}
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.subs {
		errs = append(errs, c.Close())
	}
	clear(b.subs)
	return errors.Join(errs...)
}

// Subscribe reads every partition of topic from the newest offset and calls
// handle for each message, until the returned stop is called. Each node
// reads the whole topic (no consumer group): it is how changes made on other
// nodes reach this node's read model and sockets. What this bus published
// itself is skipped: its publisher applied it locally already.
//
// A broker answers the requests of one connection one at a time, and a
// fetch with nothing to read is held for FetchMaxWait. On a shared
// connection every publish and every other topic's fetch would queue
// behind those held fetches (measured: p99 over 500 ms from a commit on
// one node to a socket on another); so each subscription has a client,
// hence connections, of its own.
func (b *Bus) Subscribe(topic string, handle func(key, value []byte)) (stop func(), err error) {
	client, err := sarama.NewClient(b.cfg.Brokers, b.cfg.sarama())
	if err != nil {
		return nil, fmt.Errorf("kafka client for %s: %w", topic, err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	parts, err := consumer.Partitions(topic)
	if err != nil {
		consumer.Close()
		client.Close()
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	sub := &subscription{stopped: make(chan struct{})}
	for _, p := range parts {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetNewest)
		if err != nil {
			sub.stop()
			consumer.Close()
			client.Close()
			return nil, fmt.Errorf("consume %s/%d: %w", topic, p, err)
		}
		sub.add(pc)
		go b.follow(sub, consumer, topic, p, pc, handle)
	}
	b.mu.Lock()
	b.subs[client] = struct{}{}
	b.mu.Unlock()
	return func() {
		sub.stop()
		consumer.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[client]; ok {
			delete(b.subs, client)
			client.Close()
		}
	}, nil
}

// resubscribeEvery is how often a partition consumer that ended is tried
// again.
const resubscribeEvery = 500 * time.Millisecond

// follow hands one partition's messages to handle. A partition consumer
// ends by itself when the broker no longer has its offset (a broker
// replaced by one that lost its log): follow starts it again from the
// newest offset until the subscription stops, so the node keeps hearing
// other nodes' changes (stock events carry whole values, so the next one
// of a lot corrects what was missed).
func (b *Bus) follow(sub *subscription, consumer sarama.Consumer, topic string, partition int32, pc sarama.PartitionConsumer,
	handle func(key, value []byte)) {
	for {
		for m := range pc.Messages() {
			if !b.own(m) {
				handle(m.Key, m.Value)
			}
		}
		for {
			select {
			case <-sub.stopped:
				return
			case <-time.After(resubscribeEvery):
			}
			next, err := consumer.ConsumePartition(topic, partition, sarama.OffsetNewest)
			if err != nil {
				continue
			}
			b.resubscribed.Add(1)
			if !sub.add(next) {
				return
			}
			pc = next
			break
		}
	}
}

// subscription holds the partition consumers of one Subscribe.
type subscription struct {
	mu      sync.Mutex
	pcs     []sarama.PartitionConsumer
	stopped chan struct{}
	done    bool
}

// add keeps pc, or closes it when the subscription has stopped.
func (s *subscription) add(pc sarama.PartitionConsumer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		pc.AsyncClose()
		return false
	}
	s.pcs = append(s.pcs, pc)
	return true
}

func (s *subscription) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	close(s.stopped)
	for _, pc := range s.pcs {
		pc.AsyncClose()
	}
}

// Resubscribed is how many partition consumers were started again after
// they ended by themselves.
func (b *Bus) Resubscribed() int64 { return b.resubscribed.Load() }

func (b *Bus) headers() []sarama.RecordHeader {
	return []sarama.RecordHeader{{Key: []byte(OriginHeader), Value: b.origin}}
}

// own reports whether this bus published m.
func (b *Bus) own(m *sarama.ConsumerMessage) bool {
	for _, h := range m.Headers {
		if h != nil && string(h.Key) == OriginHeader {
			return string(h.Value) == string(b.origin)
		}
	}
	return false
}

// PublishBatch writes several messages to topic and returns once all were
// acknowledged.
func (b *Bus) PublishBatch(topic string, keys, values [][]byte) error {
	msgs := make([]*sarama.ProducerMessage, len(values))
	for i := range values {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.ByteEncoder(keys[i]), Value: sarama.ByteEncoder(values[i]), Headers: b.headers()}
	}
	p := b.currentProducer()
	if err := p.SendMessages(msgs); err != nil {
		b.renewProducer(p, err)
		return fmt.Errorf("publish %d to %s: %w", len(msgs), topic, err)
	}
	return nil
}

// ConsumeGroup reads topic as a member of group: each message goes to one
// member, and its offset is marked only after handle returned nil (handle
// is retried with a growing pause until then). Stop ends it.
func (b *Bus) ConsumeGroup(group, topic string, handle func(ctx context.Context, key, value []byte) error) (stop func(), err error) {
	gcfg := b.cfg
	gcfg.ClientID += "-" + group
	cg, err := sarama.NewConsumerGroup(b.cfg.Brokers, group, gcfg.sarama())
	if err != nil {
		return nil, fmt.Errorf("consumer group %s: %w", group, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h := groupHandler{handle: handle}
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
				time.Sleep(500 * time.Millisecond)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		cg.Close()
	}, nil
}

type groupHandler struct {
	handle func(ctx context.Context, key, value []byte) error
}

func (groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		for attempt := 0; ; attempt++ {
			if err := h.handle(sess.Context(), m.Key, m.Value); err == nil {
				sess.MarkMessage(m, "")
				break
			}
			select {
			case <-sess.Context().Done():
				return nil
			case <-time.After(min(time.Duration(attempt+1)*200*time.Millisecond, 5*time.Second)):
			}
		}
	}
	return nil
}
