package membertest

import (
	"net"
	"os/exec"
	"testing"
	"time"
)

// StartEtcd runs a one-member etcd server (Debian's etcd-server) on
// 127.0.0.1 for the test and returns its client address; it stops when tb
// ends.
func StartEtcd(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		tb.Fatalf("etcd is not installed (apt-get install etcd-server; .ci/run does): %v", err)
	}
	client, peer := freePort(tb), freePort(tb)
	clientURL := "http://" + client
	peerURL := "http://" + peer
	cmd := exec.Command(bin, "--name", "test", "--data-dir", tb.TempDir(),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "test="+peerURL, "--log-level", "error")
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", client); err == nil {
			c.Close()
			return client
		}
		if time.Now().After(deadline) {
			tb.Fatal("etcd did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
