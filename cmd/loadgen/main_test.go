package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"shelflife/loadtest"
	"shelflife/node"
	"shelflife/node/nodetest"
)

func startNode(t *testing.T) *node.Node { return nodetest.Start(t) }

// runJSON runs loadgen SCENARIO against n, naming the fake Kakao Pay
// unless findKakao (then loadgen must find it itself).
func runJSON(t *testing.T, n *node.Node, scenario string, findKakao bool, args ...string) (Report, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	base := []string{scenario, "-target", n.URL(), "-admin-password", nodetest.AdminPassword, "-json"}
	if !findKakao {
		base = append(base, "-kakao", n.KakaoURL())
	}
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
	r, text := runJSON(t, n, "flash-sale", false, "-shoppers", "40", "-stock", "12", "-concurrency", "16", "-cheapest", "500ms")
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
	// 28 shoppers go without: refused at the order (timed as sold_out) or,
	// worse, after paying on the Kakao Pay page.
	if r.PaidPageThenSoldOut < 0 || r.PaidPageThenSoldOut > 28 || (r.PaidPageThenSoldOut < 28 && r.SoldOutMS["p99"] <= 0) {
		t.Errorf("paid_page_then_sold_out %d, sold_out_ms %v", r.PaidPageThenSoldOut, r.SoldOutMS)
	}
	// The crowd's floor: one /healthz each, all 40 at once.
	if f := r.CrowdFloorMS; f == nil || f["p99"] <= 0 || f["p50"] > f["p99"] || !strings.Contains(text, "asking /healthz at once just before") {
		t.Errorf("crowd_floor_ms = %v\n%s", f, text)
	}
	if c := r.CPUPerPaidCheckout; c == nil || c.Node <= 0 || c.MySQL < 0 || c.Total != c.Node+c.MySQL || c.LoadGenerator <= 0 {
		t.Errorf("cpu_ms_per_paid_checkout = %+v", c)
	}
	// What the cheapest answer cost while its rate was measured: the unit
	// the checkout's CPU is read in.
	if r.CheapestCPUMS <= 0 || r.CheapestCallerCPUMS <= 0 || !strings.Contains(text, "the node's CPU per /healthz request just before: ") {
		t.Errorf("cpu_ms_per_cheapest_request %v, caller's %v\n%s", r.CheapestCPUMS, r.CheapestCallerCPUMS, text)
	}
	if !strings.Contains(text, "shoppers sent to pay for stock that was gone: ") || !strings.Contains(text, "CPU per paid checkout: ") {
		t.Errorf("summary lacks the sold-out and CPU lines:\n%s", text)
	}
}

// TestFlashSaleWithDeclines also runs without -kakao: loadgen finds the
// fake Kakao Pay from a payment's redirect URL (declines are injected there
// and its ledger is checked, so a wrong guess fails the run).
func TestFlashSaleWithDeclines(t *testing.T) {
	n := startNode(t)
	r, text := runJSON(t, n, "flash-sale", true, "-shoppers", "30", "-stock", "100", "-deal=false", "-decline-rate", "0.4", "-concurrency", "16")
	if r.OrdersPaid == 0 || r.OrdersPaid == 30 || r.Oversold != 0 || r.TakenWithoutOrder != 0 || !r.Verdict.OK() {
		t.Errorf("with 40 %% declines: %+v\n%s", r, text)
	}
}

func TestBrowseAndDashboard(t *testing.T) {
	n := startNode(t)
	r, text := runJSON(t, n, "browse", false, "-duration", "2s", "-concurrency", "8")
	if r.BrowseRate <= 0 || r.CheapestRate <= 0 || r.BrowseRatio <= 0 {
		t.Errorf("browse report = %+v\n%s", r, text)
	}
	r, text = runJSON(t, n, "dashboard", false, "-duration", "2s", "-subscribers", "20")
	if r.LatencyMS["ws_delivery"]["p50"] <= 0 {
		t.Errorf("no socket deliveries measured: %+v\n%s", r, text)
	}
	if d := r.Dashboard; d == nil || d.Sockets != 20 || d.Deliveries < 20 || d.RSSOpenMB <= 0 || !strings.Contains(text, "KB per socket") {
		t.Errorf("dashboard report = %+v\n%s", d, text)
	}
}

