package member

import (
	"fmt"
	"testing"
	"time"

	"shelflife/cluster/etcdtest"
)

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
	endpoint := etcdtest.Start(t)
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
