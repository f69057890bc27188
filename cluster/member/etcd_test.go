package member

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

func freeLocalPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startEtcd runs a one-member etcd inside the test process (the etcd
// server's own embed package), so the test needs no etcd binary installed.
func startEtcd(t *testing.T) string {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = "test"
	cfg.Dir = t.TempDir()
	// Its closing complaints ("use of closed network connection") are
	// noise here: errors that matter come back from StartEtcd or e.Err().
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	// The client side listens on a port the kernel picks; the peer URL must
	// be known before start (it is part of the initial cluster), so it takes
	// a free port found beforehand.
	client := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freeLocalPort(t))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = "test=" + peer.String()
	cfg.ListenMetricsUrls = nil
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatalf("embedded etcd: %v", err)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		t.Fatal("embedded etcd was not ready within 60 s")
	}
	return e.Clients[0].Addr().String()
}

func waitMembers(t *testing.T, m *Member, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for m.Cluster.MemberList.Members().Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s sees %d members, want %d", m.Address(), m.Cluster.MemberList.Members().Len(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEtcdProviderMembership(t *testing.T) {
	endpoint := startEtcd(t)
	name := fmt.Sprintf("etcd-test-%d", time.Now().UnixNano())
	a, err := Start(Config{Name: name, Provider: "etcd", EtcdEndpoints: []string{endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown()
	b, err := Start(Config{Name: name, Provider: "etcd", EtcdEndpoints: []string{endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	waitMembers(t, a, 2)
	waitMembers(t, b, 2)
	b.Shutdown() // deregisters; a must notice
	waitMembers(t, a, 1)
	if _, err := Start(Config{Name: name, Provider: "etcd"}); err == nil {
		t.Error("the etcd provider started without endpoints")
	}
}
