package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"shelflife/cluster/porttest"
	"shelflife/kafkabus"
	"shelflife/kakaopay"
	"shelflife/kakaopay/kakaofake"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// TestCrashAtEveryStepBoundary kills a node subprocess with SIGKILL right
// after each step of an order saga, restarts it, and checks that the order
// ends PAID exactly once with its stock taken exactly once — or, killed
// after its holds and before its payment was ready (HELD), that the order
// is closed with nothing taken and its holds released; killed once the
// payer's callback committed the holds but before the pg_token's write
// (HOLDS_TAKEN), that the payer's second callback pays it once. An order
// whose lines are all held goes from READY to APPROVING: DEDUCTING and
// COMMITTED, steps of an order placed before holds or resumed after a lot
// did not answer, are not on its way (the saga's own tests cover them).
// Kafka and the
// fake Kakao Pay live in the test process, so they survive the node, as
// real ones would.
func TestCrashAtEveryStepBoundary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs node processes")
	}
	bin := buildNode(t)
	broker, err := kafkabus.StartEmbedded(0)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	fake := kakaofake.New(15 * time.Minute)
	kakaoURL, stopFake, err := fake.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stopFake()

	for _, step := range []string{"HELD", "READY", "HOLDS_TAKEN", "APPROVING", "APPROVED"} {
		t.Run(step, func(t *testing.T) {
			crashScenario(t, bin, step, broker.Addrs(), kakaoURL, fake)
		})
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildNode builds this command once per test binary run.
func buildNode(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shelflife-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "shelflife")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

type proc struct {
	cmd  *exec.Cmd
	done chan error
	log  *syncBuffer
}

// syncBuffer collects a process's stderr while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort is a port a node started later can listen on (see porttest).
func freePort(t *testing.T) string { return porttest.Free(t) }

func startNode(t *testing.T, bin string, env []string) *proc {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{cmd: cmd, done: make(chan error, 1), log: &syncBuffer{}}
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ShelfLife is running at") {
				close(ready)
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("node exited at start: %v\n%s", err, tail(p.log))
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("node did not start\n%s", tail(p.log))
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func tail(b *syncBuffer) string {
	s := b.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

// dumpStuck makes a process that does not stop print its goroutines
// (SIGQUIT) and returns the end of its log, so a hang can be told apart.
func dumpStuck(p *proc) string {
	before := len(p.log.String())
	p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(5 * time.Second):
	}
	s := p.log.String()[max(before-4000, 0):]
	if len(s) > 60000 {
		s = s[:60000] + "\n…"
	}
	return s
}

// waitKilled waits for the node to kill itself.
func (p *proc) waitKilled(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		if err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("node ended with %v, want killed\n%s", err, tail(p.log))
		}
		p.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatalf("node was not killed\n%s", tail(p.log))
	}
}

type api struct {
	t     *testing.T
	base  string
	token string
}

func (a api) call(method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		json.Unmarshal(raw, out)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, nil
}

func (a api) must(method, path string, body, out any) {
	a.t.Helper()
	if _, err := a.call(method, path, body, out); err != nil {
		a.t.Fatal(err)
	}
}

