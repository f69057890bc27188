package config

import (
	"testing"
	"time"

	"shelflife/domain"
)

func TestConfigEnvironmentOverridesEveryKey(t *testing.T) {
	env := map[string]string{
		"SHELFLIFE_HTTP_ADDR":          "127.0.0.1:9999",
		"SHELFLIFE_MYSQL_DSN":          "u@tcp(db:3306)/x",
		"SHELFLIFE_REDIS_ADDR":         "cache:6379",
		"SHELFLIFE_KAFKA_BROKERS":      "k1:9092, k2:9092",
		"SHELFLIFE_DEMO":               "true",
		"SHELFLIFE_TOKEN_TTL":          "2h",
		"SHELFLIFE_BCRYPT_COST":        "6",
		"SHELFLIFE_CLUSTER_PORT":       "7001",
		"SHELFLIFE_CLUSTER_PROVIDER":   "test",
		"SHELFLIFE_MARKDOWN_LADDER":    "24h:40",
		"SHELFLIFE_DEAL_LIMIT":         "2",
		"SHELFLIFE_MARKDOWN":           "adaptive",
		"SHELFLIFE_MARKDOWN_STEPS":     "35,55,75",
		"SHELFLIFE_LOT_SWEEP_WORKERS":  "1",
		"SHELFLIFE_READ_MODEL_REFRESH": "90s",
	}
	cfg, err := Load("../configs/local.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:9999" || cfg.MySQLDSN != "u@tcp(db:3306)/x" || cfg.RedisAddr != "cache:6379" ||
		len(cfg.KafkaBrokers) != 2 || cfg.KafkaBrokers[1] != "k2:9092" || !cfg.Demo ||
		time.Duration(cfg.TokenTTL) != 2*time.Hour || cfg.BcryptCost != 6 || cfg.Cluster.Port != 7001 ||
		cfg.MarkdownLadder.DiscountPercent(time.Hour) != 40 || cfg.DealLimit != 2 ||
		cfg.Markdown != domain.AdaptiveMarkdown || cfg.MarkdownSteps.String() != "35,55,75" || cfg.LotSweepWorkers != 1 ||
		cfg.ReadModelRefresh.D() != 90*time.Second {
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
		{"SHELFLIFE_MARKDOWN_LADDER": "48h"},
		{"SHELFLIFE_MARKDOWN_LADDER": "48h:130"},
		{"SHELFLIFE_DEAL_LIMIT": "0"},
		{"SHELFLIFE_MARKDOWN": "smart"},
		{"SHELFLIFE_MARKDOWN_STEPS": "30,130"},
		{"SHELFLIFE_DEAL_LIMIT": "five"},
		{"SHELFLIFE_LOT_SWEEP_WORKERS": "0"},
		{"SHELFLIFE_READ_MODEL_REFRESH": "-1m"},
	}
	for _, e := range bad {
		if _, err := Load("", func(k string) string { return e[k] }); err == nil {
			t.Errorf("Load accepted %v", e)
		}
	}
	if _, err := Load("../configs/does-not-exist.yaml", func(string) string { return "" }); err == nil {
		t.Error("a missing config file was accepted")
	}
}

func TestShippedConfigsLoad(t *testing.T) {
	for _, f := range []string{"local.yaml", "test.yaml", "compose.yaml"} {
		cfg, err := Load("../configs/"+f, func(string) string { return "" })
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if f == "compose.yaml" && (cfg.Cluster.Provider != "etcd" || len(cfg.Cluster.EtcdEndpoints) != 1) {
			t.Errorf("compose.yaml cluster = %+v", cfg.Cluster)
		}
	}
}
