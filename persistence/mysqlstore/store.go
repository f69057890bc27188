package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Store is the MySQL system of record.
type Store struct {
	db *sql.DB
	// batch is a small pool whose connections accept several statements in
	// one round trip, with arguments that the driver escapes: the lot
	// grains' group commits, new orders and shared saga-step commits.
	batch *sql.DB
	// probe is Ping's pool of one connection.
	probe *sql.DB
	// steps commits the saga steps of concurrent orders together.
	steps *steps
	// retries counts deadlocks and lock wait timeouts met (the statement
	// is run again, up to five times in all);
	// fastFailures, errors answered as unavailable because MySQL is down,
	// cut off or read-only.
	retries, fastFailures atomic.Int64
	// claims are the lot claims still committing after ClaimLot returned;
	// claimFailures counts those whose COMMIT failed.
	claims        sync.WaitGroup
	claimReg      claimRegistry
	claimFailures atomic.Int64
	// failClaimCommits makes every claim's COMMIT fail (tests).
	failClaimCommits atomic.Bool
}

// Retries is how many deadlocks and lock wait timeouts the store met; each
// makes it run the statement again, up to five times in all.
func (s *Store) Retries() int64 { return s.retries.Load() }

// FastFailures is how many store calls failed at once, as unavailable,
// because MySQL was down, cut off or read-only.
func (s *Store) FastFailures() int64 { return s.fastFailures.Load() }

// Config tunes the connection pool.
type Config struct {
	DSN          string
	MaxOpenConns int
	MaxIdleConns int
	// StepPerOrder writes every saga step as its own statement, as before
	// set-based steps; for measurements (make bench) only.
	StepPerOrder bool
}

var dbNamePattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// Open connects to the database named in cfg.DSN, creating it when missing.
// Times are always read and written in UTC.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	mc, err := mysql.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("mysql dsn: %w", err)
	}
	mc.ParseTime = true
	mc.Loc = time.UTC
	// Conditional UPDATEs (fencing) must see "matched", not "changed".
	mc.ClientFoundRows = true
	// One round trip per statement instead of prepare, execute and close:
	// the lot grains' group commits carry thousands of arguments.
	mc.InterpolateParams = true
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	mc.Params["time_zone"] = "'+00:00'"
	if mc.DBName == "" {
		return nil, errors.New("mysql dsn: no database name")
	}
	if !dbNamePattern.MatchString(mc.DBName) {
		return nil, fmt.Errorf("mysql dsn: database name %q: use letters, digits and _", mc.DBName)
	}
	if err := createDatabase(ctx, mc); err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(boundedConnector{conn, connectTimeout(mc)})
	maxOpen := cfg.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = 32
	}
	maxIdle := cfg.MaxIdleConns
	if maxIdle <= 0 {
		maxIdle = maxOpen
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxIdle)
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql ping: %w", err)
	}
	bc := mc.Clone()
	bc.MultiStatements = true
	// Strict: a commit's fence makes a stale write fail by setting a NOT
	// NULL column to NULL, which only strict mode turns into an error.
	bc.Params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
	bconn, err := mysql.NewConnector(bc)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	batch := sql.OpenDB(boundedConnector{bconn, connectTimeout(mc)})
	batchConns := max(4, maxOpen/2)
	batch.SetMaxOpenConns(batchConns)
	batch.SetMaxIdleConns(batchConns)
	batch.SetConnMaxLifetime(30 * time.Minute)
	// The readiness probe's pool of one: a pool busy with a sale (or
	// stuck on a server that stopped answering) does not hold the probe.
	probe := sql.OpenDB(boundedConnector{conn, connectTimeout(mc)})
	probe.SetMaxOpenConns(1)
	probe.SetMaxIdleConns(1)
	probe.SetConnMaxLifetime(30 * time.Minute)
	st := &Store{db: db, batch: batch, probe: probe}
	st.steps = &steps{s: st, perOrder: cfg.StepPerOrder}
	return st, nil
}

func createDatabase(ctx context.Context, mc *mysql.Config) error {
	server := mc.Clone()
	server.DBName = ""
	conn, err := mysql.NewConnector(server)
	if err != nil {
		return fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	q := "CREATE DATABASE IF NOT EXISTS `" + mc.DBName + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", mc.DBName, err)
	}
	return nil
}

// DropDatabase drops database name on the server server (a DSN without a
// database), if it exists: the scratch databases of benchmarks and
// simulations.
func DropDatabase(ctx context.Context, server, name string) error {
	db, err := sql.Open("mysql", server)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+strings.ReplaceAll(name, "`", "``")+"`")
	return err
}

// DB exposes the pool for health checks and metrics.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that MySQL answers and takes writes, on the probe's own
// connection, within ctx.
func (s *Store) Ping(ctx context.Context) error {
	var readOnly bool
	if err := s.probe.QueryRowContext(ctx, "SELECT @@global.read_only").Scan(&readOnly); err != nil {
		return err
	}
	if readOnly {
		return errors.New("the server is read-only: writes are refused")
	}
	return nil
}

// boundedConnector bounds a new connection's dial and handshake. The
// driver's timeout covers only the dial, and database/sql opens some
// connections without a deadline: against a server that accepts but never
// answers (a network blackhole) such a connection would wait for ever and
// hold a place in the pool.
type boundedConnector struct {
	driver.Connector
	timeout time.Duration
}

func (c boundedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.Connector.Connect(ctx)
}

// connectTimeout is the DSN's timeout, used for the whole connect; 5 s
// when it names none.
func connectTimeout(mc *mysql.Config) time.Duration {
	if mc.Timeout > 0 {
		return mc.Timeout
	}
	return 5 * time.Second
}

// Close closes the pools.
func (s *Store) Close() error {
	s.claims.Wait()
	return errors.Join(s.batch.Close(), s.db.Close(), s.probe.Close())
}
