package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"shelflife/node"
	"shelflife/node/nodetest"
)

func startNode(t *testing.T) *node.Node { return nodetest.Start(t) }

// The check's own path on one node named twice: every order is placed,
// watched and approved, and its socket reports PAID with a delay.
func TestEveryOrderSocketReceivesPaid(t *testing.T) {
	n := startNode(t)
	var out, errOut bytes.Buffer
	args := []string{"-node", n.URL(), "-node", n.URL(), "-orders", "4", "-concurrency", "2", "-admin-password", nodetest.AdminPassword}
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
