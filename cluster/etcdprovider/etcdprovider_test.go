package etcdprovider

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"

	"shelflife/cluster/etcdtest"
	"shelflife/cluster/lookup"
)

type node struct {
	c *cluster.Cluster
	p *Provider
}

// start starts one member of cluster name registered in etcd at endpoint.
func start(t *testing.T, endpoint, name string, ttl time.Duration) node {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := New(Config{Endpoints: []string{endpoint}, LeaseTTL: ttl, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	c := cluster.New(system, cluster.Configure(name, p, lookup.New(lookup.Config{Logger: quiet}), remote.Configure("127.0.0.1", 0)))
	c.StartMember()
	return node{c: c, p: p}
}

func waitMembers(t *testing.T, n node, want int, why string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for n.c.MemberList.Members().Len() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s sees %d members, want %d", why, n.c.ActorSystem.Address(), n.c.MemberList.Members().Len(), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func shutdown(ns ...node) {
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Go(func() { n.c.Shutdown(true) })
	}
	wg.Wait()
}

func TestAMemberThatStopsKeepingItsLeaseIsDropped(t *testing.T) {
	endpoint := etcdtest.Start(t)
	name := fmt.Sprintf("etcd-lease-%d", time.Now().UnixNano())
	a := start(t, endpoint, name, 2*time.Second)
	b := start(t, endpoint, name, 2*time.Second)
	defer shutdown(a)
	waitMembers(t, a, 2, "both registered")

	ttl, err := b.p.client.TimeToLive(context.Background(), b.p.lease)
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL != 2 {
		t.Errorf("lease granted for %d s, want the configured 2", ttl.GrantedTTL)
	}
	// b dies: its keep-alives stop, nothing deregisters it.
	b.p.cancel()
	b.p.wg.Wait()
	waitMembers(t, a, 1, "b's lease expired")
}

func TestAMemberWhoseLeaseIsLostSeesItselfOut(t *testing.T) {
	endpoint := etcdtest.Start(t)
	name := fmt.Sprintf("etcd-lost-%d", time.Now().UnixNano())
	a := start(t, endpoint, name, 2*time.Second)
	b := start(t, endpoint, name, 2*time.Second)
	defer shutdown(a, b)
	waitMembers(t, a, 2, "both registered")
	b.p.mu.Lock()
	lease := b.p.lease
	b.p.mu.Unlock()
	// What etcd does to a lease whose keep-alives were late by its TTL.
	if _, err := a.p.client.Revoke(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, a, 1, "b's lease was lost")
	// b's health check asks whether b is among the members it sees.
	for deadline := time.Now().Add(20 * time.Second); b.c.MemberList.ContainsMemberID(b.c.ActorSystem.ID); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b still counts itself a member after losing its registration")
		}
	}
}

func TestNoEndpoints(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted a config without endpoints")
	}
}
