// Package etcdtest runs a real etcd server for tests, inside the test
// process (the etcd server's own embed package), so that tests need no
// etcd binary installed.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Start runs a one-member etcd on 127.0.0.1 for the test and returns its
// client address (host:port); it stops when tb ends.
func Start(tb testing.TB) string {
	tb.Helper()
	cfg := embed.NewConfig()
	cfg.Name = "test"
	cfg.Dir = tb.TempDir()
	// Its closing complaints ("use of closed network connection") are
	// noise here: errors that matter come back from StartEtcd or e.Err().
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	// The client side listens on a port the kernel picks; the peer URL must
	// be known before start (it is part of the initial cluster), so it takes
	// a free port found beforehand.
	client := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort(tb))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = "test=" + peer.String()
	cfg.ListenMetricsUrls = nil
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		tb.Fatalf("start embedded etcd: %v", err)
	}
	tb.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		tb.Fatalf("embedded etcd: %v", err)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		tb.Fatal("embedded etcd was not ready within 60 s")
	}
	return e.Clients[0].Addr().String()
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
