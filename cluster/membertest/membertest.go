// Package membertest starts in-process clusters of several members for
// tests of grains.
package membertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"shelflife/cluster/member"
)

// Start starts n members of a fresh cluster hosting kinds, waits until each
// sees all of them, and shuts them down when tb ends.
func Start(tb testing.TB, n int, kinds ...*cluster.Kind) []*member.Member {
	tb.Helper()
	agent := member.NewAgent()
	name := fmt.Sprintf("test-%d", time.Now().UnixNano())
	var ms []*member.Member
	for i := 0; i < n; i++ {
		m, err := member.Start(member.Config{Name: name, Agent: agent}, kinds...)
		if err != nil {
			member.ShutdownAll(ms...)
			tb.Fatal(err)
		}
		ms = append(ms, m)
	}
	tb.Cleanup(func() { member.ShutdownAll(ms...) })
	deadline := time.Now().Add(15 * time.Second)
	for _, m := range ms {
		for m.Cluster.MemberList.Members().Len() < n {
			if time.Now().After(deadline) {
				tb.Fatalf("cluster did not reach %d members", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return ms
}
