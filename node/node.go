// Package node assembles one ShelfLife node: MySQL, Redis, Kafka (a real
// broker or the embedded one), the actor cluster member and the HTTP server.
// It is the only package that knows every concrete type; cmd/shelflife and
// the tests start a Node.
package node

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"shelflife/actors/lot"
	"shelflife/actors/saga"
	"shelflife/actors/warehouse"
	"shelflife/api"
	"shelflife/callbacksig"
	"shelflife/clock"
	"shelflife/cluster/member"
	"shelflife/demo"
	"shelflife/domain"
	"shelflife/kafkabus"
	"shelflife/kakaopay"
	"shelflife/kakaopay/kakaofake"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/redisstore"
	"shelflife/stockview"
	"shelflife/web"
)

// Node is a running ShelfLife node.
type Node struct {
	cfg      Config
	log      *slog.Logger
	store    *mysqlstore.Store
	redis    *redis.Client
	embedded *kafkabus.Embedded
	bus      *kafkabus.Bus
	member   *member.Member
	server   *api.Server
	view     *stockview.View
	sink     *eventSink
	lots     *lot.Client
	sweeper  *sweeper

	kakaoFake    *kakaofake.Server
	kakaoURL     string
	orderEvents  *orderEvents
	sagas        *saga.Client
	orders       *orderService
	relay        *outboxRelay
	orderSweeper *orderSweeper
	ln           net.Listener
	served       chan error
	// closers run in reverse order of start by Shutdown.
	closers []closer
}

// Options are the parts a test may supply instead of the configuration.
type Options struct {
	Logger *slog.Logger
	// Agent lets several nodes of one process form one test-provider cluster.
	Agent any
	// Clock drives the grains' timers and every "now"; nil is the wall clock.
	Clock clock.Clock
}

