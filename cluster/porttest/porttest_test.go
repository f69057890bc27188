package porttest

import (
	"net"
	"strconv"
	"testing"
)

// Free's ports are below the ephemeral range, each handed out once, and
// can be listened on.
func TestFreePortsAreBelowTheEphemeralRangeAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		addr := Free(t)
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		if port >= ephemeralLow() || port < 10000 {
			t.Errorf("port %d outside [10000, %d)", port, ephemeralLow())
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen on %s: %v", addr, err)
		}
		ln.Close()
	}
}
