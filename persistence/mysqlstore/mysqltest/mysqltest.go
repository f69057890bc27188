// Package mysqltest gives each test its own freshly migrated database on the
// MariaDB/MySQL server named by SHELFLIFE_TEST_MYSQL (default root on
// 127.0.0.1:3306), so that test packages can run in parallel.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"shelflife/persistence/mysqlstore"
)

// ServerDSN is the server the tests use, without a database name.
func ServerDSN() string {
	if dsn := os.Getenv("SHELFLIFE_TEST_MYSQL"); dsn != "" {
		return dsn
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// NewDSN names a fresh database on the test server and drops it when tb
// ends. The database itself is created by whoever opens the DSN first.
func NewDSN(tb testing.TB) string {
	tb.Helper()
	cfg, err := mysql.ParseDSN(ServerDSN())
	if err != nil {
		tb.Fatalf("SHELFLIFE_TEST_MYSQL: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := strings.ToLower("slt_" + sanitize(tb.Name()) + "_" + hex.EncodeToString(b[:]))
	if len(name) > 60 {
		name = "slt_" + hex.EncodeToString(b[:])
	}
	cfg.DBName = name
	cfg.ParseTime = true
	tb.Cleanup(func() { drop(tb, name) })
	return cfg.FormatDSN()
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
		if b.Len() >= 24 {
			break
		}
	}
	return b.String()
}

func drop(tb testing.TB, name string) {
	db, err := sql.Open("mysql", ServerDSN())
	if err != nil {
		tb.Logf("drop %s: %v", name, err)
		return
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
		tb.Logf("drop %s: %v", name, err)
	}
}

// New opens a migrated store on a fresh database.
func New(tb testing.TB) *mysqlstore.Store {
	tb.Helper()
	return Open(tb, NewDSN(tb))
}

// Open opens and migrates the store at dsn, closing it when tb ends.
func Open(tb testing.TB, dsn string) *mysqlstore.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := mysqlstore.Open(ctx, mysqlstore.Config{DSN: dsn})
	if err != nil {
		tb.Fatalf("open mysql: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return s
}
