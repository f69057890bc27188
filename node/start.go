package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
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
	"shelflife/cluster/member"
	"shelflife/demo"
	"shelflife/domain"
	"shelflife/events"
	"shelflife/inventory"
	"shelflife/kafkabus"
	"shelflife/kakaopay"
	"shelflife/kakaopay/kakaofake"
	"shelflife/ordering"
	"shelflife/payments"
	"shelflife/periodic"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/redisstore"
	"shelflife/readiness"
	"shelflife/stockview"
	"shelflife/web"
)

// startListener opens the HTTP listener first, so that the node knows its
// own URL, and the profiler when asked.
func (n *Node) startListener(context.Context) (err error) {
	if n.ln, err = listen("http_addr", n.cfg.HTTPAddr); err != nil {
		return err
	}
	n.onShutdownDo("http listener", func() { n.ln.Close() })
	if n.cfg.DebugAddr != "" {
		stop, err := serveDebug(n.cfg.DebugAddr, nil)
		if err != nil {
			return err
		}
		n.onShutdown("debug server", stop)
	}
	n.publicURL = n.cfg.PublicURL
	if n.publicURL == "" {
		n.publicURL = "http://" + n.ln.Addr().String()
	}
	return nil
}

// startStorage opens MySQL (migrated before anything reads it) and Redis.
func (n *Node) startStorage(ctx context.Context) (err error) {
	n.store, err = mysqlstore.Open(ctx, mysqlstore.Config{DSN: n.cfg.MySQLDSN, MaxOpenConns: n.cfg.MySQLMaxConns})
	if err != nil {
		return err
	}
	n.onShutdown("mysql", func(context.Context) error { return n.store.Close() })
	applied, err := n.store.Migrate(ctx)
	if err != nil {
		return err
	}
	n.log.Info("mysql ready", "migrations_applied", applied)
	key, err := n.store.Secret(ctx, "callback_key", callbacksig.KeySize)
	if err != nil {
		return err
	}
	if n.callbacks, err = callbacksig.New(key); err != nil {
		return err
	}
	n.redis = redis.NewClient(&redis.Options{Addr: n.cfg.RedisAddr, PoolSize: 64})
	n.onShutdown("redis", func(context.Context) error { return n.redis.Close() })
	if err := n.redis.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", n.cfg.RedisAddr, err)
	}
	return nil
}

// startKafka connects to the configured brokers, or to an embedded one on
// 127.0.0.1, and starts the publishers of lot and order changes.
func (n *Node) startKafka(context.Context) (err error) {
	brokers := n.cfg.KafkaBrokers
	if len(brokers) == 0 {
		embedded, err := kafkabus.StartEmbedded(n.cfg.KafkaEmbeddedPort)
		if err != nil {
			return err
		}
		n.onShutdownDo("embedded kafka", embedded.Close)
		brokers = embedded.Addrs()
		n.log.Info("embedded kafka broker started", "brokers", brokers)
	}
	if n.bus, err = kafkabus.New(kafkabus.Config{Brokers: brokers, ClientID: "shelflife-node",
		FetchMaxWait: time.Duration(n.cfg.KafkaFetchMaxWait), FlushFrequency: time.Duration(n.cfg.KafkaFlushFrequency)}); err != nil {
		return err
	}
	n.onShutdown("kafka client", func(context.Context) error { return n.bus.Close() })
	if err := n.bus.EnsureTopics(events.StockTopic, events.OrdersTopic, events.CatalogTopic, saga.OrderFailedTopic); err != nil {
		return err
	}
	n.orderEvts = events.NewOrderEvents(n.bus, n.log)
	n.onShutdown("order events", n.orderEvts.Close)
	return nil
}

// startKakao uses the configured Kakao Pay, or starts the fake on
// kakao_fake_addr.
func (n *Node) startKakao(context.Context) (err error) {
	n.kakaoURL = n.cfg.KakaoBaseURL
	if n.kakaoURL == "" {
		n.kakaoFake = kakaofake.New(n.cfg.PaymentValidity.D())
		var stop func()
		if n.kakaoURL, stop, err = n.kakaoFake.Listen(n.cfg.KakaoFakeAddr); err != nil {
			return fmt.Errorf("fake kakao pay: %w", listenError("kakao_fake_addr", n.cfg.KakaoFakeAddr, err))
		}
		n.onShutdownDo("fake kakao pay", stop)
		n.log.Info("fake kakao pay started", "url", n.kakaoURL)
	}
	n.kakao, err = kakaopay.New(kakaopay.Config{BaseURL: n.kakaoURL, SecretKey: n.cfg.KakaoSecretKey, CID: n.cfg.KakaoCID,
		Timeout: n.cfg.KakaoTimeout.D()})
	return err
}