// NewLogger builds the structured logger the configuration asks for.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Start opens every dependency in order, then listens for HTTP. On error,
// what was started is stopped again.
func Start(ctx context.Context, cfg Config, opts Options) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	now := clk.Now
	ladder, err := domain.ParseLadder(cfg.MarkdownLadder)
	if err != nil {
		return nil, err
	}
	n = &Node{cfg: cfg, log: log, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
			defer cancel()
			n.Shutdown(sctx)
		}
	}()

	// The HTTP listener first, so that the node knows its own URL.
	n.ln, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return n, fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	n.onShutdown("http listener", func(context.Context) error { n.ln.Close(); return nil })
	if cfg.DebugAddr != "" {
		stop, err := serveDebug(cfg.DebugAddr, nil)
		if err != nil {
			return n, err
		}
		n.onShutdown("debug server", stop)
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + n.ln.Addr().String()
	}

	// MySQL: the system of record, migrated before anything reads it.
	n.store, err = mysqlstore.Open(ctx, mysqlstore.Config{DSN: cfg.MySQLDSN, MaxOpenConns: cfg.MySQLMaxConns})
	if err != nil {
		return n, err
	}
	n.onShutdown("mysql", func(context.Context) error { return n.store.Close() })
	applied, err := n.store.Migrate(ctx)
	if err != nil {
		return n, err
	}
	log.Info("mysql ready", "migrations_applied", applied)
	key, err := n.store.Secret(ctx, "callback_key", callbacksig.KeySize)
	if err != nil {
		return n, err
	}
	callbacks, err := callbacksig.New(key)
	if err != nil {
		return n, err
	}

	// Redis.
	n.redis = redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, PoolSize: 64})
	n.onShutdown("redis", func(context.Context) error { return n.redis.Close() })
	if err := n.redis.Ping(ctx).Err(); err != nil {
		return n, fmt.Errorf("redis %s: %w", cfg.RedisAddr, err)
	}

	// Kafka: the configured brokers, or an embedded one on 127.0.0.1.
	brokers := cfg.KafkaBrokers
	if len(brokers) == 0 {
		n.embedded, err = kafkabus.StartEmbedded(cfg.KafkaEmbeddedPort)
		if err != nil {
			return n, err
		}
		n.onShutdown("embedded kafka", func(context.Context) error { n.embedded.Close(); return nil })
		brokers = n.embedded.Addrs()
		log.Info("embedded kafka broker started", "brokers", brokers)
	}
	n.bus, err = kafkabus.New(kafkabus.Config{Brokers: brokers, ClientID: "shelflife-node"})
	if err != nil {
		return n, err
	}
	n.onShutdown("kafka client", func(context.Context) error { return n.bus.Close() })
	if err := n.bus.EnsureTopics(StockTopic, OrdersTopic, CatalogTopic, saga.OrderFailedTopic); err != nil {
		return n, err
	}

	// Kakao Pay: the configured one, or the fake on kakao_fake_addr.
	kakaoURL := cfg.KakaoBaseURL
	if kakaoURL == "" {
		n.kakaoFake = kakaofake.New(time.Duration(cfg.PaymentValidity))
		var stopFake func()
		kakaoURL, stopFake, err = n.kakaoFake.Listen(cfg.KakaoFakeAddr)
		if err != nil {
			return n, fmt.Errorf("fake kakao pay on %s: %w", cfg.KakaoFakeAddr, err)
		}
		n.onShutdown("fake kakao pay", func(context.Context) error { stopFake(); return nil })
		log.Info("fake kakao pay started", "url", kakaoURL)
	}
	kakao, err := kakaopay.New(kakaopay.Config{BaseURL: kakaoURL, SecretKey: cfg.KakaoSecretKey, CID: cfg.KakaoCID, Timeout: time.Duration(cfg.KakaoTimeout)})
	if err != nil {
		return n, err
	}
	n.kakaoURL = kakaoURL
	n.orderEvents = newOrderEvents(n.bus, log)
	n.onShutdown("order events", n.orderEvents.close)

	// The read model, rebuilt from MySQL; the sink feeds it and Kafka.
	n.view = stockview.New(n.store, ladder, now)
	if err := n.ensureAccounts(ctx, now()); err != nil {
		return n, err
	}
	if err := n.view.Load(ctx); err != nil {
		return n, fmt.Errorf("load read model: %w", err)
	}
	n.sink = newEventSink(n.view, n.bus, log)
	n.onShutdown("stock events", n.sink.close)

	// The actor cluster.
	mcfg := member.Config{
		Name: cfg.Cluster.Name, Host: cfg.Cluster.Host, Port: cfg.Cluster.Port,
		Provider: cfg.Cluster.Provider, Peers: cfg.Cluster.Peers, AutoManPort: cfg.Cluster.AutomanPort,
		EtcdEndpoints: cfg.Cluster.EtcdEndpoints, Logger: log,
	}
	if a, ok := opts.Agent.(member.Agent); ok {
		mcfg.Agent = a
	}
	n.member, err = member.Start(mcfg, kinds(grainDeps{
		lot:       lot.Deps{Store: n.store, Clock: clk, Ladder: ladder, Publisher: n.sink, Logger: log},
		warehouse: warehouse.Deps{Store: n.store, Clock: clk, Logger: log},
		saga: saga.Deps{Store: n.store, Payments: payments{kakao}, Places: n.view, Notifier: n.orderEvents,
			URLs: callbackURLs{base: publicURL}, Clock: clk, Logger: log, AfterStep: crashAfter(cfg.FaultCrashAfter, log)},
	})...)
	if err != nil {
		return n, err
	}
	n.onShutdown("cluster member", func(context.Context) error { n.member.Shutdown(); return nil })
	log.Info("cluster member started", "address", n.member.Address(), "provider", cfg.Cluster.Provider)

	n.lots = lot.NewClient(n.member.Cluster)

	// Other nodes' changes, through Kafka.
	stopConsumer, err := n.bus.Subscribe(StockTopic, applyRemote(n.view, log))
	if err != nil {
		return n, err
	}
	n.onShutdown("stock consumer", func(context.Context) error { stopConsumer(); return nil })

	n.sagas = saga.NewClient(n.member.Cluster)
	// Warehouses and products added through any node.
	stopCatalog, err := n.bus.Subscribe(CatalogTopic, func(_, _ []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.view.LoadCatalog(ctx); err != nil {
			log.Warn("reload catalog", "error", err.Error())
		}
	})
	if err != nil {
		return n, err
	}
	n.onShutdown("catalog consumer", func(context.Context) error { stopCatalog(); return nil })
	stopOrders, err := n.bus.Subscribe(OrdersTopic, func(_, value []byte) {
		var o domain.Order
		if json.Unmarshal(value, &o) == nil && n.server != nil {
			n.server.OrderChanged(o)
		}
	})
	if err != nil {
		return n, err
	}
	n.onShutdown("order consumer", func(context.Context) error { stopOrders(); return nil })

	// The outbox, and inventory's side of compensation 2.
	n.relay = &outboxRelay{store: n.store, bus: n.bus, now: now, interval: time.Duration(cfg.OutboxInterval), log: log}
	n.relay.start()
	n.onShutdown("outbox relay", n.relay.close)
	stock := saga.ClusterStock{Lots: n.lots, Warehouses: warehouse.NewClient(n.member.Cluster)}
	stopRestore, err := n.bus.ConsumeGroup(restoreConsumerName, saga.OrderFailedTopic, restoreConsumer{store: n.store, stock: stock, log: log}.handle)
	if err != nil {
		return n, err
	}
	n.onShutdown("restore consumer", func(context.Context) error { stopRestore(); return nil })

	// Sagas left mid-way, unpaid orders past their validity.
	n.orderSweeper = &orderSweeper{store: n.store, sagas: n.sagas, now: now, stuckAfter: time.Duration(cfg.SagaStuckAfter),
		interval: time.Duration(cfg.SweepInterval), log: log}
	n.orderSweeper.start()
	n.onShutdown("order sweeper", n.orderSweeper.close)

	// Lots whose transition came while no grain held them.
	n.sweeper = &sweeper{store: n.store, lots: n.lots, now: now, interval: time.Duration(cfg.SweepInterval), log: log}
	n.sweeper.start()
	n.onShutdown("lot sweeper", n.sweeper.close)

	// HTTP.
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(n.store.DB(), "shelflife"),
	)
	if cfg.MetricsAddr != "" {
		stop, err := serveDebug(cfg.MetricsAddr, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		if err != nil {
			return n, err
		}
		n.onShutdown("operator server", stop)
		log.Info("metrics and profiler served for operators", "url", "http://"+cfg.MetricsAddr+"/metrics")
	}
	if name := cfg.placeholderInUse(); name != "" {
		log.Warn("demo mode runs with a published placeholder secret; outside demo mode the node refuses it", "setting", name)
	}
	secret := []byte(cfg.JWTSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
		log.Warn("jwt_secret is empty: using a random one; tokens end with this process and other nodes reject them")
	}
	carts := redisstore.NewCarts(n.redis, cfg.RedisPrefix)
	n.orders = &orderService{store: n.store, view: n.view, sagas: func() *saga.Client { return n.sagas }, carts: carts,
		now: now, validity: time.Duration(cfg.PaymentValidity), dealLimit: int64(cfg.DealLimit),
		admit: newAdmission(cfg.OrderAdmission), nonce: callbacks.Nonce}
	n.server, err = api.New(api.Config{
		DealLimit:         int64(cfg.DealLimit),
		SocketsPerAddress: cfg.WSPerAddress,
		MetricsElsewhere:  cfg.MetricsAddr != "",
		TrustedProxies:    cfg.TrustedProxies,
		JWTSecret:         secret,
		TokenTTL:          time.Duration(cfg.TokenTTL),
		BcryptCost:        cfg.BcryptCost,
		BodyLimit:         cfg.BodyLimitBytes,
		RequestTimeout:    time.Duration(cfg.RequestTimeout),
		Logger:            log,
		Now:               now,
	}, api.Deps{
		Users:           n.store,
		Catalog:         n.store,
		Callbacks:       callbacks,
		Metrics:         reg,
		View:            n.view,
		OnCatalogChange: n.catalogChanged,
		Inventory:       &inventory{store: n.store, sink: n.sink, lots: func() *lot.Client { return n.lots }, now: now, log: log},
		Carts:           carts,
		Pages:           web.Files(),
		Cluster:         clusterInfo{n.member},
		Orders:          n.orders,
		Dashboard:       n.store,
		Checks: map[string]api.Check{
			"mysql":   n.store.Ping,
			"redis":   func(ctx context.Context) error { return n.redis.Ping(ctx).Err() },
			"kafka":   n.bus.Ping,
			"cluster": n.member.Ping,
		},
	})
	if err != nil {
		return n, err
	}
	n.orderEvents.local = n.server.OrderChanged
	go func() { n.served <- n.server.Serve(n.ln) }()
	n.onShutdown("http server", n.server.Shutdown)
	log.Info("http listening", "addr", n.ln.Addr().String())
	return n, nil
}

