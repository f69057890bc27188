// Package member starts this process as a member of the ShelfLife actor
// cluster (protoactor-go with the project's identity lookup, see
// cluster/lookup) and registers the grain kinds. It is the one place that
// knows the cluster library's bootstrap; the actor packages hand it their
// kinds.
package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/remote"

	"shelflife/cluster/etcdprovider"
	"shelflife/cluster/lookup"
)

// Config says which cluster to join and how.
type Config struct {
	// Name is the cluster name; members with the same name find each other.
	Name string
	// Host and Port are where this member's remoting listens (port 0: any).
	Host string
	Port int
	// Provider is "test" (members of one process, found in memory) or
	// "automanaged" (processes that find each other through a static list
	// of peers, each serving its health on AutoManPort).
	Provider string
	// Peers are the host:automan-port of every member (automanaged).
	Peers []string
	// AutoManPort is where this member answers its peers (automanaged). The
	// library listens on all interfaces; the peers it calls are in Peers.
	AutoManPort int
	// CheckInterval is how often automanaged members check each other's
	// health (default 500ms). A member whose health answer fails (refused,
	// or late by the check's 2 s HTTP timeout) is dropped from the
	// membership at that check, so the interval is the provider's failure
	// detection time. Shorter finds a dead member sooner but checks more
	// often, and each check is a chance to drop a live member that is
	// paused or starved (a busy machine, a long GC or VM pause). A dropped
	// member is dropped for good: protoactor-go never lets a member that
	// left back in under the same id, so it is out until it restarts. The
	// lookup does not wait for this detection: a member whose connection
	// ends is passed over at once (see cluster/lookup).
	CheckInterval time.Duration
	// EtcdEndpoints are the etcd servers of the "etcd" provider (members
	// register under /shelflife/<Name>/ with a lease and watch each other).
	EtcdEndpoints []string
	// EtcdLeaseTTL is the lease on this member's registration in etcd
	// (default 2s): how long a member that dies stays listed. Shorter
	// drops a dead member sooner; a live one whose keep-alives are late by
	// the whole TTL is dropped too, for good, until it restarts (see
	// etcdprovider.Config.LeaseTTL).
	EtcdLeaseTTL time.Duration
	// Lookup tunes the identity lookup (activation timeout, suspicion).
	Lookup lookup.Config
	// Agent is the in-memory registry shared by test-provider members of
	// one process; nil makes a new one (a cluster of one).
	Agent *test.InMemAgent
	// RequestTimeout bounds one grain call.
	RequestTimeout time.Duration
	Logger         *slog.Logger
}

// Member is a started cluster member.
type Member struct {
	Cluster *cluster.Cluster
	System  *actor.ActorSystem
}

// NewAgent makes an in-memory registry for several members in one process.
func NewAgent() *test.InMemAgent { return test.NewInMemAgent() }