// startReadModel loads the read model from MySQL (after the first admin
// and the demo data) and the sink that feeds it and Kafka.
func (n *Node) startReadModel(ctx context.Context) error {
	n.view = stockview.New(n.store, n.cfg.MarkdownLadder, n.clk.Now)
	if err := n.ensureAccounts(ctx, n.clk.Now()); err != nil {
		return err
	}
	if err := n.view.Load(ctx); err != nil {
		return fmt.Errorf("load read model: %w", err)
	}
	n.sink = events.NewStockSink(n.view, n.bus, n.log)
	n.onShutdown("stock events", n.sink.Close)
	return nil
}

// startCluster joins the actor cluster, hosting every grain kind.
func (n *Node) startCluster(context.Context) (err error) {
	c := n.cfg.Cluster
	n.activeLots = &lot.Active{}
	mcfg := member.Config{Name: c.Name, Host: c.Host, Port: c.Port, Provider: c.Provider, Peers: c.Peers,
		AutoManPort: c.AutomanPort, EtcdEndpoints: c.EtcdEndpoints, Logger: n.log,
		CheckInterval: time.Duration(c.CheckInterval), EtcdLeaseTTL: time.Duration(c.EtcdLeaseTTL)}
	if a, ok := n.opts.Agent.(member.Agent); ok {
		mcfg.Agent = a
	}
	// Every grain kind this node hosts: a new actor package adds its kind
	// here and nowhere else.
	n.member, err = member.Start(mcfg,
		lot.Kind(lot.Deps{Store: n.store, Clock: n.clk, Ladder: n.cfg.MarkdownLadder,
			Markdown: lot.Markdown{Mode: n.cfg.Markdown, Steps: n.cfg.MarkdownSteps}, Rates: n.store, Siblings: n.store,
			Publisher: n.sink, Logger: n.log, Active: n.activeLots}),
		warehouse.Kind(warehouse.Deps{Store: n.store, Clock: n.clk, Logger: n.log}),
		saga.Kind(saga.Deps{Store: n.store, Payments: payments.Kakao{Client: n.kakao}, Places: n.view, Notifier: n.orderEvts,
			URLs: payments.CallbackURLs{Base: n.publicURL}, Clock: n.clk, Logger: n.log, AfterStep: crashAfter(n.cfg.FaultCrashAfter, n.log)}))
	if err != nil {
		return err
	}
	// Leaving the cluster gracefully waits a fixed 2 s (protoactor lets
	// grain ownership move); only longer than that is worth a log line.
	n.onShutdownTaking("cluster member", clusterLeave, func(context.Context) error {
		n.member.Shutdown()
		lot.ForgetClient(n.member.Cluster)
		return nil
	})
	n.log.Info("cluster member started", "address", n.member.Address(), "provider", c.Provider)
	n.lots = lot.ClientFor(n.member.Cluster)
	n.sagas = saga.NewClient(n.member.Cluster)
	return nil
}

// The read model orders the warehouses a regular line is asked of
// (saga.Holder): a change to either side must not turn that off unseen.
var _ saga.Stocked = (*stockview.View)(nil)

// startConsumers reads other nodes' stock, catalog and order changes, and
// the "order failed" events (inventory's side of compensation 2).
func (n *Node) startConsumers(ctx context.Context) error {
	subs := []struct {
		topic  string
		handle func(key, value []byte)
	}{
		{events.StockTopic, events.ApplyRemote(n.view, n.log)},
		{events.CatalogTopic, func(_, _ []byte) { n.reloadCatalog() }},
		{events.OrdersTopic, events.OrderReader(func(o domain.Order) {
			if n.server != nil {
				n.server.OrderChanged(o)
			}
		})},
	}
	for _, s := range subs {
		stop, err := n.bus.Subscribe(s.topic, s.handle)
		if err != nil {
			return err
		}
		n.onShutdownDo(s.topic+" consumer", stop)
	}
	// The read model was loaded before these subscriptions, and other
	// nodes' changes in between were not heard: the catalog (small) is
	// read again now, the lots (a million on a large shop: seconds) in
	// the background, while the node serves.
	if err := n.view.LoadCatalog(ctx); err != nil {
		return fmt.Errorf("reload catalog: %w", err)
	}
	n.catchUpLots()
	stock := saga.ClusterStock{Lots: n.lots, Warehouses: warehouse.NewClient(n.member.Cluster)}
	restorer := events.Restorer{Store: n.store, Stock: stock, Log: n.log}
	stop, err := n.bus.ConsumeGroup(events.RestoreConsumerName, saga.OrderFailedTopic, restorer.Handle)
	if err != nil {
		return err
	}
	n.onShutdownDo("restore consumer", stop)
	return nil
}

