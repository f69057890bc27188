package api

import (
	"context"
	"errors"
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