func (a api) login(email, password string) api {
	a.t.Helper()
	var out struct{ Token string }
	a.must("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &out)
	return api{t: a.t, base: a.base, token: out.Token}
}

func crashScenario(t *testing.T, bin, step string, brokers []string, kakaoURL string, fake *kakaofake.Server) {
	dsn := mysqltest.NewDSN(t)
	addr := freePort(t)
	env := []string{
		"SHELFLIFE_CONFIG=../../configs/test.yaml",
		"SHELFLIFE_HTTP_ADDR=" + addr,
		"SHELFLIFE_MYSQL_DSN=" + dsn,
		"SHELFLIFE_KAFKA_BROKERS=" + strings.Join(brokers, ","),
		"SHELFLIFE_KAKAO_BASE_URL=" + kakaoURL,
		"SHELFLIFE_ADMIN_PASSWORD=admin-pass-123",
		"SHELFLIFE_REDIS_PREFIX=slt-crash-" + step + fmt.Sprint(time.Now().UnixNano()) + ":",
		"SHELFLIFE_SWEEP_INTERVAL=500ms",
		"SHELFLIFE_SAGA_STUCK_AFTER=1s",
		"SHELFLIFE_LOG_LEVEL=info",
	}
	first := startNode(t, bin, append(env, "SHELFLIFE_FAULT_CRASH_AFTER="+step))
	base := "http://" + addr
	shopper, p, l := crashShop(api{t: t, base: base})

	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var order struct {
		OrderID string `json:"order_id"`
	}
	paymentsBefore := len(fake.Ledger().Payments)
	_, err = shopper.call("POST", "/api/v1/orders", map[string]any{"items": []map[string]any{{"product_id": p.ID, "quantity": 3}}}, &order)
	if step == "HELD" {
		if err == nil {
			t.Fatal("the order was answered although the node should have died after its holds")
		}
		first.waitKilled(t)
		startNode(t, bin, env) // its sweep closes the order and releases the holds
		checkClosedWithNothingTaken(t, db, l.ID)
		if n := len(fake.Ledger().Payments); n != paymentsBefore {
			t.Errorf("%d payments at Kakao Pay for an order killed before its payment", n-paymentsBefore)
		}
		return
	}
	if step == "READY" {
		if err == nil {
			t.Fatal("the order was answered although the node should have died after READY")
		}
		first.waitKilled(t)
		startNode(t, bin, env)
		if err := db.QueryRow("SELECT id FROM orders").Scan(&order.OrderID); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	var redirect string
	db.QueryRow("SELECT redirect_url FROM payments WHERE order_id = ?", order.OrderID).Scan(&redirect)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Post(redirect+"/approve", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	cresp, err := (&http.Client{Timeout: 60 * time.Second}).Get(callback)
	if step != "READY" {
		if err == nil {
			cresp.Body.Close()
			t.Fatalf("the callback was answered (%d) although the node should have died after %s", cresp.StatusCode, step)
		}
		first.waitKilled(t)
		startNode(t, bin, env) // its sweep resumes the saga
		if step == "HOLDS_TAKEN" {
			// READY with its stock taken: the sweep leaves it to its payer
			// (or to its expiry, which gives the stock back). The payer's
			// browser loads the callback again, as after an error page.
			var at string
			var deducted int64
			db.QueryRow("SELECT step FROM orders WHERE id = ?", order.OrderID).Scan(&at)
			db.QueryRow("SELECT deducted FROM lots WHERE id = ?", l.ID).Scan(&deducted)
			if at != "READY" || deducted != 3 {
				t.Fatalf("after the restart the order is %s with %d units deducted, want READY with its 3 taken", at, deducted)
			}
			again, err := (&http.Client{Timeout: 60 * time.Second}).Get(callback)
			if err != nil {
				t.Fatalf("the callback again: %v", err)
			}
			again.Body.Close()
		}
	} else if err != nil {
		t.Fatal(err)
	} else {
		cresp.Body.Close()
	}

	var status string
	deadline := time.Now().Add(30 * time.Second)
	for status != "PAID" && time.Now().Before(deadline) {
		db.QueryRow("SELECT status FROM orders WHERE id = ?", order.OrderID).Scan(&status)
		time.Sleep(100 * time.Millisecond)
	}
	if status != "PAID" {
		t.Fatalf("order %s is %s after the restart, want PAID", order.OrderID, status)
	}
	checkTakenOnce(t, db, fake, order.OrderID, l.ID)
}

// crashShop sets up one warehouse near the shopper Kim with 20 units of
// milk at 3,000 won, and signs Kim in.
func crashShop(anon api) (shopper api, product, lot struct{ ID int64 }) {
	admin := anon.login("admin@shelflife.test", "admin-pass-123")
	var w struct{ ID int64 }
	admin.must("POST", "/api/v1/admin/warehouses", map[string]any{"name": "Songpa", "region": "SE", "lat": 37.5145, "lng": 127.1059, "radius_km": 5}, &w)
	admin.must("POST", "/api/v1/admin/products", map[string]any{"sku": "MILK", "name": "우유", "category": "Dairy", "price": 3000}, &product)
	admin.must("POST", "/api/v1/admin/lots", map[string]any{"product_id": product.ID, "warehouse_id": w.ID, "quantity": 20,
		"expires_at": time.Now().Add(10 * 24 * time.Hour).Format(time.RFC3339)}, &lot)
	anon.must("POST", "/api/v1/auth/signup", map[string]any{"email": "kim@shop.test", "password": "password-1", "name": "Kim",
		"address": map[string]any{"lat": 37.5133, "lng": 127.1001}}, nil)
	return anon.login("kim@shop.test", "password-1"), product, lot
}

// checkTakenOnce: the 3 units of milk (9,000 won) were charged once and
// deducted once.
func checkTakenOnce(t *testing.T, db *sql.DB, fake *kakaofake.Server, orderID string, lotID int64) {
	t.Helper()
	pay, _ := fake.Payment(orderID)
	if pay.Status != kakaopay.StatusSuccess || pay.Approvals != 1 || pay.Amount != 9000 {
		t.Errorf("payment at Kakao Pay = %+v, want one approval of 9000", pay)
	}
	var received, onHand, held, deducted, restored, writtenOff int64
	db.QueryRow("SELECT received, on_hand, held, deducted, restored, written_off FROM lots WHERE id = ?", lotID).
		Scan(&received, &onHand, &held, &deducted, &restored, &writtenOff)
	if onHand != 17 || held != 0 || deducted-restored != 3 || received != onHand+held+deducted-restored+writtenOff {
		t.Errorf("lot after the crash: on_hand %d held %d deducted %d restored %d, want 17 and 3 taken once", onHand, held, deducted, restored)
	}
}

// checkClosedWithNothingTaken waits for an order killed between its holds
// and its payment to be gone, with every unit of the lot free again and no
// hold left.
func checkClosedWithNothingTaken(t *testing.T, db *sql.DB, lotID int64) {
	t.Helper()
	var orders, onHand, held, deducted int64 = -1, -1, -1, -1
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		db.QueryRow("SELECT COUNT(*) FROM orders").Scan(&orders)
		db.QueryRow("SELECT on_hand, held, deducted FROM lots WHERE id = ?", lotID).Scan(&onHand, &held, &deducted)
		if orders == 0 && onHand == 20 && held == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if orders != 0 || onHand != 20 || held != 0 || deducted != 0 {
		t.Fatalf("after the restart: %d orders, lot on_hand %d held %d deducted %d; want no order and all 20 free", orders, onHand, held, deducted)
	}
}