// catchUpLots runs the read model's catch-up in the background, again
// after a failure (MySQL away for a moment) until it succeeds; then every
// read_model_refresh the catalog and the lots are read again, for what the
// node missed since (an announcement dropped while Kafka was away).
// Shutdown cancels both.
func (n *Node) catchUpLots() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		err := keepTrying(ctx, catchUpRetry, catchUpRetryMax, func(ctx context.Context) error {
			_, err := n.view.CatchUp(ctx)
			return err
		}, func(err error, wait time.Duration) {
			n.log.Warn("read model catch-up failed; trying again", "error", err.Error(), "in", wait.String())
		})
		if err == nil {
			n.log.Info("read model caught up", "took", time.Since(start).Round(time.Millisecond).String())
		}
	}()
	n.onShutdown("read model catch-up", func(context.Context) error {
		cancel()
		<-done
		return nil
	})
	if every := n.cfg.ReadModelRefresh.D(); every > 0 {
		p := periodic.StartLater(every, n.refreshReadModel)
		n.onShutdown("read model refresh", p.Close)
	}
}

// refreshReadModel reads the catalog and the lots again (catch-ups run one
// at a time, so a refresh waits for the start's).
func (n *Node) refreshReadModel(ctx context.Context) {
	// The catalog too: its announcements are not kept either.
	err := n.view.LoadCatalog(ctx)
	changed := 0
	if err == nil {
		changed, err = n.view.CatchUp(ctx)
	}
	switch {
	case ctx.Err() != nil:
	case err != nil:
		n.log.Warn("read model refresh failed", "error", err.Error())
	case changed > 0:
		// Missed events, or ones still on their way.
		n.log.Info("read model refresh took lots newer in MySQL", "lots", changed)
	}
}

// The read model's catch-up is tried again after catchUpRetry, doubling
// up to catchUpRetryMax.
const (
	catchUpRetry    = 500 * time.Millisecond
	catchUpRetryMax = 30 * time.Second
)

