package lookup

import (
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
)

func TestRankIsTheSameWhateverTheOrderOfMembers(t *testing.T) {
	a := []string{"10.0.0.1:4000", "10.0.0.2:4000", "10.0.0.3:4000"}
	b := []string{"10.0.0.3:4000", "10.0.0.1:4000", "10.0.0.2:4000"}
	for i := 0; i < 200; i++ {
		key := fmt.Sprintf("Lot/%d", i)
		got, want := rank(key, b), rank(key, a)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("rank(%s) = %v for one order of members, %v for another", key, got, want)
		}
	}
}

func TestRankMovesOnlyTheKeysOfAMemberThatLeaves(t *testing.T) {
	all := []string{"a:1", "b:1", "c:1", "d:1"}
	rest := []string{"a:1", "c:1", "d:1"}
	moved := 0
	for i := 0; i < 2000; i++ {
		key := fmt.Sprintf("Lot/%d", i)
		before, after := rank(key, all), rank(key, rest)
		if before[0] != "b:1" {
			if after[0] != before[0] {
				t.Fatalf("%s moved from %s to %s although %s stayed", key, before[0], after[0], before[0])
			}
			continue
		}
		moved++
		if after[0] != before[1] {
			t.Errorf("%s went to %s, want the next in its ranking, %s", key, after[0], before[1])
		}
	}
	if moved == 0 {
		t.Error("b owned no key of 2000")
	}
}

func TestRankSpreadsKeys(t *testing.T) {
	members := []string{"127.0.0.1:40001", "127.0.0.1:40002", "127.0.0.1:40003"}
	owned := map[string]int{}
	const n = 3000
	for i := 0; i < n; i++ {
		owned[rank(fmt.Sprintf("Lot/%d", i), members)[0]]++
	}
	for _, m := range members {
		if share := float64(owned[m]) / n; share < 0.25 || share > 0.42 {
			t.Errorf("%s owns %.0f%% of the keys, want about a third (%v)", m, share*100, owned)
		}
	}
}

func topology(joined []string, members ...string) *cluster.ClusterTopology {
	t := &cluster.ClusterTopology{}
	for _, addr := range members {
		t.Members = append(t.Members, member(addr))
	}
	for _, addr := range joined {
		t.Joined = append(t.Joined, member(addr))
	}
	return t
}

func member(addr string) *cluster.Member {
	var host string
	var port int32
	fmt.Sscanf(addr, "127.0.0.1:%d", &port)
	host = "127.0.0.1"
	return &cluster.Member{Host: host, Port: port, Id: addr, Kinds: []string{"Lot"}}
}

// ownerOf finds a key that addr owns among members.
func ownerOf(t *testing.T, addr string, members []string) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		key := fmt.Sprintf("Lot/%d", i)
		if rank(key, members)[0] == addr {
			return key
		}
	}
	t.Fatalf("%s owns no key", addr)
	return ""
}

func TestSuspectIsRankedLastUntilCleared(t *testing.T) {
	const self, b, c = "127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"
	members := []string{self, b, c}
	key := ownerOf(t, b, members)
	clock := time.Unix(1000, 0)
	clears := []struct {
		name string
		do   func(l *Lookup)
	}{
		{"connected again", func(l *Lookup) { l.onEvent(&remote.EndpointConnectedEvent{Address: b}) }},
		{"joined anew", func(l *Lookup) { l.onEvent(topology([]string{b}, self, b, c)) }},
		{"suspicion expired", func(l *Lookup) { clock = clock.Add(11 * time.Second) }},
	}
	for _, tc := range clears {
		t.Run(tc.name, func(t *testing.T) {
			l := New(Config{SuspectFor: 10 * time.Second})
			l.now = func() time.Time { return clock }
			l.self = self
			l.onEvent(topology(nil, self, b, c))
			if got := l.owner("Lot", key); got != b {
				t.Fatalf("owner of %s = %s, want %s", key, got, b)
			}
			lost := l.lostSignal(b)
			l.onEvent(&remote.EndpointTerminatedEvent{Address: b})
			select {
			case <-lost:
			default:
				t.Error("the calls waiting on the lost member were not woken")
			}
			got := l.candidates("Lot", key)
			if got[len(got)-1] != b || got[0] == b {
				t.Errorf("candidates after the connection ended = %v, want %s last", got, b)
			}
			if !l.Suspect(b) {
				t.Errorf("%s is not suspect after its connection ended", b)
			}
			tc.do(l)
			if got := l.owner("Lot", key); got != b {
				t.Errorf("owner after %s = %s, want %s again", tc.name, got, b)
			}
		})
	}
}

func TestSuspicionOfAMemberThatLeftIsForgotten(t *testing.T) {
	const self, b = "127.0.0.1:1001", "127.0.0.1:1002"
	l := New(Config{})
	l.self = self
	l.onEvent(topology(nil, self, b))
	l.onEvent(&remote.EndpointTerminatedEvent{Address: b})
	l.onEvent(topology(nil, self))
	if l.Suspect(b) {
		t.Errorf("%s is still suspect after leaving", b)
	}
	if got := l.candidates("Lot", "Lot/1"); len(got) != 1 || got[0] != self {
		t.Errorf("candidates = %v, want only %s", got, self)
	}
}

func TestThisMemberIsNeverSuspect(t *testing.T) {
	const self = "127.0.0.1:1001"
	l := New(Config{})
	l.self = self
	l.onEvent(topology(nil, self))
	l.onEvent(&remote.EndpointTerminatedEvent{Address: self})
	if l.Suspect(self) {
		t.Error("this member suspects itself")
	}
}

func TestOnlyMembersHostingTheKindAreCandidates(t *testing.T) {
	l := New(Config{})
	top := topology(nil, "127.0.0.1:1001", "127.0.0.1:1002")
	top.Members[1].Kinds = []string{"Saga"}
	l.onEvent(top)
	if got := l.candidates("Lot", "Lot/1"); len(got) != 1 || got[0] != "127.0.0.1:1001" {
		t.Errorf("candidates for Lot = %v, want only 127.0.0.1:1001", got)
	}
}