// Start joins the cluster with the given kinds.
func Start(cfg Config, kinds ...*cluster.Kind) (m *Member, err error) {
	if cfg.Name == "" {
		cfg.Name = "shelflife"
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	var provider cluster.ClusterProvider
	switch cfg.Provider {
	case "", "test":
		agent := cfg.Agent
		if agent == nil {
			agent = test.NewInMemAgent()
		}
		provider = test.NewTestProvider(agent)
	case "automanaged":
		if len(cfg.Peers) == 0 || cfg.AutoManPort <= 0 {
			return nil, errors.New("cluster provider automanaged: peers and automan_port are required")
		}
		every := cfg.CheckInterval
		if every <= 0 {
			every = 500 * time.Millisecond
		}
		provider = automanaged.NewWithConfig(every, cfg.AutoManPort, cfg.Peers...)
	case "etcd":
		if len(cfg.EtcdEndpoints) == 0 {
			return nil, errors.New("cluster provider etcd: etcd_endpoints are required")
		}
		p, err := etcdprovider.New(etcdprovider.Config{Endpoints: cfg.EtcdEndpoints, LeaseTTL: cfg.EtcdLeaseTTL, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("cluster provider etcd: %w", err)
		}
		provider = p
	default:
		return nil, fmt.Errorf("cluster provider %q: this build knows \"test\", \"automanaged\" and \"etcd\"", cfg.Provider)
	}

	// The library logs every lifecycle step at info; keep its warnings.
	actorLog := slog.New(minLevel{logger.Handler(), slog.LevelWarn}).With("component", "actors")
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return actorLog
	}))
	remoteCfg := remote.Configure(cfg.Host, cfg.Port)
	// One connection attempt per endpoint, not five: the library sleeps 2 s
	// after each failed attempt while the messages for that member wait, and
	// only then reports the endpoint terminated. Callers retry anyway.
	remoteCfg.MaxRetryCount = 1
	lcfg := cfg.Lookup
	if lcfg.Logger == nil {
		lcfg.Logger = logger
	}
	lk := lookup.New(lcfg)
	clusterCfg := cluster.Configure(cfg.Name, provider, lk, remoteCfg,
		cluster.WithKinds(kinds...),
		cluster.WithRequestTimeout(cfg.RequestTimeout),
		cluster.WithClusterContextProducer(lk.ContextProducer()),
	)
	c := cluster.New(system, clusterCfg)
	// The library reports start-up failures by panicking.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start cluster member: %v", r)
		}
	}()
	c.StartMember()
	if cfg.Provider == "automanaged" {
		// The library serves this member's health in the background and
		// only logs when it cannot (the port taken): the member would run
		// on, never seen by its peers. Its own answer is what says the
		// port is this member's.
		if err := answersAsItself(cfg.AutoManPort, system.ID, automanStartWithin); err != nil {
			func() {
				defer func() { recover() }()
				// The cluster's own stop leaves the provider's health
				// checks and server running: stopped first.
				_ = provider.Shutdown(false)
				c.Shutdown(false)
			}()
			return nil, fmt.Errorf("cluster provider automanaged: automan_port %d: %w", cfg.AutoManPort, err)
		}
	}
	return &Member{Cluster: c, System: system}, nil
}

// automanStartWithin is how long a member waits for its automanaged health
// endpoint to answer as itself.
var automanStartWithin = 10 * time.Second

// answersAsItself waits until the automanaged health endpoint on port
// answers with member id, and fails after within.
func answersAsItself(port int, id string, within time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/_health", port)
	deadline := time.Now().Add(within)
	var last error
	for {
		var node automanaged.NodeModel
		resp, err := client.Get(url)
		if err == nil {
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("answered HTTP %d, not as a member", resp.StatusCode)
			} else {
				err = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&node)
			}
			resp.Body.Close()
			if err == nil && node.ID == id {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("answered by another member (%q), not this one (%q)", node.ID, id)
			}
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("this member's health endpoint did not answer as itself within %s (is the port in use?): %w", within, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Address is host:port of this member's remoting.
func (m *Member) Address() string { return m.System.Address() }

// Ping checks that this member sees itself among the live members.
func (m *Member) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.Cluster.MemberList == nil {
		return fmt.Errorf("cluster: no member list")
	}
	if !m.Cluster.MemberList.ContainsMemberID(m.System.ID) {
		return fmt.Errorf("cluster: this member (%s) is not among the live members", m.System.ID)
	}
	return nil
}

// Shutdown leaves the cluster gracefully: grains stop (and persist) first.
func (m *Member) Shutdown() {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("cluster shutdown", "panic", r)
		}
	}()
	m.Cluster.Shutdown(true)
}

// Agent is the in-memory registry type of the test provider.
type Agent = *test.InMemAgent

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}

// ShutdownAll shuts several members down at once (each waits for its grains).
func ShutdownAll(ms ...*Member) {
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Shutdown()
		}()
	}
	wg.Wait()
}

// MemberInfo is one member as the cluster sees it.
type MemberInfo struct {
	ID      string `json:"id"`
	Address string `json:"address"`
}

// Members lists the live members.
func (m *Member) Members() []MemberInfo {
	var out []MemberInfo
	for _, mm := range m.Cluster.MemberList.Members().Members() {
		out = append(out, MemberInfo{ID: mm.Id, Address: mm.Address()})
	}
	return out
}

// Owner is the address of the member that hosts identity of kind (placing
// it if needed), or "" when no member answers.
func (m *Member) Owner(identity, kind string) string {
	pid := m.Cluster.Get(identity, kind)
	if pid == nil {
		return ""
	}
	return pid.Address
}
