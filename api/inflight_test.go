package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// A drain that is slow, and again one that runs out of time, names the
// requests it waits on, so that a slow stop says what it waited on; a
// request that finished before is not named.
func TestShutdownNamesTheRequestsStillRunning(t *testing.T) {
	var logs syncBuffer
	srv, err := New(Config{JWTSecret: testSecret, BcryptCost: 4, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	srv.App().Get("/stuck", func(c *fiber.Ctx) error {
		close(entered)
		<-release
		return c.SendStatus(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	go func() {
		if resp, err := http.Get(base + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	defer close(release)

	srv.drainReport = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the deadline with a request still running", err)
	}
	out := logs.String()
	for _, msg := range []string{"HTTP drain is slow", "HTTP drain ended"} {
		if !strings.Contains(out, msg+": request still running") || !strings.Contains(out, `msg="`+msg+`" requests_running=1`) {
			t.Errorf("%q does not name the request left running:\n%s", msg, out)
		}
	}
	if !strings.Contains(out, "path=/stuck") {
		t.Errorf("the request's path is not logged:\n%s", out)
	}
	if strings.Contains(out, "path=/healthz") {
		t.Errorf("a finished request is named as running:\n%s", out)
	}
}

// A connection that a client opened and never sent a request on does not
// hold the drain until its read timeout (30 s, past the node's whole
// shutdown): it is closed once silent for silentGrace. Before, the drain
// ran out its time with no request running and one connection open.
func TestShutdownClosesAConnectionThatNeverSentARequest(t *testing.T) {
	srv, err := New(Config{JWTSecret: testSecret, BcryptCost: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	// A used keep-alive connection, and one left silent.
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	deadline := time.Now().Add(5 * time.Second)
	for srv.silentCount() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the server never counted the silent connection")
		}
		time.Sleep(10 * time.Millisecond)
	}

	srv.silentGrace = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v, want the drain to end with no request running", err)
	}
	silent.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("the silent connection after the drain: %v, want it closed by the server", err)
	}
}

func (s *Server) silentCount() int {
	s.silent.mu.Lock()
	defer s.silent.mu.Unlock()
	return len(s.silent.m)
}
