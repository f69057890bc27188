package chaos

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"shelflife/cluster/member"
	"shelflife/config"
	"shelflife/kakaopay/kakaofake"
	"shelflife/loadtest"
	"shelflife/node"
)

// The suite's ports (127.0.0.1): everything it starts stays in the
// hundred ports from CHAOS_PORT_BASE (default 18800), so that two runs on
// one machine can keep apart.
var (
	portBase    = chaosPortBase()
	portMariaDB = portBase + 6
	portProxy   = portBase + 7
	portRedis   = portBase + 10
	// The broker listens on portBroker and tells clients (in its metadata)
	// that it is at portKafkaProxy, the fault proxy in front of it.
	portBroker     = portBase + 20
	portKafkaProxy = portBase + 21
	portHTTP       = portBase + 30
	portKakao      = portBase + 31
	portCluster    = portBase + 32
	// The second node of the faults that have one.
	portPeerHTTP    = portBase + 33
	portPeerCluster = portBase + 34
)

func chaosPortBase() int {
	if v := os.Getenv("CHAOS_PORT_BASE"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65400 {
			return n
		}
		fmt.Fprintf(os.Stderr, "chaos: CHAOS_PORT_BASE=%q is not a port below 65400; using 18800\n", v)
	}
	return 18800
}

var (
	suiteDir  string
	setupOnce sync.Once
	setupErr  error
	maria     *mariaDB
	proxy     *faultProxy // in front of MySQL
	kproxy    *faultProxy // in front of the broker
	redisSrv  *redisServer
	kafka     *broker
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Killed servers make the driver log every broken connection.
	mysql.SetLogger(log.New(io.Discard, "", 0))
	dir, err := os.MkdirTemp("", "shelflife-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	suiteDir = dir
	code := m.Run()
	if maria != nil {
		maria.kill()
	}
	if redisSrv != nil {
		redisSrv.kill()
	}
	if proxy != nil {
		proxy.Close()
	}
	if kproxy != nil {
		kproxy.Close()
	}
	if kafka != nil {
		kafka.close()
	}
	if os.Getenv("CHAOS_KEEP") == "" {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "chaos: nodes' logs kept in", dir)
	}
	os.Exit(code)
}

