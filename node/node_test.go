package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"shelflife/demo"
	"shelflife/persistence/mysqlstore/mysqltest"
)

func testConfig(t *testing.T) Config {
	t.Helper()
	cfg, err := LoadConfig("../configs/test.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.MySQLDSN = mysqltest.NewDSN(t)
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

func TestConfigEnvironmentOverridesEveryKey(t *testing.T) {
	env := map[string]string{
		"SHELFLIFE_HTTP_ADDR":        "127.0.0.1:9999",
		"SHELFLIFE_MYSQL_DSN":        "u@tcp(db:3306)/x",
		"SHELFLIFE_REDIS_ADDR":       "cache:6379",
		"SHELFLIFE_KAFKA_BROKERS":    "k1:9092, k2:9092",
		"SHELFLIFE_DEMO":             "true",
		"SHELFLIFE_TOKEN_TTL":        "2h",
		"SHELFLIFE_BCRYPT_COST":      "6",
		"SHELFLIFE_CLUSTER_PORT":     "7001",
		"SHELFLIFE_CLUSTER_PROVIDER": "test",
	}
	cfg, err := LoadConfig("../configs/local.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:9999" || cfg.MySQLDSN != "u@tcp(db:3306)/x" || cfg.RedisAddr != "cache:6379" ||
		len(cfg.KafkaBrokers) != 2 || cfg.KafkaBrokers[1] != "k2:9092" || !cfg.Demo ||
		time.Duration(cfg.TokenTTL) != 2*time.Hour || cfg.BcryptCost != 6 || cfg.Cluster.Port != 7001 {
		t.Errorf("overrides not applied: %+v", cfg)
	}
	names := EnvNames()
	for _, want := range []string{"SHELFLIFE_HTTP_ADDR", "SHELFLIFE_MYSQL_DSN", "SHELFLIFE_REDIS_ADDR", "SHELFLIFE_KAFKA_BROKERS", "SHELFLIFE_DEMO", "SHELFLIFE_CLUSTER_HOST"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("EnvNames lacks %s", want)
		}
	}
	bad := []map[string]string{
		{"SHELFLIFE_BCRYPT_COST": "many"},
		{"SHELFLIFE_BCRYPT_COST": "2"},
		{"SHELFLIFE_DEMO": "perhaps"},
		{"SHELFLIFE_TOKEN_TTL": "forever"},
		{"SHELFLIFE_LOG_LEVEL": "loud"},
		{"SHELFLIFE_JWT_SECRET": "short"},
		{"SHELFLIFE_ORDER_ADMISSION": "-1"},
	}
	for _, e := range bad {
		if _, err := LoadConfig("", func(k string) string { return e[k] }); err == nil {
			t.Errorf("LoadConfig accepted %v", e)
		}
	}
	if _, err := LoadConfig("../configs/does-not-exist.yaml", func(string) string { return "" }); err == nil {
		t.Error("a missing config file was accepted")
	}
}

func TestShippedConfigsLoad(t *testing.T) {
	for _, f := range []string{"local.yaml", "test.yaml", "compose.yaml"} {
		cfg, err := LoadConfig("../configs/"+f, func(string) string { return "" })
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if f == "compose.yaml" && (cfg.Cluster.Provider != "etcd" || len(cfg.Cluster.EtcdEndpoints) != 1) {
			t.Errorf("compose.yaml cluster = %+v", cfg.Cluster)
		}
	}
}
