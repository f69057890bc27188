package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
)

// serve runs the test server on a real listener and returns its base URL.
func (ts *testServer) serve() string {
	ts.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.t.Fatal(err)
	}
	go ts.srv.Serve(ln)
	ts.t.Cleanup(func() { ts.srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

func TestBodyOverTheLimit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	base := ts.serve()
	huge := `{"email":"a@b.test","password":"` + strings.Repeat("x", 8<<10) + `","name":"n"}`
	resp, err := http.Post(base+"/api/v1/auth/signup", "application/json", strings.NewReader(huge))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || errorCode(t, body) != "body_too_large" {
		t.Errorf("oversized body: %d %s", resp.StatusCode, body)
	}
}

func TestReadyzReportsAnUnreachableDependency(t *testing.T) {
	t.Parallel()
	// A real MySQL client aimed at a port where nothing listens.
	dead, err := sql.Open("mysql", "root@tcp(127.0.0.1:1)/shelflife?timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	srv, err := New(Config{JWTSecret: testSecret, BcryptCost: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Deps{Checks: map[string]Check{
			"mysql": dead.PingContext,
			"redis": func(context.Context) error { return nil },
		}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "/readyz", nil)
	resp, err := srv.App().Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var got readiness
	json.NewDecoder(resp.Body).Decode(&got)
	if resp.StatusCode != 503 || got.Status != "unavailable" || got.Checks["mysql"] != "unavailable" || got.Checks["redis"] != "ok" {
		t.Errorf("readyz = %d %+v", resp.StatusCode, got)
	}
}

func TestGracefulShutdownFinishesRequestsInFlight(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	started := make(chan struct{})
	ts.srv.App().Get("/test/slow", func(c *fiber.Ctx) error {
		close(started)
		time.Sleep(700 * time.Millisecond)
		return c.SendString("finished")
	})
	base := ts.serve()
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/test/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	r := <-done
	if r.err != nil || r.status != 200 || r.body != "finished" {
		t.Errorf("request in flight during shutdown: %+v", r)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still accepts requests after Shutdown")
	}
}

type failingUsers struct{ Users }

func (failingUsers) UserByEmail(context.Context, string) (domain.User, error) {
	return domain.User{}, errors.New("Error 1064: You have an error in your SQL syntax near 'password_hash'")
}

func TestInternalErrorsAreNotSent(t *testing.T) {
	t.Parallel()
	var logged strings.Builder
	srv, err := New(Config{JWTSecret: testSecret, BcryptCost: 4, Logger: slog.New(slog.NewTextHandler(&logged, nil))},
		Deps{Users: failingUsers{}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"a@b.test","password":"password1"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.App().Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || errorCode(t, body) != "internal" {
		t.Errorf("status %d body %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "SQL") || strings.Contains(string(body), "1064") {
		t.Errorf("the response leaks the internal error: %s", body)
	}
	if !strings.Contains(logged.String(), "SQL syntax") {
		t.Error("the internal error was not logged")
	}
	if id := resp.Header.Get("X-Request-Id"); id == "" || !strings.Contains(logged.String(), id) {
		t.Errorf("request id %q missing from the response or the log", id)
	}
}

func TestMetricsCountRequests(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustDo("GET", "/healthz", "", "", 200)
	ts.do("GET", "/api/v1/me", "", "")
	body := string(ts.mustDo("GET", "/metrics", "", "", 200))
	for _, want := range []string{
		`shelflife_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`shelflife_http_requests_total{method="GET",route="/api/v1/me",status="401"} 1`,
		`shelflife_http_request_duration_seconds_bucket`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
