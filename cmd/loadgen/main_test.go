package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"shelflife/config"
	"shelflife/node"
	"shelflife/persistence/mysqlstore/mysqltest"
)

func startNode(t *testing.T) *node.Node {
	t.Helper()
	cfg, err := config.Load("../../configs/test.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.MySQLDSN = mysqltest.NewDSN(t)
	cfg.AdminPassword = "admin-pass-123"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := node.Start(ctx, cfg, node.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n
}

func runJSON(t *testing.T, n *node.Node, args ...string) (Report, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	base := []string{"-target", n.URL(), "-kakao", n.KakaoURL(), "-admin-password", "admin-pass-123", "-json"}
	err := run(context.Background(), append(base, args...), &out, &errOut, false)
	if err != nil {
		t.Fatalf("loadgen %v: %v\n%s\n%s", args, err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var r Report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out.String())
	}
	return r, out.String()
}

func TestFlashSaleOnADealLot(t *testing.T) {
	n := startNode(t)
	r, text := runJSON(t, n, "-scenario", "flash-sale", "-shoppers", "40", "-stock", "12", "-concurrency", "16", "-cheapest", "500ms")
	if r.OrdersPaid != 12 || r.Oversold != 0 || r.TakenWithoutOrder != 0 || r.Verdict == nil || !r.Verdict.OK() {
		t.Errorf("report = %+v\n%s", r, text)
	}
	if r.LatencyMS["approve"]["p99"] <= 0 || r.Throughput <= 0 {
		t.Errorf("no approve latency or throughput: %+v", r)
	}
	// Every shopper placed an order; the 12 who paid made 3 requests.
	if r.SaleRequests < 40+2*12 || r.SaleSeconds <= 0 || r.CheapestRate <= 0 || r.SaleRatio <= 0 ||
		r.Throughput != float64(r.SaleRequests)/r.SaleSeconds {
		t.Errorf("sale figures: %+v", r)
	}
	if !strings.Contains(text, "the sale: ") {
		t.Errorf("summary lacks the sale's rate:\n%s", text)
	}
	if !strings.Contains(text, "all invariants hold") {
		t.Errorf("summary lacks the verdict:\n%s", text)
	}
}

func TestFlashSaleWithDeclines(t *testing.T) {
	n := startNode(t)
	r, text := runJSON(t, n, "-scenario", "flash-sale", "-shoppers", "30", "-stock", "100", "-deal=false", "-decline-rate", "0.4", "-concurrency", "16")
	if r.OrdersPaid == 0 || r.OrdersPaid == 30 || r.Oversold != 0 || r.TakenWithoutOrder != 0 || !r.Verdict.OK() {
		t.Errorf("with 40 %% declines: %+v\n%s", r, text)
	}
}

func TestBrowseAndDashboard(t *testing.T) {
	n := startNode(t)
	r, text := runJSON(t, n, "-scenario", "browse", "-duration", "2s", "-concurrency", "8")
	if r.BrowseRate <= 0 || r.CheapestRate <= 0 || r.BrowseRatio <= 0 {
		t.Errorf("browse report = %+v\n%s", r, text)
	}
	r, text = runJSON(t, n, "-scenario", "dashboard", "-duration", "2s", "-subscribers", "20")
	if r.LatencyMS["ws_delivery"]["p50"] <= 0 {
		t.Errorf("no socket deliveries measured: %+v\n%s", r, text)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"-scenario", "stampede"}, {"-shoppers", "0"}, {"-decline-rate", "1.5"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard, false); err == nil {
			t.Errorf("loadgen %v succeeded", args)
		}
	}
}
