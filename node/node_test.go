package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"shelflife/config"
	"shelflife/demo"
	"shelflife/persistence/mysqlstore/mysqltest"
)

func testConfig(t *testing.T) config.Node {
	t.Helper()
	cfg, err := config.Load("../configs/test.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.MySQLDSN = mysqltest.NewDSN(t)
	// Its own Redis keys too: carts and the sign-in counters of one test
	// must not meet another's (or an earlier run's).
	cfg.RedisPrefix = fmt.Sprintf("slt-test-%d:", time.Now().UnixNano())
	return cfg
}

func TestNodeServesDemoAndShutsDown(t *testing.T) {
	cfg := testConfig(t)
	cfg.Demo = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(n.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != 200 || ready.Status != "ok" || len(ready.Checks) != 4 {
		t.Errorf("readyz = %d %+v, want 200 with mysql, redis, kafka and cluster ok", resp.StatusCode, ready)
	}
	resp, err = http.Post(n.URL()+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"`+demo.Shopper1Email+`","password":"`+demo.Password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("demo shopper login: %d", resp.StatusCode)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := http.Get(n.URL() + "/healthz"); err == nil {
		t.Error("the node still answers after Shutdown")
	}
}

func TestStartFailsCleanlyWhenMySQLIsUnreachable(t *testing.T) {
	cfg := testConfig(t)
	cfg.MySQLDSN = "root@tcp(127.0.0.1:1)/shelflife?timeout=1s"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := Start(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err == nil {
		n.Shutdown(ctx)
		t.Fatal("Start succeeded without MySQL")
	}
}
