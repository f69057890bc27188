package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"shelflife/config"
)

func TestLoggerFormat(t *testing.T) {
	tests := []struct {
		format   string
		terminal bool
		json     bool
	}{
		{"auto", true, false}, // a person at a terminal reads text
		{"auto", false, true}, // piped or redirected: JSON
		{"json", true, true},
		{"text", false, false},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		cfg := config.Defaults()
		cfg.LogFormat = tt.format
		newLogger(cfg, &buf, tt.terminal).Info("mysql ready", "migrations_applied", 4)
		line := strings.TrimSpace(buf.String())
		isJSON := json.Valid([]byte(line))
		if isJSON != tt.json || !strings.Contains(line, "mysql ready") || !strings.Contains(line, "migrations_applied") {
			t.Errorf("log_format %s, terminal %v: %q (JSON %v, want %v)", tt.format, tt.terminal, line, isJSON, tt.json)
		}
	}
	var buf bytes.Buffer
	NewLogger(config.Defaults(), &buf).Info("into a buffer")
	if !json.Valid(bytes.TrimSpace(buf.Bytes())) {
		t.Errorf("auto into a buffer (not a terminal) is not JSON: %q", buf.String())
	}
	if cfg := config.Defaults(); cfg.LogFormat != "auto" {
		t.Errorf("default log_format %q, want auto", cfg.LogFormat)
	}
	local, err := config.Load("../configs/local.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if local.RequestLog || local.LogFormat != "auto" {
		t.Errorf("configs/local.yaml: request_log %v, log_format %q; want false, auto", local.RequestLog, local.LogFormat)
	}
}

// A port already taken fails the start with the setting that moves it.
func TestBusyPortNamesTheSetting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t)
	cfg.HTTPAddr = ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Start(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "SHELFLIFE_HTTP_ADDR") ||
		!strings.Contains(err.Error(), cfg.HTTPAddr) {
		t.Errorf("start on a busy port: %v; want EADDRINUSE naming %s and SHELFLIFE_HTTP_ADDR", err, cfg.HTTPAddr)
	}
	err = listenError("kakao_fake_addr", "127.0.0.1:8090", syscall.EADDRINUSE)
	if !strings.Contains(err.Error(), "SHELFLIFE_KAKAO_FAKE_ADDR") {
		t.Errorf("busy fake Kakao Pay port: %v", err)
	}
}

// The cluster member's leave takes its fixed 2 s on every stop: that is
// not slow, a step with no expected time taking as long is.
func TestShutdownSlowOnlyBeyondExpected(t *testing.T) {
	if isSlow(2001*time.Millisecond, clusterLeave) {
		t.Error("the cluster member's normal 2.0 s leave counts as slow")
	}
	if !isSlow(3500*time.Millisecond, clusterLeave) {
		t.Error("a 3.5 s cluster leave does not count as slow")
	}
	if !isSlow(2*time.Second, 0) {
		t.Error("a 2 s step expected to be quick does not count as slow")
	}
}
