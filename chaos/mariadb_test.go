package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// mariaDB is a mariadbd of the suite's own, on its own data directory and
// port, so that it can be killed, restarted and made read-only.
type mariaDB struct {
	dir  string
	port int
	cmd  *exec.Cmd
	exit chan struct{}
}

// Shop is the account the nodes use: every privilege on the suite's
// databases and none global, so that read_only applies to it.
const (
	shopUser = "shop"
	shopPass = "shop-pass"
)

// startMariaDB initialises a data directory under dir and starts the server.
func startMariaDB(dir string, port int) (*mariaDB, error) {
	m := &mariaDB{dir: dir, port: port}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(data); os.IsNotExist(err) {
		out, err := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data,
			"--auth-root-authentication-method=normal", "--skip-test-db", "--user=root").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
		}
	}
	if err := m.start(); err != nil {
		return nil, err
	}
	db, err := sql.Open("mysql", m.rootDSN())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS '" + shopUser + "'@'%' IDENTIFIED BY '" + shopPass + "'",
		"GRANT ALL PRIVILEGES ON `chaos\\_%`.* TO '" + shopUser + "'@'%'",
	} {
		if _, err := db.Exec(q); err != nil {
			m.kill()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	return m, nil
}

func (m *mariaDB) rootDSN() string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/?timeout=2s", m.port)
}

// start runs mariadbd durably (every commit flushed) and waits until it
// answers.
func (m *mariaDB) start() error {
	m.cmd = exec.Command("mariadbd", "--no-defaults", "--user=root",
		"--datadir="+filepath.Join(m.dir, "data"),
		"--socket="+filepath.Join(m.dir, "mysqld.sock"),
		"--pid-file="+filepath.Join(m.dir, "mysqld.pid"),
		"--bind-address=127.0.0.1", fmt.Sprintf("--port=%d", m.port),
		"--innodb-flush-log-at-trx-commit=1", "--sync-binlog=1",
		"--innodb-buffer-pool-size=64M", "--max-connections=300",
		"--log-error="+filepath.Join(m.dir, "error.log"))
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("mariadbd: %w", err)
	}
	m.exit = make(chan struct{})
	go func(c *exec.Cmd, exit chan struct{}) { c.Wait(); close(exit) }(m.cmd, m.exit)
	return m.waitUp(60 * time.Second)
}

// waitUp waits until the server answers a query.
func (m *mariaDB) waitUp(d time.Duration) error {
	db, err := sql.Open("mysql", m.rootDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-m.exit:
			log, _ := os.ReadFile(filepath.Join(m.dir, "error.log"))
			return fmt.Errorf("mariadbd exited: %s", tail(log, 2000))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd on %d not up after %s: %v", m.port, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the server at once (SIGKILL), as a crash would.
func (m *mariaDB) kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exit
	m.cmd = nil
}

// exec runs a statement as root (SET GLOBAL read_only and the like).
func (m *mariaDB) exec(q string) error {
	db, err := sql.Open("mysql", m.rootDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(q)
	return err
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func TestMariaDBHarnessRestartsWithItsData(t *testing.T) {
	m := suiteMariaDB(t)
	if err := m.exec("CREATE DATABASE IF NOT EXISTS chaos_harness"); err != nil {
		t.Fatal(err)
	}
	if err := m.exec("CREATE TABLE IF NOT EXISTS chaos_harness.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if err := m.exec("REPLACE INTO chaos_harness.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	m.kill()
	if err := m.exec("SELECT 1"); err == nil {
		t.Fatal("the killed server still answers")
	}
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", m.rootDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM chaos_harness.t").Scan(&n); err != nil || n != 1 {
		t.Errorf("after the restart: %d rows, %v; want the committed row", n, err)
	}
}
