package node

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With metrics_addr set, metrics and the profiler are served to operators
// there, and no longer to anyone on the public address.
func TestMetricsOnOperatorAddress(t *testing.T) {
	addr := freeAddr(t)
	s := newShop(t, func(c *Config) { c.MetricsAddr = addr })
	get(t, s.n.URL()+"/healthz")
	if status, _ := get(t, s.n.URL()+"/metrics"); status != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404", status)
	}
	status, body := get(t, "http://"+addr+"/metrics")
	if status != 200 || !strings.Contains(body, "shelflife_http_requests_total") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("operator /metrics = %d: %.200s", status, body)
	}
	if status, _ := get(t, "http://"+addr+"/debug/pprof/"); status != 200 {
		t.Errorf("operator /debug/pprof/ = %d", status)
	}
}
