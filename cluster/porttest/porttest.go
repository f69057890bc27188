// Package porttest finds ports for servers a test starts later, in another
// process or behind a library that picks its own address.
package porttest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
)

// handedOut are the ports Free gave this process.
var handedOut sync.Map

// Free finds a port that a server started later can listen on, on every
// interface (the automanaged cluster provider listens on all), and returns
// it as 127.0.0.1:port. It is picked below the kernel's ephemeral range,
// out of which the machine's outgoing connections take their source ports:
// a port from that range, free when checked, could be any connection's by
// the time the server listens.
func Free(tb testing.TB) string {
	tb.Helper()
	low, high := 20000, min(32000, ephemeralLow())
	if high-low < 1000 {
		low = 10000
	}
	if high-low < 1000 {
		tb.Fatalf("porttest: no room below the ephemeral range (it starts at %d)", high)
	}
	for range 200 {
		port := low + rand.IntN(high-low)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		return fmt.Sprintf("127.0.0.1:%d", port)
	}
	tb.Fatal("porttest: no free port below the ephemeral range")
	return ""
}

// ephemeralLow is the first port of Linux's ephemeral range (32768 where
// it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil || low <= 0 {
		return 32768
	}
	return low
}