// TestCitySockets: shoppers' stock sockets over a few warehouses each hear
// exactly the changes of the warehouses serving them.
func TestCitySockets(t *testing.T) {
	n := startNode(t)
	r, text := runJSON(t, n, "city-sockets", false, "-duration", "2s", "-subscribers", "40", "-warehouses", "6")
	d := r.Dashboard
	if d == nil || d.Sockets != 40 || d.Warehouses != 6 || d.ServedBy < 1 || d.Expected <= 0 || d.Deliveries != d.Expected {
		t.Fatalf("city-sockets report = %+v\n%s", d, text)
	}
	if r.LatencyMS["ws_delivery"]["p50"] <= 0 || len(r.Errors) != 0 || !strings.Contains(text, "expected (6 warehouses") {
		t.Errorf("city-sockets: %+v\n%s", r, text)
	}
}

// TestUsageErrors: a command line loadgen does not fully understand is
// refused before any request reaches any server.
func TestUsageErrors(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	for _, args := range [][]string{
		{},
		{"-target", srv.URL},
		{"-target", srv.URL, "flash-sale"},
		{"stampede", "-target", srv.URL},
		{"flash-sale"},
		{"flash-sale", "-json"},
		{"flash-sale", "-target", srv.URL, "extra"},
		{"flash-sale", "-target", srv.URL, "--json", "browse", "-shoppers", "5"},
		{"flash-sale", "-target", srv.URL, "-shoppers", "0"},
		{"flash-sale", "-target", srv.URL, "-decline-rate", "1.5"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard, false)
		if err == nil {
			t.Errorf("loadgen %q succeeded", args)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("refused command lines sent %d requests", n)
	}
	// The case: the scenario first, then double-dash flags, all taken.
	err := run(context.Background(), []string{"flash-sale", "--target", srv.URL, "--json", "--shoppers", "3"}, io.Discard, io.Discard, false)
	if err == nil || errors.Is(err, errUsage) {
		t.Errorf("flash-sale --target %s: err = %v, want a setup error from that server", srv.URL, err)
	}
	if hits.Load() == 0 {
		t.Error("flash-sale --target did not go to the named target")
	}
}

func TestKakaoBase(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:18090/online/v1/payment/qr/T123": "http://127.0.0.1:18090",
		"https://online-pay.kakao.com/mockup/v1/abc/info":  "https://online-pay.kakao.com",
	} {
		if got, err := loadtest.KakaoBase(in); err != nil || got != want {
			t.Errorf("KakaoBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/online/v1/payment/qr/T1", "ftp://x/y"} {
		if got, err := loadtest.KakaoBase(bad); err == nil {
			t.Errorf("KakaoBase(%q) = %q, want an error", bad, got)
		}
	}
}

// The callback flood sends every forged callback, the node refuses each
// one, and checkouts are paid in both sales.
func TestCallbackFlood(t *testing.T) {
	n := startNode(t)
	r, out := runJSON(t, n, "callback-flood", false, "-shoppers", "6", "-callbacks", "600", "-flood-workers", "8", "-concurrency", "6")
	f := r.CallbackFlood
	if f == nil || f.Flood == nil {
		t.Fatalf("no callback_flood in the report:\n%s", out)
	}
	if f.Flood.Sent != 600 || f.Flood.ByStatus[403] != 600 {
		t.Errorf("flood = sent %d, answers %v; want 600 refused with 403", f.Flood.Sent, f.Flood.ByStatus)
	}
	if f.PaidAlone != 6 || f.PaidFlood != 6 || f.RSSBeforeMB <= 0 || f.RSSPeakMB < f.RSSBeforeMB || f.CheckoutP99Ratio <= 0 {
		t.Errorf("report = %+v", f)
	}
	if !strings.Contains(out, "callback flood: 600 forged callbacks") {
		t.Errorf("the printed report lacks the flood line:\n%s", out)
	}
}
