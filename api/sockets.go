package api

import (
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// wsReadLimit is the largest message a client may send on any socket. The
// server only pushes; clients send nothing but control frames, so anything
// larger is an attack on memory and is closed with 1009 (message too big).
const wsReadLimit = 1024

const localClientIP = "client_ip"

var errTooManySockets = &Error{http.StatusTooManyRequests, "too_many_sockets", "too many open sockets from your address; close some first"}

// socketLimit bounds the sockets open at once from one client address, so
// one host cannot hold the node's memory with idle sockets. 0 is no bound.
type socketLimit struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newSocketLimit(max int) *socketLimit {
	return &socketLimit{max: max, open: map[string]int{}}
}

// hold counts a socket from ip; false when ip already has max open.
func (l *socketLimit) hold(ip string) bool {
	if l.max <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip] >= l.max {
		return false
	}
	l.open[ip]++
	return true
}

func (l *socketLimit) release(ip string) {
	if l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

// full reports whether ip has no socket left, for a 429 before the upgrade.
func (l *socketLimit) full(ip string) bool {
	if l.max <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[ip] >= l.max
}

// socket wraps a WebSocket handler with the per-address bound and the read
// limit. The address is checked before the upgrade (a plain 429) and
// counted after it, so a burst that passed the check together is still
// held to the bound (closed with 1008).
func (s *Server) socket(handler func(*websocket.Conn)) []fiber.Handler {
	check := func(c *fiber.Ctx) error {
		ip := s.clientAddress(c)
		if s.sockets.full(ip) {
			return errTooManySockets
		}
		c.Locals(localClientIP, ip)
		return c.Next()
	}
	serve := websocket.New(func(conn *websocket.Conn) {
		ip, _ := conn.Locals(localClientIP).(string)
		if !s.sockets.hold(ip) {
			conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.ClosePolicyViolation, errTooManySockets.Message), time.Now().Add(time.Second))
			return
		}
		defer s.sockets.release(ip)
		conn.SetReadLimit(wsReadLimit)
		handler(conn)
	})
	return []fiber.Handler{check, serve}
}