// setupDeps starts the suite's own MariaDB (behind the fault proxy), Redis
// and broker once.
func setupDeps(t *testing.T) {
	t.Helper()
	setupOnce.Do(func() {
		if maria, setupErr = startMariaDB(filepath.Join(suiteDir, "mariadb"), portMariaDB); setupErr != nil {
			return
		}
		if proxy, setupErr = newFaultProxy(fmt.Sprintf("127.0.0.1:%d", portProxy), fmt.Sprintf("127.0.0.1:%d", portMariaDB)); setupErr != nil {
			return
		}
		if redisSrv, setupErr = startRedis(portRedis); setupErr != nil {
			return
		}
		if kproxy, setupErr = newFaultProxy(fmt.Sprintf("127.0.0.1:%d", portKafkaProxy), fmt.Sprintf("127.0.0.1:%d", portBroker)); setupErr != nil {
			return
		}
		kafka, setupErr = startBroker(portBroker, kproxy.Addr())
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

func suiteMariaDB(t *testing.T) *mariaDB {
	setupDeps(t)
	return maria
}

// env is one fault's node and the suite's dependencies.
type env struct {
	t     *testing.T
	node  *node.Node
	peer  *node.Node // nil unless the fault has one
	fake  *kakaofake.Server
	c     loadtest.Config
	site  loadtest.Site
	sale  *sale
	at    time.Time // when the fault began
	notes []string  // what was seen during the fault
	bad   []string  // what must not happen and did
}

func (e *env) note(format string, args ...any) {
	e.notes = append(e.notes, fmt.Sprintf(format, args...))
}
func (e *env) fail(format string, args ...any) { e.bad = append(e.bad, fmt.Sprintf(format, args...)) }

// fault is one dependency failing in the middle of a sale.
type fault struct {
	name string
	// dep is the /readyz check that should name the fault ("" none).
	dep     string
	inject  func(e *env) error
	during  func(e *env) // checks while the fault lasts
	restore func(e *env) error
	// peer starts a second node of the cluster, which only hears of the
	// sale through Kafka: its read model must catch up after the fault.
	peer bool
}

// report is one fault's line.
type report struct {
	fault                           string
	attempted, answered             int
	paid, failed, expired           int
	codes                           string
	recovery                        time.Duration
	readyIn                         time.Duration
	slowestRefusal, slowestCheckout time.Duration
	verdict                         loadtest.Verdict
	unfinished                      int
	notes, bad                      []string
}

func (r report) held() bool { return r.verdict.OK() && r.unfinished == 0 && len(r.bad) == 0 }

func (r report) line() string {
	status := "held"
	if !r.held() {
		status = "BROKEN"
	}
	s := fmt.Sprintf("fault %-16s %s: attempted %d answered %d PAID %d FAILED %d EXPIRED %d; back in %s; readyz in %s; slowest refusal %s; slowest checkout during %s; errors %s",
		r.fault, status, r.attempted, r.answered, r.paid, r.failed, r.expired, dur(r.recovery), dur(r.readyIn),
		dur(r.slowestRefusal), dur(r.slowestCheckout), r.codes)
	if len(r.notes) > 0 {
		s += "; " + strings.Join(r.notes, "; ")
	}
	for _, p := range append(append([]string{}, r.bad...), r.verdict.Problems...) {
		s += "\n    problem: " + p
	}
	if r.unfinished > 0 {
		s += fmt.Sprintf("\n    problem: %d acknowledged orders never reached PAID, FAILED or EXPIRED", r.unfinished)
	}
	return s
}

func dur(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(10 * time.Millisecond).String()
}

// timings of one run: the full one (make chaos) or the short one.
type timings struct {
	shoppers     int
	warm, outage time.Duration
	after        time.Duration
}

func runTimings() timings {
	if testing.Short() {
		// Half a second of sale before the fault keeps make test's run
		// about as long as it was with two faults fewer.
		return timings{shoppers: 6, warm: 500 * time.Millisecond, outage: 2 * time.Second, after: time.Second}
	}
	return timings{shoppers: 16, warm: 3 * time.Second, outage: 6 * time.Second, after: 3 * time.Second}
}

func nodeConfig(t *testing.T, name string) config.Node {
	cfg, err := config.Load("../configs/test.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	db := fmt.Sprintf("chaos_%s_%d", strings.ReplaceAll(name, "-", "_"), time.Now().UnixNano()%1e9)
	cfg.MySQLDSN = fmt.Sprintf("%s:%s@tcp(127.0.0.1:%d)/%s?parseTime=true&timeout=1s", shopUser, shopPass, portProxy, db)
	cfg.RedisAddr = redisSrv.addr()
	cfg.RedisPrefix = "chaos-" + name + ":"
	cfg.KafkaBrokers = kafka.addrs()
	cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", portHTTP)
	cfg.KakaoFakeAddr = fmt.Sprintf("127.0.0.1:%d", portKakao)
	cfg.Cluster.Port = portCluster
	cfg.AdminPassword = "chaos-admin-pass"
	cfg.SweepInterval = config.Duration(500 * time.Millisecond)
	cfg.SagaStuckAfter = config.Duration(2 * time.Second)
	cfg.PaymentValidity = config.Duration(30 * time.Second)
	cfg.MaxUnpaidOrders = 0
	cfg.LogLevel = "warn"
	return cfg
}

// runFault starts a node, runs a sale, injects the fault, restores it,
// measures the recovery, then checks the invariants.
func runFault(t *testing.T, f fault) report {
	setupDeps(t)
	tm := runTimings()
	cfg := nodeConfig(t, f.name)
	logFile, err := os.Create(filepath.Join(suiteDir, f.name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	agent := member.NewAgent()
	n, err := node.Start(ctx, cfg, node.Options{Logger: logger, Agent: agent})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer scancel()
		n.Shutdown(sctx)
	}()
	e := &env{t: t, node: n, fake: n.KakaoFake()}
	if f.peer {
		pcfg := cfg
		pcfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", portPeerHTTP)
		pcfg.Cluster.Port = portPeerCluster
		pcfg.KakaoBaseURL = n.KakaoURL()
		p, err := node.Start(ctx, pcfg, node.Options{Logger: logger.With("node", "peer"), Agent: agent})
		if err != nil {
			t.Fatalf("start the peer node: %v", err)
		}
		defer func() {
			sctx, scancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer scancel()
			p.Shutdown(sctx)
		}()
		e.peer = p
	}
	e.c = loadtest.Config{Client: loadtest.NewClient([]string{n.URL()}, 64), AdminEmail: cfg.AdminEmail,
		AdminPassword: cfg.AdminPassword, KakaoURL: n.KakaoURL(), Stock: 100000}
	if e.site, err = loadtest.Setup(ctx, e.c); err != nil {
		t.Fatalf("setup: %v", err)
	}
	tokens, err := signup(ctx, e.c, e.site, tm.shoppers+1)
	if err != nil {
		t.Fatal(err)
	}
	var kept *stockSocket
	if e.peer != nil {
		// Opened at once, as a page may be, perhaps before the node has
		// heard of the sale's warehouse: it must hear of it all the same.
		if kept, err = openStockSocket(ctx, e.peer.URL(), e.site.Lat+0.001, e.site.Lng, e.site.ProductID); err != nil {
			t.Fatal(err)
		}
		defer kept.close()
	}
	watch := watchReady(n.URL())
	defer watch.close()
	s := startSale(e.c, e.site, tokens[1:])
	e.sale = s
	time.Sleep(tm.warm)

	faultAt := time.Now()
	e.at = faultAt
	watch.from(faultAt)
	if err := f.inject(e); err != nil {
		s.end()
		t.Fatalf("inject %s: %v", f.name, err)
	}
	if f.during != nil {
		time.Sleep(tm.outage / 2)
		f.during(e)
		time.Sleep(time.Until(faultAt.Add(tm.outage)))
	} else {
		time.Sleep(tm.outage)
	}
	if err := f.restore(e); err != nil {
		s.end()
		t.Fatalf("restore %s: %v", f.name, err)
	}
	restored := time.Now()
	drained := watchOutbox(e, restored)
	recovery, _ := s.probeRecovery(tokens[0], restored, time.Minute)
	time.Sleep(tm.after)
	results := s.end()

	r := report{fault: f.name, recovery: recovery, readyIn: -1, codes: codes(results)}
	if f.dep != "" {
		r.readyIn = watch.named(f.dep)
	}
	if early := watch.before(); early != "" {
		e.note("/readyz before the fault: %s", early)
	}
	res := loadtest.FlashResult{Orders: map[string]string{}, Units: map[string]int64{}}
	for _, x := range results {
		r.attempted++
		if !strings.HasSuffix(x.code, ":transport") && !strings.HasSuffix(x.code, ":timeout") {
			r.answered++
		}
		during := !x.start.Before(faultAt) && x.start.Before(restored)
		if during && x.end.Sub(x.start) > r.slowestCheckout {
			r.slowestCheckout = x.end.Sub(x.start)
		}
		if x.order != "" {
			res.Orders[x.order] = x.status
			res.Units[x.order] = 1
		} else if during && x.end.Sub(x.start) > r.slowestRefusal {
			r.slowestRefusal = x.end.Sub(x.start)
		}
	}
	r.unfinished = settle(ctx, e, res)
	if d := <-drained; d.bad {
		e.fail("%s", d.msg)
	} else if d.msg != "" {
		e.note("%s", d.msg)
	}
	if e.peer != nil {
		if peerInStep(e) {
			// The order it pays is checked with the others.
			if id := socketsResume(e, kept, tokens[0], results, restored); id != "" {
				res.Orders[id], res.Units[id] = "PAID", 1
			}
		}
	}
	if v, ok := metric(e, "shelflife_mysql_unavailable_total"); ok && v > 0 {
		e.note("MySQL calls refused as unavailable %.0f", v)
	}
	r.notes, r.bad = e.notes, e.bad
	obs, err := loadtest.ObserveRun(ctx, e.c, e.site, res, 30*time.Second)
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	r.verdict = loadtest.Check(obs)
	for _, st := range obs.OrderStatus {
		switch st {
		case "PAID":
			r.paid++
		case "FAILED":
			r.failed++
		case "EXPIRED":
			r.expired++
		}
	}
	return r
}

// settle waits until every acknowledged order is PAID, FAILED or EXPIRED
// (the sweeper resumes sagas left mid-way and expires unpaid orders), and
// answers how many are not.
func settle(ctx context.Context, e *env, res loadtest.FlashResult) int {
	deadline := time.Now().Add(time.Duration(60) * time.Second)
	for {
		open := 0
		for id := range res.Orders {
			var ord struct{ Status string }
			if err := e.c.Client.Do(ctx, "GET", e.node.URL()+"/api/v1/orders/"+id, e.site.AdminToken, nil, &ord); err != nil {
				open++
				continue
			}
			switch ord.Status {
			case "PAID", "FAILED", "EXPIRED":
			default:
				open++
			}
		}
		if open == 0 || time.Now().After(deadline) {
			return open
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// faults are every fault the suite has, in the order it runs them.
func faults() []fault {
	proxyMode := func(mode int32, delay time.Duration) func(*env) error {
		return func(*env) error { proxy.set(mode, delay); return nil }
	}
	// Declines make compensations while Kafka is cut: their events wait
	// in the outbox.
	kafkaProxyMode := func(mode int32) func(*env) error {
		return func(e *env) error {
			if mode == pass {
				e.fake.SetDeclineRate(0)
			} else {
				e.fake.SetDeclineRate(0.3)
			}
			kproxy.set(mode, 0)
			return nil
		}
	}
	return []fault{
		{name: "mariadb-kill", dep: "mysql",
			inject:  func(*env) error { maria.kill(); return nil },
			restore: func(*env) error { return maria.start() }},
		{name: "mysql-cut", dep: "mysql", inject: proxyMode(drop, 0), restore: proxyMode(pass, 0)},
		{name: "mysql-blackhole", dep: "mysql", inject: proxyMode(blackhole, 0), restore: proxyMode(pass, 0)},
		{name: "mysql-slow", inject: proxyMode(latency, 200*time.Millisecond), during: paidDuring, restore: proxyMode(pass, 0)},
		{name: "mysql-read-only", dep: "mysql",
			inject:  func(*env) error { return maria.exec("SET GLOBAL read_only = 1") },
			during:  browsingServed,
			restore: func(*env) error { return maria.exec("SET GLOBAL read_only = 0") }},
		{name: "redis-down", dep: "redis",
			inject: func(*env) error { redisSrv.kill(); return nil },
			during: func(e *env) {
				cartAnswer(e, "during", "cart_unavailable")
				paidDuring(e)
				signIn(e)
			},
			restore: func(e *env) error {
				if err := redisSrv.start(); err != nil {
					return err
				}
				cartAnswer(e, "after", "")
				return nil
			}},
		{name: "broker-down", dep: "kafka", peer: true,
			// Declines make compensations: their events wait in the
			// outbox while the broker refuses.
			inject: func(e *env) error { e.fake.SetDeclineRate(0.3); kafka.down.Store(true); return nil },
			during: kafkaDuring,
			restore: func(e *env) error {
				kafka.down.Store(false)
				e.fake.SetDeclineRate(0)
				return nil
			}},
		{name: "broker-restart", dep: "kafka", peer: true,
			// Stopped at once and a new, empty broker started on its port.
			inject: func(e *env) error { e.fake.SetDeclineRate(0.3); kafka.c.Close(); return nil },
			during: kafkaDuring,
			restore: func(e *env) error {
				e.fake.SetDeclineRate(0)
				return kafka.start()
			}},
		// Kafka cut off through the proxy the clients reach the broker by:
		// the producer's and the consumers' connections closed and new
		// ones refused, or held unanswered.
		{name: "kafka-cut", dep: "kafka", peer: true,
			inject: kafkaProxyMode(drop), during: kafkaDuring, restore: kafkaProxyMode(pass)},
		{name: "kafka-blackhole", dep: "kafka", peer: true,
			inject: kafkaProxyMode(blackhole), during: kafkaDuring, restore: kafkaProxyMode(pass)},
		{name: "kakao-faults",
			// Slow answers past kakao_timeout, then answers lost after the
			// money was taken, with a fifth of approvals declined: every
			// unknown outcome must be settled.
			inject: func(e *env) error {
				e.fake.SetDeclineRate(0.2)
				e.fake.Inject("*", kakaofake.Injection{Mode: kakaofake.Slow, DelayMS: 3000})
				return nil
			},
			during: func(e *env) {
				e.fake.Inject("*", kakaofake.Injection{Mode: kakaofake.TimeoutAfterApprove})
			},
			restore: func(e *env) error {
				e.fake.Inject("*", kakaofake.Injection{})
				e.fake.SetDeclineRate(0)
				return nil
			}},
	}
}

// paidDuring notes the checkouts PAID since the fault began: ordering
// should go on through faults that do not touch its path.
func paidDuring(e *env) {
	e.sale.mu.Lock()
	n := 0
	for _, r := range e.sale.results {
		if !r.start.Before(e.at) && r.status == "PAID" {
			n++
		}
	}
	e.sale.mu.Unlock()
	e.note("%d PAID during the fault", n)
}

// peerInStep waits (up to 15 s) until the peer node's listing shows the
// product's stock as the sale's node does: the stock events of the sale
// reached it through Kafka, the fault notwithstanding.
func peerInStep(e *env) bool {
	deadline := time.Now().Add(15 * time.Second)
	for {
		here, err1 := listed(e, e.node.URL())
		there, err2 := listed(e, e.peer.URL())
		if err1 == nil && err2 == nil && here == there {
			e.note("the other node's listing in step (%d left)", here)
			return true
		}
		if time.Now().After(deadline) {
			e.fail("the other node's listing: %d (%v), this node's %d (%v)", there, err2, here, err1)
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// outboxPending counts the outbox messages not yet published.
func outboxPending(e *env) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int
	err := e.node.Store().DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").Scan(&n)
	return n, err
}

// watchOutbox notes, from the dependency's return, how many outbox
// messages were pending and when the relay had published them all ("" if
// none were pending); an outbox not empty 30 s after is a failure.
func watchOutbox(e *env, from time.Time) <-chan outboxDrain {
	out := make(chan outboxDrain, 1)
	go func() {
		first := -1
		for time.Since(from) < 30*time.Second {
			n, err := outboxPending(e)
			if err == nil {
				if first < 0 {
					first = n
				}
				if n == 0 {
					if first > 0 {
						out <- outboxDrain{msg: fmt.Sprintf("outbox: %d pending at the return, empty %s after", first, dur(time.Since(from)))}
					} else {
						out <- outboxDrain{}
					}
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		out <- outboxDrain{msg: fmt.Sprintf("the outbox still held messages 30 s after the return (%d at first)", first), bad: true}
	}()
	return out
}

type outboxDrain struct {
	msg string
	bad bool
}

// kafkaDuring notes, mid-fault, the checkouts paid and how far the outbox
// is behind.
func kafkaDuring(e *env) {
	paidDuring(e)
	if v, ok := metric(e, "shelflife_outbox_lag_seconds"); ok {
		e.note("outbox lag %.1fs mid-fault", v)
	}
	if n, err := outboxPending(e); err == nil {
		e.note("%d outbox messages pending mid-fault", n)
	}
	// Each node hears the changes of the lots whose grains the other
	// hosts only through Kafka: mid-fault their listings part.
	if e.peer != nil {
		here, err1 := listed(e, e.node.URL())
		there, err2 := listed(e, e.peer.URL())
		if err1 == nil && err2 == nil {
			e.note("listings mid-fault: this node %d, the other %d", here, there)
		}
	}
}

// metric reads one unlabelled metric from the node's /metrics.
func metric(e *env, name string) (float64, bool) {
	resp, err := http.Get(e.node.URL() + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// browsingServed asks for the products near the site: the read model
// serves them whatever MySQL does.
func browsingServed(e *env) {
	url := fmt.Sprintf("%s/api/v1/products?lat=%f&lng=%f", e.node.URL(), e.site.Lat, e.site.Lng)
	if err := e.c.Client.Do(context.Background(), "GET", url, "", nil, nil); err != nil {
		e.fail("browsing during the fault: %v", err)
		return
	}
	e.note("browsing served")
}

// signIn signs the admin in and notes the answer: the sign-in limits live
// in Redis.
func signIn(e *env) {
	var out struct{ Token string }
	err := e.c.Client.Do(context.Background(), "POST", e.node.URL()+"/api/v1/auth/login", "",
		map[string]string{"email": e.c.AdminEmail, "password": e.c.AdminPassword}, &out)
	if code := loadtest.Code(err); code != "" {
		e.note("sign-in: %s", code)
		return
	}
	e.note("sign-in: 200")
}

// cartAnswer reads a shopper's cart and compares the answer's code with
// want ("" for success).
func cartAnswer(e *env, when, want string) {
	tok := e.sale.tokens[0]
	var got string
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := e.c.Client.Do(context.Background(), "GET", e.node.URL()+"/api/v1/cart", tok, nil, nil)
		got = loadtest.Code(err)
		if got == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != want {
		e.fail("cart %s the fault: %q, want %q", when, got, want)
		return
	}
	if got == "" {
		got = "200"
	}
	e.note("cart %s: %s", when, got)
}

// TestFaults runs each fault under a sale, one line each, and the tally.
func TestFaults(t *testing.T) {
	all := faults()
	held, ran := 0, 0
	for _, f := range all {
		t.Run(f.name, func(t *testing.T) {
			ran++
			r := runFault(t, f)
			fmt.Println(r.line())
			if r.held() {
				held++
			} else {
				t.Errorf("%s: an invariant failed", f.name)
			}
		})
	}
	fmt.Printf("chaos: %d of %d held\n", held, ran)
}