// closer is one step of Shutdown.
type closer struct {
	name string
	fn   func(context.Context) error
}

func (n *Node) onShutdown(name string, fn func(context.Context) error) {
	n.closers = append(n.closers, closer{name, fn})
}

// ensureAccounts creates the configured first admin and, in demo mode, the
// demo data.
func (n *Node) ensureAccounts(ctx context.Context, now time.Time) error {
	if n.cfg.AdminEmail != "" && n.cfg.AdminPassword != "" {
		hash, err := api.HashPassword(n.cfg.AdminPassword, n.cfg.BcryptCost)
		if err != nil {
			return err
		}
		_, err = n.store.EnsureUser(ctx, domain.User{Email: n.cfg.AdminEmail, Name: "Admin", Role: domain.RoleAdmin, PasswordHash: hash})
		if errors.Is(err, domain.ErrRoleConflict) {
			return fmt.Errorf("admin_email %s belongs to an account someone signed up with; it is not made admin. "+
				"Set admin_email (SHELFLIFE_ADMIN_EMAIL) to an address nobody has signed up with: %w", n.cfg.AdminEmail, err)
		}
		if err != nil {
			return fmt.Errorf("first admin: %w", err)
		}
	}
	if !n.cfg.Demo {
		return nil
	}
	hash, err := api.HashPassword(demo.Password, n.cfg.BcryptCost)
	if err != nil {
		return err
	}
	r, err := demo.Seed(ctx, n.store, hash, now)
	if err != nil {
		return fmt.Errorf("demo data: %w", err)
	}
	n.log.Info("demo data loaded", "warehouses", r.Warehouses, "products", r.Products, "lots", r.Lots)
	return nil
}

