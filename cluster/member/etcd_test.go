package member

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
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

// startEtcd runs a one-member etcd (Debian's etcd-server) on 127.0.0.1.
func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("etcd is not installed (apt-get install etcd-server; .ci/run does): %v", err)
	}
	client, peer := freeLocalPort(t), freeLocalPort(t)
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	cmd := exec.Command(bin, "--name", "test", "--data-dir", t.TempDir(),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "test="+peerURL, "--log-level", "error")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", client)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("etcd did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Sprintf("127.0.0.1:%d", client)
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
