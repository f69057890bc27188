package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestPrintEnv(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-print-env"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SHELFLIFE_HTTP_ADDR", "SHELFLIFE_MYSQL_DSN", "SHELFLIFE_REDIS_ADDR", "SHELFLIFE_KAFKA_BROKERS", "SHELFLIFE_DEMO"} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("-print-env lacks %s", want)
		}
	}
}

func TestBadConfigurationIsReported(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"SHELFLIFE_BCRYPT_COST": "99"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "bcrypt_cost") {
		t.Errorf("run = %v, want a bcrypt_cost error", err)
	}
}

func TestHealthcheckFailsWithoutServer(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-healthcheck", "http://127.0.0.1:1/readyz"}, func(string) string { return "" }, &out, &out); err == nil {
		t.Error("healthcheck of a closed port succeeded")
	}
}
