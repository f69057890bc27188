package api

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"shelflife/persistence/mysqlstore/mysqltest"
)

func TestRequestLogIsOptional(t *testing.T) {
	store := mysqltest.New(t)
	for _, on := range []bool{false, true} {
		var buf bytes.Buffer
		srv, err := New(Config{JWTSecret: testSecret, BcryptCost: 4, RequestLog: on, Logger: slog.New(slog.NewTextHandler(&buf, nil))},
			Deps{Users: store, Catalog: store})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header.Set("X-Request-Id", "req-log-test-1")
		resp, err := srv.App().Test(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if logged := strings.Contains(buf.String(), "msg=request"); logged != on {
			t.Errorf("request_log %v: request line logged %v:\n%s", on, logged, buf.String())
		}
		// The line names the request by its id.
		if on && !strings.Contains(buf.String(), "request_id=req-log-test-1") {
			t.Errorf("the request line lacks the request's id:\n%s", buf.String())
		}
	}
}
