package main

import (
	"bytes"
	"context"
	"errors"
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

// The check's own path on one node named twice: every order is placed,
// watched and approved, and its socket reports PAID with a delay.
func TestEveryOrderSocketReceivesPaid(t *testing.T) {
	n := startNode(t)
	var out, errOut bytes.Buffer
	args := []string{"-node", n.URL(), "-node", n.URL(), "-orders", "4", "-concurrency", "2", "-admin-password", "admin-pass-123"}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("clustercheck: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"PAID reached the socket on another node for 4", "order_ws_other_node", "every order socket received PAID"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestOneNodeIsAUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-node", "http://127.0.0.1:1"}, &out, &errOut)
	if err == nil || errors.Is(err, errMissed) {
		t.Errorf("one -node: err = %v, want a usage error", err)
	}
}
