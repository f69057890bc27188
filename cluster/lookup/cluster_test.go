package lookup

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// probe is a grain that answers its member's address. It leaves the first
// "hold" it gets unanswered (a member that died with the call in flight),
// and tells held when it does; it records when it stops.
type probe struct {
	held    chan<- string
	once    *sync.Once
	stopped *stopLog
	id      string
}

func (p *probe) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *cluster.ClusterInit:
		p.id = msg.Identity.Identity
	case *actor.Stopping:
		p.stopped.add(p.id, ctx.Self().Address)
	case *wrapperspb.StringValue:
		if msg.Value == "hold" {
			first := false
			p.once.Do(func() { first = true })
			if first {
				p.held <- ctx.Self().Address
				return
			}
		}
		ctx.Respond(wrapperspb.String(ctx.Self().Address))
	}
}

// stopLog is where probes stopped: identity -> member addresses.
type stopLog struct {
	mu sync.Mutex
	at map[string][]string
}

func (s *stopLog) add(id, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at[id] = append(s.at[id], addr)
}

func (s *stopLog) get(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.at[id]...)
}

type testMember struct {
	c *cluster.Cluster
	l *Lookup
}

func (m testMember) addr() string { return m.c.ActorSystem.Address() }

// testCluster is an in-process cluster whose members host the probe kind,
// each with its own lookup.
type testCluster struct {
	agent   *test.InMemAgent
	name    string
	held    chan<- string
	once    *sync.Once
	stopped *stopLog
	members []testMember
}

func newTestCluster(t *testing.T, held chan<- string) *testCluster {
	tc := &testCluster{
		agent: test.NewInMemAgent(), name: fmt.Sprintf("lookup-test-%d", time.Now().UnixNano()),
		held: held, once: &sync.Once{}, stopped: &stopLog{at: map[string][]string{}},
	}
	t.Cleanup(func() {
		// Each graceful shutdown takes about 2 s; at once, not in turn.
		var wg sync.WaitGroup
		for _, m := range tc.members {
			wg.Go(func() { m.c.Shutdown(true) })
		}
		wg.Wait()
	})
	return tc
}

// add starts one more member and waits until every member sees them all.
func (tc *testCluster) add(t *testing.T) testMember {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	l := New(Config{Logger: quiet})
	kind := cluster.NewKind("Probe", actor.PropsFromProducer(func() actor.Actor {
		return &probe{held: tc.held, once: tc.once, stopped: tc.stopped}
	}))
	cfg := cluster.Configure(tc.name, test.NewTestProvider(tc.agent), l, remote.Configure("127.0.0.1", 0),
		cluster.WithKinds(kind), cluster.WithClusterContextProducer(l.ContextProducer()))
	c := cluster.New(system, cfg)
	c.StartMember()
	m := testMember{c: c, l: l}
	tc.members = append(tc.members, m)
	deadline := time.Now().Add(15 * time.Second)
	for _, m := range tc.members {
		for m.c.MemberList.Members().Len() < len(tc.members) {
			if time.Now().After(deadline) {
				t.Fatalf("cluster did not reach %d members", len(tc.members))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return m
}

// startMembers starts n members of one in-process cluster.
func startMembers(t *testing.T, n int, held chan<- string) []testMember {
	t.Helper()
	tc := newTestCluster(t, held)
	for range n {
		tc.add(t)
	}
	return tc.members
}

// ownedBy finds a probe identity whose owner is m.
func ownedBy(t *testing.T, m testMember, from testMember) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		id := fmt.Sprint(i)
		if from.l.owner("Probe", "Probe/"+id) == m.addr() {
			return id
		}
	}
	t.Fatalf("%s owns no identity", m.addr())
	return ""
}

func TestMembersAgreeOnWhereAGrainLives(t *testing.T) {
	ms := startMembers(t, 3, make(chan string, 1))
	hosts := map[string]int{}
	for i := 0; i < 30; i++ {
		id := fmt.Sprint(i)
		var first *actor.PID
		for _, m := range ms {
			pid := m.c.Get(id, "Probe")
			if pid == nil {
				t.Fatalf("%s found no member for probe %s", m.addr(), id)
			}
			if first == nil {
				first = pid
			} else if !pid.Equal(first) {
				t.Fatalf("probe %s is %v for one member and %v for another", id, first, pid)
			}
		}
		hosts[first.Address]++
	}
	if len(hosts) != 3 {
		t.Errorf("30 grains live on %d members (%v), want all 3", len(hosts), hosts)
	}
}

func TestACallWaitingOnALostMemberIsRetriedOnTheNextOwner(t *testing.T) {
	held := make(chan string, 1)
	ms := startMembers(t, 2, held)
	a, b := ms[0], ms[1]
	id := ownedBy(t, b, a)
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		// A minute: far longer than the test, so only a retry can answer.
		v, err := a.c.Request(id, "Probe", wrapperspb.String("hold"), cluster.WithTimeout(time.Minute))
		done <- result{v, err}
	}()
	if got := <-held; got != b.addr() {
		t.Fatalf("the call was held on %s, want %s", got, b.addr())
	}
	// What the remote publishes when the connection to b ends.
	a.c.ActorSystem.EventStream.Publish(&remote.EndpointTerminatedEvent{Address: b.addr()})
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("call after the member was lost: %v", r.err)
		}
		if s, ok := r.v.(*wrapperspb.StringValue); !ok || s.Value == "" {
			t.Errorf("answer %v, want a member's address", r.v)
		}
	case <-time.After(50 * time.Second):
		t.Fatal("the call kept waiting on the lost member")
	}
}

