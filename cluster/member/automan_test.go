package member

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"shelflife/cluster/porttest"
)

// A member whose automanaged port another process holds would run on
// unseen by its peers (the library only logs that it could not listen):
// it refuses to start instead.
func TestAutomanagedMemberRefusesAPortInUse(t *testing.T) {
	automanStartWithin = 2 * time.Second
	t.Cleanup(func() { automanStartWithin = 10 * time.Second })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		asked.Add(1)
		fmt.Fprint(w, `{"id":"another-member","cluster_name":"automan-test"}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	start := time.Now()
	m, err := Start(Config{Name: "automan-test", Provider: "automanaged", AutoManPort: port,
		Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}})
	if err == nil {
		m.Shutdown()
		t.Fatal("Start succeeded with its automanaged port held by another process")
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("automan_port %d", port)) || !strings.Contains(err.Error(), "another member") {
		t.Errorf("error %q does not name the port and what answers on it", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("refused after %s", took)
	}
	// The refused member's provider stopped: it no longer checks its
	// peers (one check may have been under way).
	before := asked.Load()
	time.Sleep(2 * time.Second) // four check intervals
	if n := asked.Load() - before; n > 2 {
		t.Errorf("the refused member asked its peers' health %d more times after Start returned", n)
	}
}

// A member whose automanaged port is free starts and sees itself.
func TestAutomanagedMemberStartsOnAFreePort(t *testing.T) {
	addr := porttest.Free(t)
	port, _ := strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	m, err := Start(Config{Name: "automan-test-free", Provider: "automanaged", AutoManPort: port,
		Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for m.Ping(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the member never saw itself: %v", m.Ping(context.Background()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