// keepTrying runs try until it succeeds or ctx ends (its error then),
// waiting first after the first failure, twice as long after each next
// one, at most most; failed hears each failure and the wait after it.
func keepTrying(ctx context.Context, first, most time.Duration, try func(context.Context) error, failed func(error, time.Duration)) error {
	for wait := first; ; wait = min(2*wait, most) {
		err := try(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failed(err, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// startJobs starts the outbox relay, the order sweeper (sagas left
// mid-way, unpaid orders past their validity) and the lot sweeper (lots
// whose transition came while no grain held them).
func (n *Node) startJobs(context.Context) error {
	n.relay = &events.Relay{Store: n.store, Out: n.bus, Now: n.clk.Now, Log: n.log}
	n.startJob("outbox relay", n.cfg.OutboxInterval, func(ctx context.Context) { n.relay.Relay(ctx) })
	n.sweeper = &ordering.Sweeper{Store: n.store, Sagas: n.sagas, Now: n.clk.Now, StuckAfter: n.cfg.SagaStuckAfter.D(), Log: n.log}
	n.startJob("order sweeper", n.cfg.SweepInterval, func(ctx context.Context) { n.sweeper.Sweep(ctx) })
	n.inventory = &inventory.Service{Store: n.store, Risk: n.store, Grains: n.lots, Publisher: n.sink, Now: n.clk.Now, Log: n.log, Active: n.activeLots,
		Adaptive: n.cfg.Markdown == domain.AdaptiveMarkdown, SweepWorkers: n.cfg.LotSweepWorkers}
	n.startJob("lot sweeper", n.cfg.LotSweepInterval, func(ctx context.Context) { n.inventory.Sweep(ctx) })
	return nil
}

// Readiness: how often the checks run and how long each may take. A
// dependency that stops answering is named within their sum (750 ms).
const (
	readyInterval = 250 * time.Millisecond
	readyDeadline = 500 * time.Millisecond
)

// startHTTP builds ordering and the HTTP server, and serves.
func (n *Node) startHTTP(ctx context.Context) (err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(n.store.DB(), "shelflife"))
	registerFaultMetrics(reg, n.store, n.relay, n.bus)
	if n.cfg.MetricsAddr != "" {
		stop, err := serveDebug(n.cfg.MetricsAddr, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		if err != nil {
			return err
		}
		n.onShutdown("operator server", stop)
		n.log.Info("metrics and profiler served for operators", "url", "http://"+n.cfg.MetricsAddr+"/metrics")
	}
	if name := n.cfg.PlaceholderInUse(); name != "" {
		n.log.Warn("demo mode runs with a published placeholder secret; outside demo mode the node refuses it", "setting", name)
	}
	// /readyz answers from checks kept fresh in the background: every
	// readyInterval, each within readyDeadline, a check past it counting
	// as failed at once, so a dependency that stopped answering is named
	// within their sum. Each probe has a connection of its own (MySQL's and
	// Kafka's too): a pool busy with a sale or stuck on a silent server
	// does not hold it. Redis is pinged without the client's retries.
	redisProbe := redis.NewClient(&redis.Options{Addr: n.cfg.RedisAddr, PoolSize: 1, MaxRetries: -1, DialTimeout: readyDeadline,
		ReadTimeout: readyDeadline, WriteTimeout: readyDeadline})
	n.onShutdown("redis probe", func(context.Context) error { return redisProbe.Close() })
	ready := readiness.Start(ctx, map[string]readiness.Check{
		"mysql":   n.store.Ping,
		"redis":   func(ctx context.Context) error { return redisProbe.Ping(ctx).Err() },
		"kafka":   n.bus.Ping,
		"cluster": n.member.Ping,
	}, readyInterval, readyDeadline)
	n.onShutdown("readiness checks", ready.Close)
	checks := map[string]api.Check{}
	for name, c := range ready.Cached() {
		checks[name] = api.Check(c)
	}
	secret := []byte(n.cfg.JWTSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
		n.log.Warn("jwt_secret is empty: using a random one; tokens end with this process and other nodes reject them")
	}
	carts := redisstore.NewCarts(n.redis, n.cfg.RedisPrefix)
	holds := saga.Holder{Stock: saga.ClusterStock{Lots: n.lots, Warehouses: warehouse.NewClient(n.member.Cluster)},
		Places: n.view, Logger: n.log}
	n.orders = ordering.New(ordering.Config{PaymentValidity: n.cfg.PaymentValidity.D(), DealHold: n.cfg.DealHold.D(), Deals: n.cfg.DealLimit,
		Admission: n.cfg.OrderAdmission, MaxUnpaid: n.cfg.MaxUnpaidOrders, Nonce: n.callbacks.Nonce, Now: n.clk.Now},
		n.store, n.view, n.sagas, holds, carts)
	n.server, err = api.New(api.Config{
		Deals: n.cfg.DealLimit, SocketsPerAddress: n.cfg.WSPerAddress, MetricsElsewhere: n.cfg.MetricsAddr != "",
		TrustedProxies: n.cfg.TrustedProxies, JWTSecret: secret, TokenTTL: n.cfg.TokenTTL.D(), BcryptCost: n.cfg.BcryptCost,
		BodyLimit: n.cfg.BodyLimitBytes, RequestTimeout: n.cfg.RequestTimeout.D(), Limits: apiLimits(n.cfg), RequestLog: n.cfg.RequestLog,
		Logger: n.log, Now: n.clk.Now,
	}, api.Deps{
		Users: n.store, Catalog: n.store, Callbacks: n.callbacks, Metrics: reg, View: n.view, OnCatalogChange: n.catalogChanged,
		Inventory: n.inventory, Carts: carts, Pages: web.Files(), Cluster: clusterInfo{n.member}, Orders: n.orders,
		Dashboard: n.store, Throttle: redisstore.NewThrottle(n.redis, n.cfg.RedisPrefix),
		Checks: checks,
	})
	if err != nil {
		return err
	}
	n.orderEvts.Local = n.server.OrderChanged
	go func() { n.served <- n.server.Serve(n.ln) }()
	n.onShutdown("http server", n.server.Shutdown)
	n.log.Info("http listening", "addr", n.ln.Addr().String())
	return nil
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

// catalogChanged reloads this node's catalog and tells the others.
func (n *Node) catalogChanged(ctx context.Context) error {
	if err := n.view.LoadCatalog(ctx); err != nil {
		return err
	}
	return n.bus.Publish(ctx, events.CatalogTopic, nil, []byte(`{"changed":"catalog"}`))
}

// reloadCatalog takes a catalog change another node announced.
func (n *Node) reloadCatalog() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.view.LoadCatalog(ctx); err != nil {
		n.log.Warn("reload catalog", "error", err.Error())
	}
}
