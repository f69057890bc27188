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
// and tells held when it does.
type probe struct {
	held chan<- string
	once *sync.Once
}

func (p *probe) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
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

type testMember struct {
	c *cluster.Cluster
	l *Lookup
}

func (m testMember) addr() string { return m.c.ActorSystem.Address() }

// startMembers starts n members of one in-process cluster hosting the
// probe kind, each with its own lookup, and waits until each sees all.
func startMembers(t *testing.T, n int, held chan<- string) []testMember {
	t.Helper()
	agent := test.NewInMemAgent()
	name := fmt.Sprintf("lookup-test-%d", time.Now().UnixNano())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	once := &sync.Once{}
	var ms []testMember
	for i := 0; i < n; i++ {
		system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
		l := New(Config{Logger: quiet})
		kind := cluster.NewKind("Probe", actor.PropsFromProducer(func() actor.Actor { return &probe{held: held, once: once} }))
		cfg := cluster.Configure(name, test.NewTestProvider(agent), l, remote.Configure("127.0.0.1", 0),
			cluster.WithKinds(kind), cluster.WithClusterContextProducer(l.ContextProducer()))
		c := cluster.New(system, cfg)
		c.StartMember()
		ms = append(ms, testMember{c: c, l: l})
	}
	t.Cleanup(func() {
		for _, m := range ms {
			m.c.Shutdown(true)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for _, m := range ms {
		for m.c.MemberList.Members().Len() < n {
			if time.Now().After(deadline) {
				t.Fatalf("cluster did not reach %d members", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return ms
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
