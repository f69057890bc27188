package member

import (
	"context"
	"testing"
	"time"
)

func TestTwoMembersSeeEachOther(t *testing.T) {
	agent := NewAgent()
	a, err := Start(Config{Name: "member-test", Agent: agent})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown()
	b, err := Start(Config{Name: "member-test", Agent: agent})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for a.Cluster.MemberList.Members().Len() < 2 || b.Cluster.MemberList.Members().Len() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("members: a sees %d, b sees %d, want 2 each",
				a.Cluster.MemberList.Members().Len(), b.Cluster.MemberList.Members().Len())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := a.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if a.Address() == b.Address() {
		t.Errorf("both members listen on %s", a.Address())
	}
}

func TestUnknownProvider(t *testing.T) {
	if _, err := Start(Config{Provider: "zookeeper-please"}); err == nil {
		t.Error("Start accepted an unknown provider")
	}
}
