package api

import (
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// silentConns are the connections accepted that have not sent a request
// yet. A client may open one and leave it unused (Go's HTTP client keeps a
// connection it dialled for a request another connection answered first):
// fasthttp's graceful stop waits for it until its read timeout (30 s),
// past the node's whole shutdown. The stop closes those silent for
// silentGrace, as net/http's does.
type silentConns struct {
	mu sync.Mutex
	m  map[net.Conn]time.Time
}

// silentGrace is how long a connection may stay silent during a drain.
const silentGrace = 5 * time.Second

// track follows one connection's state (fasthttp's ConnState hook).
func (s *silentConns) track(c net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		s.mu.Lock()
		if s.m == nil {
			s.m = map[net.Conn]time.Time{}
		}
		s.m[c] = time.Now()
		s.mu.Unlock()
	case fasthttp.StateHijacked, fasthttp.StateClosed:
		s.heard(c)
	}
}

// heard marks c as having sent a request (fasthttp reports a new
// connection active before it has read anything, so the first request's
// handler says so).
func (s *silentConns) heard(c net.Conn) {
	s.mu.Lock()
	delete(s.m, c)
	s.mu.Unlock()
}

// closeOlder closes the connections silent for at least grace.
func (s *silentConns) closeOlder(grace time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, since := range s.m {
		if time.Since(since) >= grace {
			c.Close()
			delete(s.m, c)
		}
	}
}

// closeWhileDraining closes silent connections every 100 ms until done is
// closed.
func (s *silentConns) closeWhileDraining(grace time.Duration, done <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			s.closeOlder(grace)
		}
	}
}