// deadAddress is a local address where nothing listens.
func deadAddress(t *testing.T) (string, int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return "127.0.0.1", int32(port)
}

func TestAnOwnerThatDoesNotAnswerIsPassedOver(t *testing.T) {
	ms := startMembers(t, 1, make(chan string, 1))
	a := ms[0]
	host, port := deadAddress(t)
	dead := &cluster.Member{Host: host, Port: port, Id: "dead", Kinds: []string{"Probe"}}
	self := a.c.MemberList.Members().Members()[0]
	// A member the provider still lists although it is gone.
	a.l.onEvent(&cluster.ClusterTopology{Members: []*cluster.Member{self, dead}})
	m := testMember{c: a.c, l: a.l}
	var id string
	for i := 0; i < 1000 && id == ""; i++ {
		if a.l.owner("Probe", fmt.Sprintf("Probe/%d", i)) == dead.Address() {
			id = fmt.Sprint(i)
		}
	}
	if id == "" {
		t.Fatal("the dead member owns no identity")
	}
	pid := m.c.Get(id, "Probe")
	if pid == nil || pid.Address != a.addr() {
		t.Fatalf("Get = %v, want a grain on the live member %s", pid, a.addr())
	}
	if !a.l.Suspect(dead.Address()) {
		t.Error("the member that did not answer is not suspect")
	}
}

func TestGrainsMoveToAMemberThatJoins(t *testing.T) {
	tc := newTestCluster(t, make(chan string, 1))
	a, b := tc.add(t), tc.add(t)
	before := map[string]*actor.PID{}
	for i := 0; i < 40; i++ {
		id := fmt.Sprint(i)
		if before[id] = a.c.Get(id, "Probe"); before[id] == nil {
			t.Fatalf("no member activated probe %s", id)
		}
	}
	c := tc.add(t)
	// Every member sees c; each lookup hears of it in its own time.
	for _, m := range []testMember{a, b} {
		for deadline := time.Now().Add(10 * time.Second); len(m.l.candidates("Probe", "Probe/0")) < 3; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the lookup of %s never heard of the new member", m.addr())
			}
		}
	}
	moved := 0
	for id, old := range before {
		now := b.c.Get(id, "Probe")
		if now == nil {
			t.Fatalf("no member activated probe %s after the join", id)
		}
		if old.Address == now.Address {
			if !old.Equal(now) {
				t.Errorf("probe %s stayed on %s but was activated again (%v, then %v)", id, old.Address, old, now)
			}
			continue
		}
		moved++
		if now.Address != c.addr() {
			t.Errorf("probe %s moved from %s to %s, want the new member %s", id, old.Address, now.Address, c.addr())
		}
		// Its old activation stops.
		for deadline := time.Now().Add(10 * time.Second); len(tc.stopped.get(id)) == 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if got := tc.stopped.get(id); len(got) != 1 || got[0] != old.Address {
			t.Errorf("probe %s stopped on %v, want once on its old member %s", id, got, old.Address)
		}
	}
	if moved == 0 {
		t.Error("no grain of 40 moved to the new member")
	}
	t.Logf("%d of %d grains moved to the new member", moved, len(before))
}