// Addr is the HTTP address the node listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// URL is the node's base URL.
func (n *Node) URL() string { return "http://" + n.Addr() }

// CatalogTopic says "warehouses or products changed": every node reloads
// its read model's catalog.
const CatalogTopic = "shelflife.catalog"

// catalogChanged reloads this node's catalog and tells the others.
func (n *Node) catalogChanged(ctx context.Context) error {
	if err := n.view.LoadCatalog(ctx); err != nil {
		return err
	}
	return n.bus.Publish(ctx, CatalogTopic, nil, []byte(`{"changed":"catalog"}`))
}

// KakaoFake is the in-process fake Kakao Pay, nil when a real one is set.
func (n *Node) KakaoFake() *kakaofake.Server { return n.kakaoFake }

// KakaoURL is the Kakao Pay base URL the node uses.
func (n *Node) KakaoURL() string { return n.kakaoURL }

// RelayOutbox publishes the outbox now (tests call it directly).
func (n *Node) RelayOutbox() int { return n.relay.relay(context.Background()) }

// SweepOrders resumes and expires due orders now (tests call it directly).
func (n *Node) SweepOrders() int { return n.orderSweeper.sweep(context.Background()) }

// View is the node's read model.
func (n *Node) View() *stockview.View { return n.view }

// Lots calls lot grains through this node's cluster member.
func (n *Node) Lots() *lot.Client { return n.lots }

// Sweep wakes the lots past their transition now (tests call it directly).
func (n *Node) Sweep() int { return n.sweeper.sweep(context.Background()) }

// Store is the node's MySQL store (tests inspect it).
func (n *Node) Store() *mysqlstore.Store { return n.store }

// Served reports the HTTP server's end.
func (n *Node) Served() <-chan error { return n.served }

// lateStepGrace is what each step still gets once the shutdown's deadline
// has passed: enough to close connections and for the cluster member to
// leave (its graceful leave waits 2 s), not to wait on a peer.
const lateStepGrace = 3 * time.Second

// Shutdown stops the node in reverse order of start: HTTP first (finishing
// requests in flight), then the cluster member, Kafka, Redis and MySQL.
// It ends in bounded time whatever a step does: a step still running at
// ctx's deadline (or lateStepGrace after it) is left behind, logged, and
// reported in the error, and the next step starts.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.runCloser(ctx, n.closers[i]); err != nil {
			errs = append(errs, err)
		}
	}
	n.closers = nil
	return errors.Join(errs...)
}

func (n *Node) runCloser(ctx context.Context, c closer) error {
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- c.fn(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done:
		case <-time.After(lateStepGrace):
			n.log.Warn("shutdown step did not finish; left behind", "step", c.name, "seconds", time.Since(start).Seconds())
			return fmt.Errorf("%s did not finish: %w", c.name, context.DeadlineExceeded)
		}
	}
	if took := time.Since(start); took > time.Second {
		n.log.Info("shutdown step was slow", "step", c.name, "seconds", took.Seconds())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return nil
}

// crashAfter is the crash tests' fault injection: it kills this process the
// moment a saga reaches step, as a power cut would.
func crashAfter(step string, log *slog.Logger) func(orderID, reached string) {
	if step == "" {
		return nil
	}
	log.Warn("fault injection armed: the process will SIGKILL itself", "after_step", step)
	return func(orderID, reached string) {
		if reached == step {
			log.Warn("fault injection: killing the process", "order", orderID, "step", step)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}

// clusterInfo adapts the member to the admin API.
type clusterInfo struct{ m *member.Member }

func (c clusterInfo) Self() string { return c.m.Address() }

func (c clusterInfo) MemberAddresses() []string {
	var out []string
	for _, m := range c.m.Members() {
		out = append(out, m.Address)
	}
	sort.Strings(out)
	return out
}

func (c clusterInfo) LotOwner(lotID int64) string {
	return c.m.Owner(strconv.FormatInt(lotID, 10), "Lot")
}
