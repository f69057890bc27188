// Package etcdprovider is the cluster membership of production: each
// member registers itself in etcd under a lease it keeps alive, and every
// member watches the registrations.
//
// It takes the place of protoactor-go's etcd provider for one reason: the
// library fixes the lease at 3 s, and the lease TTL is the time a member
// that dies stays listed. Here it is a setting (LeaseTTL).
package etcdprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Config says where etcd is and how members register.
type Config struct {
	Endpoints []string
	// Prefix is where the members of all clusters register (default
	// "/shelflife"); a cluster's members are under Prefix/<cluster name>/.
	Prefix string
	// LeaseTTL is the lease on a member's registration (default 2s, whole
	// seconds; etcd raises a TTL below its minimum, 2 s with its default
	// timing). A member that dies stays listed until its lease expires
	// (etcd checks leases every 500 ms). Shorter drops a dead member
	// sooner; but a live member whose keep-alives (sent every third of the
	// TTL) are late by the whole TTL — a long pause, an overloaded etcd —
	// loses its registration and is dropped as if dead, for good: it is
	// out of the cluster until it restarts (see keepRegistered).
	LeaseTTL    time.Duration
	DialTimeout time.Duration
	Logger      *slog.Logger
}

// Provider implements cluster.ClusterProvider.
type Provider struct {
	cfg    Config
	log    *slog.Logger
	client *clientv3.Client

	c      *cluster.Cluster
	prefix string
	key    string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	members map[string]*cluster.Member // by etcd key
	lease   clientv3.LeaseID
}

var _ cluster.ClusterProvider = (*Provider)(nil)

// New connects to etcd.
func New(cfg Config) (*Provider, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd provider: no endpoints")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/shelflife"
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 2 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: cfg.DialTimeout})
	if err != nil {
		return nil, fmt.Errorf("etcd provider: %w", err)
	}
	return &Provider{cfg: cfg, log: log.With("component", "etcd-provider"), client: client, members: map[string]*cluster.Member{}}, nil
}

// registration is what a member writes about itself.
type registration struct {
	ID    string   `json:"id"`
	Host  string   `json:"host"`
	Port  int      `json:"port"`
	Kinds []string `json:"kinds"`
}

// StartMember registers this member and follows the others.
func (p *Provider) StartMember(c *cluster.Cluster) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return err
	}
	ctx := p.start(c)
	p.key = p.prefix + c.ActorSystem.ID
	value, _ := json.Marshal(registration{ID: c.ActorSystem.ID, Host: host, Port: port, Kinds: c.GetClusterKinds()})
	if err := p.register(ctx, string(value)); err != nil {
		p.cancel()
		return err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.keepRegistered(ctx)
	}()
	return p.follow(ctx)
}

// StartClient only follows the members.
func (p *Provider) StartClient(c *cluster.Cluster) error {
	return p.follow(p.start(c))
}

func (p *Provider) start(c *cluster.Cluster) context.Context {
	p.c = c
	p.prefix = p.cfg.Prefix + "/" + c.Config.Name + "/"
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	return ctx
}

// register writes this member's key under a new lease.
func (p *Provider) register(ctx context.Context, value string) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	ttl := max(int64(p.cfg.LeaseTTL/time.Second), 1)
	lease, err := p.client.Grant(ctx, ttl)
	if err != nil {
		return fmt.Errorf("etcd provider: grant lease: %w", err)
	}
	if _, err := p.client.Put(ctx, p.key, value, clientv3.WithLease(lease.ID)); err != nil {
		return fmt.Errorf("etcd provider: register: %w", err)
	}
	p.mu.Lock()
	p.lease = lease.ID
	p.mu.Unlock()
	return nil
}

// keepRegistered keeps the lease alive. When the lease is lost anyway
// (etcd unreachable, or keep-alives late, for a whole TTL), etcd deletes
// the registration and every member, this one included, sees this member
// leave; protoactor-go never lets a member that left back in under the
// same id, so registering again would not help: the member's own health
// check (it no longer sees itself) reports it, and a restart rejoins.
func (p *Provider) keepRegistered(ctx context.Context) {
	p.mu.Lock()
	lease := p.lease
	p.mu.Unlock()
	ch, err := p.client.KeepAlive(ctx, lease)
	if err == nil {
		for range ch {
		}
	}
	if ctx.Err() == nil {
		p.log.Error("registration lease lost: this member is out of the cluster until it restarts", "key", p.key)
	}
}

// follow reads the members, publishes them, and follows their changes.
func (p *Provider) follow(ctx context.Context) error {
	rev, err := p.list(ctx)
	if err != nil {
		p.cancel()
		return err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.watch(ctx, rev)
	}()
	return nil
}

// list reads every member, publishes them, and returns the revision to
// watch from.
func (p *Provider) list(ctx context.Context) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	resp, err := p.client.Get(rctx, p.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("etcd provider: list members: %w", err)
	}
	p.mu.Lock()
	p.members = map[string]*cluster.Member{}
	for _, kv := range resp.Kvs {
		p.setLocked(string(kv.Key), kv.Value)
	}
	p.mu.Unlock()
	p.publish()
	return resp.Header.Revision + 1, nil
}

// watch applies the changes from rev on; when the watch fails (etcd
// unreachable, the revision compacted), it lists the members again and
// watches from there.
func (p *Provider) watch(ctx context.Context, rev int64) {
	for ctx.Err() == nil {
		for wr := range p.client.Watch(clientv3.WithRequireLeader(ctx), p.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev)) {
			if err := wr.Err(); err != nil {
				p.log.Warn("watch members", "error", err.Error())
				break
			}
			p.mu.Lock()
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					delete(p.members, string(ev.Kv.Key))
				} else {
					p.setLocked(string(ev.Kv.Key), ev.Kv.Value)
				}
			}
			p.mu.Unlock()
			rev = wr.Header.Revision + 1
			p.publish()
		}
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			next, err := p.list(ctx)
			if err == nil {
				rev = next
				break
			}
			p.log.Warn("list members", "error", err.Error())
		}
	}
}

func (p *Provider) setLocked(key string, value []byte) {
	var r registration
	if err := json.Unmarshal(value, &r); err != nil {
		p.log.Warn("unreadable registration", "key", key, "error", err.Error())
		return
	}
	p.members[key] = &cluster.Member{Id: r.ID, Host: r.Host, Port: int32(r.Port), Kinds: r.Kinds}
}

func (p *Provider) publish() {
	p.mu.Lock()
	members := make([]*cluster.Member, 0, len(p.members))
	for _, m := range p.members {
		members = append(members, m)
	}
	p.mu.Unlock()
	sort.Slice(members, func(i, j int) bool { return members[i].Id < members[j].Id })
	p.c.MemberList.UpdateClusterTopology(members)
}

// Shutdown removes this member's registration (the others see it leave at
// once rather than a TTL later) and stops following.
func (p *Provider) Shutdown(graceful bool) error {
	if p.cancel == nil {
		return p.client.Close()
	}
	p.cancel()
	p.wg.Wait()
	var err error
	if p.key != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		p.mu.Lock()
		lease := p.lease
		p.mu.Unlock()
		if _, rerr := p.client.Revoke(ctx, lease); rerr != nil {
			err = fmt.Errorf("etcd provider: deregister: %w", rerr)
		}
		cancel()
	}
	return errors.Join(err, p.client.Close())
}
