// Package node wires one ShelfLife node together and does nothing else:
// MySQL, Redis, Kafka (a real broker or the embedded one), Kakao Pay (the
// configured one or the fake), the read model, the actor cluster member,
// ordering, inventory, the event publishers and consumers, the periodic
// jobs and the HTTP server. It is the only package that knows every
// concrete type; cmd/shelflife and the tests start a Node. Each start step
// below registers its stop, and Shutdown runs them in reverse.
package node

import (
	"context"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/lmittmann/tint"
	"github.com/redis/go-redis/v9"
	"golang.org/x/term"

	"shelflife/actors/lot"
	"shelflife/actors/saga"
	"shelflife/api"
	"shelflife/callbacksig"
	"shelflife/clock"
	"shelflife/cluster/member"
	"shelflife/config"
	"shelflife/events"
	"shelflife/inventory"
	"shelflife/kafkabus"
	"shelflife/kakaopay"
	"shelflife/kakaopay/kakaofake"
	"shelflife/ordering"
	"shelflife/periodic"
	"shelflife/persistence/mysqlstore"
	"shelflife/stockview"
)

// Node is a running ShelfLife node.
type Node struct {
	cfg  config.Node
	log  *slog.Logger
	clk  clock.Clock
	opts Options

	ln        net.Listener
	publicURL string
	store     *mysqlstore.Store
	callbacks *callbacksig.Signer
	redis     *redis.Client
	bus       *kafkabus.Bus
	kakao     *kakaopay.Client
	kakaoFake *kakaofake.Server
	kakaoURL  string
	view      *stockview.View
	sink      *events.StockSink
	orderEvts *events.OrderEvents
	member    *member.Member
	lots      *lot.Client
	// activeLots are the lots with a grain on this node.
	activeLots *lot.Active
	sagas      *saga.Client
	orders     *ordering.Service
	inventory  *inventory.Service
	relay      *events.Relay
	sweeper    *ordering.Sweeper
	server     *api.Server
	served     chan error
	// started is how long each start step took, in order.
	started []StartStep
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
	// afterStep, when set (by this package's tests), runs after each
	// start step.
	afterStep func(n *Node, step string)
}

// NewLogger builds the structured logger the configuration asks for. With
// log_format auto (the default) a person at a terminal reads coloured
// text and anything else (a pipe, a file, a log collector) gets JSON.
func NewLogger(cfg config.Node, w io.Writer) *slog.Logger {
	f, ok := w.(interface{ Fd() uintptr })
	return newLogger(cfg, w, ok && term.IsTerminal(int(f.Fd())))
}

func newLogger(cfg config.Node, w io.Writer, terminal bool) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	switch {
	case cfg.LogFormat == "text":
		return slog.New(slog.NewTextHandler(w, opts))
	case cfg.LogFormat == "auto" && terminal:
		return slog.New(tint.NewTextHandler(w, &tint.Options{Level: level, TimeFormat: "15:04:05.000"}))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Start opens every dependency in order, then listens for HTTP. On error,
// what was started is stopped again.
func Start(ctx context.Context, cfg config.Node, opts Options) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n = &Node{cfg: cfg, log: opts.Logger, clk: opts.Clock, opts: opts, served: make(chan error, 1)}
	if n.log == nil {
		n.log = slog.Default()
	}
	if n.clk == nil {
		n.clk = clock.Real{}
	}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.D())
			defer cancel()
			n.Shutdown(sctx)
		}
	}()
	for _, step := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"listener", n.startListener}, {"storage", n.startStorage}, {"kafka", n.startKafka}, {"kakao", n.startKakao},
		{"read model", n.startReadModel}, {"cluster", n.startCluster}, {"consumers", n.startConsumers},
		{"jobs", n.startJobs}, {"http", n.startHTTP},
	} {
		t := time.Now()
		if err := step.fn(ctx); err != nil {
			return n, err
		}
		n.started = append(n.started, StartStep{Name: step.name, Took: time.Since(t)})
		if opts.afterStep != nil {
			opts.afterStep(n, step.name)
		}
	}
	var attrs []any
	for _, s := range n.started {
		attrs = append(attrs, s.Name, s.Took.Round(time.Millisecond).String())
	}
	n.log.Info("node started", attrs...)
	return n, nil
}

// StartStep is one step of a node's start and how long it took.
type StartStep struct {
	Name string
	Took time.Duration
}

// Started lists the start's steps with their durations.
func (n *Node) Started() []StartStep { return n.started }

// Member is the node's cluster member (benchmarks stop grains through it).
func (n *Node) Member() *member.Member { return n.member }

// Addr is the HTTP address the node listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// URL is the node's base URL.
func (n *Node) URL() string { return "http://" + n.Addr() }

// KakaoFake is the in-process fake Kakao Pay, nil when a real one is set.
func (n *Node) KakaoFake() *kakaofake.Server { return n.kakaoFake }

// KakaoURL is the Kakao Pay base URL the node uses.
func (n *Node) KakaoURL() string { return n.kakaoURL }

// RelayOutbox publishes the outbox now (tests call it directly).
func (n *Node) RelayOutbox() int { return n.relay.Relay(context.Background()) }

// SweepOrders resumes and expires due orders now (tests call it directly).
func (n *Node) SweepOrders() int { return n.sweeper.Sweep(context.Background()) }

// Sweep moves the lots past their transition now (tests call it directly).
func (n *Node) Sweep() int { return n.inventory.Sweep(context.Background()) }

// View is the node's read model.
func (n *Node) View() *stockview.View { return n.view }

// Lots calls lot grains through this node's cluster member.
func (n *Node) Lots() *lot.Client { return n.lots }

// Store is the node's MySQL store (tests inspect it).
func (n *Node) Store() *mysqlstore.Store { return n.store }

// Served reports the HTTP server's end.
func (n *Node) Served() <-chan error { return n.served }

// startJob runs job every interval until shutdown.
func (n *Node) startJob(name string, interval config.Duration, job func(context.Context)) {
	p := periodic.Start(interval.D(), job)
	n.onShutdown(name, p.Close)
}
