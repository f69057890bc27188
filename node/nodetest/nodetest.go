// Package nodetest starts a whole node inside a test process, configured
// from configs/test.yaml with a database of the test's own, for the tests
// of the commands that drive a node over HTTP.
package nodetest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"shelflife/config"
	"shelflife/node"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// AdminPassword is the password of the started node's admin account.
const AdminPassword = "admin-pass-123"

// testConfig is configs/test.yaml, found from this file's place in the
// repository so that any package's test can use it.
func testConfig() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "configs", "test.yaml")
}

// Start starts a node for tb, stopped when tb ends; configure may change
// the configuration first.
func Start(tb testing.TB, configure ...func(*config.Node)) *node.Node {
	tb.Helper()
	cfg, err := config.Load(testConfig(), func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MySQLDSN = mysqltest.NewDSN(tb)
	cfg.AdminPassword = AdminPassword
	for _, f := range configure {
		f(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := node.Start(ctx, cfg, node.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Shutdown(context.Background()) })
	return n
}
