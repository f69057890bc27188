// Command benchinv measures hot-lot deductions two ways against the same
// MariaDB/MySQL in one run, and the browse rate of a node, and prints a
// table with ratios:
//
//	(a) baseline: N goroutines, each deduction one transaction with
//	    UPDATE lots SET on_hand = on_hand - 1 WHERE id = ? AND on_hand >= 1
//	    and a ledger INSERT;
//	(b) the same deductions through the lot grain (group commit);
//	cross-node: a lot request (Get, Deduct) from one member of a two-member
//	    cluster to a lot living on the other member against the same request
//	    to a lot living on itself (p50 ratio);
//	orders: many concurrent orders stored and taken through READY,
//	    APPROVING and PAID, with statements per order against multi-row
//	    INSERTs and one set-based statement per step in each shared commit
//	    (wall time and MariaDB CPU per order);
//	browse: GET /api/v1/products for an address against GET /healthz, the
//	    same server's cheapest route.
//
// With -storm it runs the expiry storm instead (storm.go, make
// bench-storm).
//
// It is a measurement, not a test: `make bench` runs it.
package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot"
	"shelflife/cluster/member"
	"shelflife/config"
	"shelflife/domain"
	"shelflife/node"
	"shelflife/persistence/mysqlstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchinv:", err)
		os.Exit(1)
	}
}

type result struct {
	name     string
	n        int
	ops      int64
	elapsed  time.Duration
	p50, p99 time.Duration
	oversold int64
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func run(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("benchinv", flag.ContinueOnError)
	server := fs.String("mysql", "root@tcp(127.0.0.1:3306)/", "MySQL server (no database: a scratch one is created and dropped)")
	duration := fs.Duration("duration", 5*time.Second, "how long each measurement runs")
	levels := fs.String("n", "8,64,256", "concurrency levels")
	browse := fs.Bool("browse", true, "also measure the browse rate on a node")
	cross := fs.Bool("cross", true, "also compare a lot request on another member with one on the local member")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the lot-grain runs to this file, of the runs with calls sent alone to FILE.alone (with -storm: of the storm minute)")
	stormOnly := fs.Bool("storm", false, "run the expiry storm alone (make bench-storm; flags -storm-*)")
	so := stormFlags(fs)
	ordersN := fs.Int("steps", 2000, "orders stored and taken through their saga steps with statements per order and set-based (0: skip)")
	mysqlPID := fs.Int("mysql-pid", 0, "the MySQL server process whose CPU the orders measurement reports (0: every mariadbd and mysqld here)")
	scaleDB := fs.String("scale-db", "", "also measure a node on the scale data set in this database (make seed-scale)")
	scaleGrains := fs.Int("scale-grains", 100_000, "lot grains to activate for the memory figure of the scale rows")
	scaleOnly := fs.Bool("scale-only", false, "measure only the scale rows")
	partsFlag := fs.String("scale-parts", "browse,activation", "which scale rows after start-up: browse (listing and search), search (search alone), activation")
	scaleRounds := fs.Int("scale-rounds", 4, "rounds of activations over the hot lots")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stormOnly {
		so.server, so.cpuProfile = *server, *cpuProfile
		return storm(ctx, out, so)
	}
	if *scaleDB != "" {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		parts, err := scaleParts(*partsFlag)
		if err != nil {
			return err
		}
		sb := scaleBench{out: out, server: *server, db: *scaleDB, duration: *duration, grains: *scaleGrains,
			parts: parts, rounds: max(*scaleRounds, 1), log: quiet}
		if *scaleOnly {
			return sb.run(ctx)
		}
		defer func() {
			if err == nil {
				err = sb.run(ctx)
			}
		}()
	}
	var ns []int
	for _, s := range strings.Split(*levels, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n <= 0 {
			return fmt.Errorf("-n %q: want positive numbers", *levels)
		}
		ns = append(ns, n)
	}
	mc, err := mysql.ParseDSN(*server)
	if err != nil {
		return err
	}
	mc.DBName = fmt.Sprintf("shelflife_bench_%d", time.Now().UnixNano())
	mc.ParseTime = true
	dsn := mc.FormatDSN()
	defer dropDB(*server, mc.DBName)

	store, err := mysqlstore.Open(ctx, mysqlstore.Config{DSN: dsn, MaxOpenConns: 128})
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	w, err := store.CreateWarehouse(ctx, domain.Warehouse{Name: "Bench", Region: "Bench", Lat: 37.5, Lng: 127, RadiusKm: 5})
	if err != nil {
		return err
	}
	p, err := store.CreateProduct(ctx, domain.Product{SKU: "HOT", Name: "hot", Category: "bench", Price: 1000})
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := member.Start(member.Config{Name: "bench", Logger: quiet}, lot.Kind(lot.Deps{Store: store, Ladder: domain.DefaultLadder(), Logger: quiet}))
	if err != nil {
		return err
	}
	defer m.Shutdown()
	client := lot.NewClient(m.Cluster)

	fmt.Fprintf(out, "hot-lot deductions, %s per run, MySQL %s\n\n", *duration, mc.Addr)
	fmt.Fprintf(out, "%-22s %5s %10s %10s %10s %9s\n", "mode", "N", "ops/s", "p50 ms", "p99 ms", "oversold")
	hot := hotLot{store: store, client: client, product: p.ID, warehouse: w.ID, duration: *duration, cpuProfile: *cpuProfile}
	type trio struct{ a, b, c result }
	var trios []trio
	for _, n := range ns {
		a, err := hot.measureSQL(ctx, n)
		if err != nil {
			return err
		}
		printRow(out, a)
		b, err := hot.measureGrain(ctx, n, "b: lot grain", client, hot.cpuProfile)
		if err != nil {
			return err
		}
		printRow(out, b)
		c, err := hot.measureGrain(ctx, n, "c: grain, not gathered", client.Alone(), hot.cpuProfile+".alone")
		if err != nil {
			return err
		}
		printRow(out, c)
		trios = append(trios, trio{a, b, c})
	}
	// b is the shop's way: a node's calls to one lot made while another is
	// on its way go together in one batch. c sends each call alone.
	fmt.Fprintf(out, "\n%5s %14s %18s %14s %9s\n", "N", "throughput b/a", "p99(b)/p99(a)", "c/a", "oversold")
	for _, tr := range trios {
		fmt.Fprintf(out, "%5d %14.1f %18.3f %14.1f %9d\n", tr.a.n, tr.b.rate()/tr.a.rate(), tr.b.p99.Seconds()/tr.a.p99.Seconds(),
			tr.c.rate()/tr.a.rate(), tr.a.oversold+tr.b.oversold+tr.c.oversold)
	}
	if *ordersN > 0 {
		var pids []int
		if *mysqlPID > 0 {
			pids = []int{*mysqlPID}
		}
		if err := sagaSteps(ctx, out, dsn, *ordersN, 256, pids); err != nil {
			return err
		}
	}
	if *cross {
		if err := crossNode(ctx, out, hot, quiet); err != nil {
			return err
		}
	}
	if *browse {
		return browseRate(ctx, out, *server, *duration, quiet)
	}
	return nil
}

// crossNode starts two members of one cluster in this process (each with
// its own remoting on 127.0.0.1, so a call between them goes through gRPC
// as between nodes) and compares the p50 of a lot read from the first
// member when the lot lives on it and when it lives on the other.
func crossNode(ctx context.Context, out io.Writer, hot hotLot, quiet *slog.Logger) error {
	d := hot.duration
	agent := member.NewAgent()
	name := fmt.Sprintf("bench-cross-%d", time.Now().UnixNano())
	var ms []*member.Member
	defer func() { member.ShutdownAll(ms...) }()
	for range 2 {
		m, err := member.Start(member.Config{Name: name, Agent: agent, Logger: quiet}, lot.Kind(lot.Deps{Store: hot.store, Ladder: domain.DefaultLadder(), Logger: quiet}))
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	for deadline := time.Now().Add(15 * time.Second); ms[0].Cluster.MemberList.Members().Len() < 2 || ms[1].Cluster.MemberList.Members().Len() < 2; {
		if time.Now().After(deadline) {
			return errors.New("cross-node: the two members did not see each other")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// One lot placed on each member.
	var local, remote int64
	for i := 0; i < 200 && (local == 0 || remote == 0); i++ {
		id, err := hot.newLot(ctx)
		if err != nil {
			return err
		}
		switch ms[0].Owner(fmt.Sprint(id), "Lot") {
		case ms[0].Address():
			local = cmp.Or(local, id)
		case ms[1].Address():
			remote = cmp.Or(remote, id)
		}
	}
	if local == 0 || remote == 0 {
		return errors.New("cross-node: could not place a lot on each member")
	}
	client := lot.NewClient(ms[0].Cluster)
	const n = 8
	read := func(id int64) func() error {
		return func() error {
			_, err := client.Get(ctx, id)
			return err
		}
	}
	deduct := func(id int64) func() error {
		return func() error {
			resp, err := client.Deduct(ctx, id, nextKey("x"), 1, pb.Channel_ANY)
			if err == nil && resp.Reason != pb.Reason_OK {
				err = fmt.Errorf("deduct: %s", resp.Reason)
			}
			return err
		}
	}
	fmt.Fprintf(out, "\nlot requests from one member, %d concurrent callers, %s each\n\n", n, d/2)
	fmt.Fprintf(out, "%-22s %5s %10s %10s %10s\n", "request, lot on", "N", "ops/s", "p50 ms", "p99 ms")
	var ratios []string
	for _, op := range []struct {
		name string
		fn   func(int64) func() error
	}{{"Get", read}, {"Deduct", deduct}} {
		l, err := measure(ctx, op.name+", this member", n, d/2, op.fn(local))
		if err != nil {
			return err
		}
		r, err := measure(ctx, op.name+", other member", n, d/2, op.fn(remote))
		if err != nil {
			return err
		}
		for _, x := range []result{l, r} {
			fmt.Fprintf(out, "%-22s %5d %10.0f %10.2f %10.2f\n", x.name, x.n, x.rate(), float64(x.p50.Microseconds())/1000, float64(x.p99.Microseconds())/1000)
		}
		ratios = append(ratios, fmt.Sprintf("%s %.2f", op.name, r.p50.Seconds()/l.p50.Seconds()))
	}
	fmt.Fprintf(out, "\ncross-node p50 / local p50: %s\n", strings.Join(ratios, ", "))
	return nil
}

// hotLot measures deductions from one hot lot, each run on a fresh lot.
type hotLot struct {
	store              *mysqlstore.Store
	client             *lot.Client
	product, warehouse int64
	duration           time.Duration
	cpuProfile         string
}

func (h hotLot) newLot(ctx context.Context) (int64, error) {
	l, err := h.store.CreateLot(ctx, domain.Lot{ProductID: h.product, WarehouseID: h.warehouse,
		ExpiresAt: time.Now().Add(365 * 24 * time.Hour), Received: 100_000_000}, time.Now())
	return l.ID, err
}

// measureSQL is the baseline: one conditional UPDATE per deduction.
func (h hotLot) measureSQL(ctx context.Context, n int) (result, error) {
	id, err := h.newLot(ctx)
	if err != nil {
		return result{}, err
	}
	r, err := measure(ctx, "a: SQL per deduction", n, h.duration, func() error {
		return sqlDeduct(ctx, h.store.DB(), id, nextKey("a"))
	})
	if err != nil {
		return r, err
	}
	r.oversold, err = oversold(h.store.DB(), id)
	return r, err
}

// measureGrain deducts through the lot grain with client, profiling it
// into the file profile when -cpuprofile asked.
func (h hotLot) measureGrain(ctx context.Context, n int, name string, client *lot.Client, profile string) (result, error) {
	id, err := h.newLot(ctx)
	if err != nil {
		return result{}, err
	}
	if h.cpuProfile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return result{}, err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	r, err := measure(ctx, name, n, h.duration, func() error {
		// The same context as the SQL baseline; the client bounds each
		// attempt itself.
		resp, err := client.Deduct(ctx, id, nextKey("b"), 1, pb.Channel_ANY)
		if err != nil {
			return err
		}
		if resp.Reason != pb.Reason_OK {
			return fmt.Errorf("deduct: %s", resp.Reason)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	r.oversold, err = oversold(h.store.DB(), id)
	return r, err
}

func printRow(out io.Writer, r result) {
	fmt.Fprintf(out, "%-22s %5d %10.0f %10.2f %10.2f %9d\n", r.name, r.n, r.rate(),
		float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000, r.oversold)
}

// sqlDeduct is the baseline: one conditional UPDATE and a ledger row in one
// transaction.
func sqlDeduct(ctx context.Context, db *sql.DB, lotID int64, key string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE lots SET on_hand = on_hand - 1, deducted = deducted + 1 WHERE id = ? AND on_hand >= 1", lotID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errors.New("out of stock")
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO lot_ledger (lot_id, order_key, kind, quantity, unit_price) VALUES (?, ?, 'DEDUCTED', 1, 1000)", lotID, key); err != nil {
		return err
	}
	return tx.Commit()
}

// oversold compares the lot with its ledger: units deducted beyond what was
// received, or ledger rows that do not match the counter.
func oversold(db *sql.DB, lotID int64) (int64, error) {
	var received, onHand, deducted, ledger int64
	if err := db.QueryRow("SELECT received, on_hand, deducted FROM lots WHERE id = ?", lotID).Scan(&received, &onHand, &deducted); err != nil {
		return 0, err
	}
	if err := db.QueryRow("SELECT COALESCE(SUM(quantity), 0) FROM lot_ledger WHERE lot_id = ?", lotID).Scan(&ledger); err != nil {
		return 0, err
	}
	var bad int64
	if onHand < 0 {
		bad += -onHand
	}
	if d := ledger - (received - onHand); d != 0 {
		bad += max(d, -d)
	}
	return bad, nil
}

// measure runs op from n goroutines for d and reports throughput and
// latency percentiles.
func measure(ctx context.Context, name string, n int, d time.Duration, op func() error) (result, error) {
	var wg sync.WaitGroup
	var ops atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, n)
	deadline := time.Now().Add(d)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t := time.Now()
				if err := op(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[i] = append(lat[i], time.Since(t))
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, ok := firstErr.Load().(error); ok && err != nil {
		return result{}, fmt.Errorf("%s N=%d: %w", name, n, err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	return result{name: name, n: n, ops: ops.Load(), elapsed: elapsed, p50: pct(0.50), p99: pct(0.99)}, nil
}

// browseRate starts a node with the demo data and compares the product
// listing for an address with /healthz.
func browseRate(ctx context.Context, out io.Writer, server string, d time.Duration, log *slog.Logger) error {
	mc, _ := mysql.ParseDSN(server)
	mc.DBName = fmt.Sprintf("shelflife_bench_node_%d", time.Now().UnixNano())
	defer dropDB(server, mc.DBName)
	cfg := config.Defaults()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.MySQLDSN = mc.FormatDSN()
	cfg.Demo = true
	cfg.BcryptCost = 4
	cfg.JWTSecret = "bench-only-secret-0123456789abcdefgh"
	cfg.LogLevel = "error"
	n, err := node.Start(ctx, cfg, node.Options{Logger: log})
	if err != nil {
		return err
	}
	defer n.Shutdown(context.Background())
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(url string) func() error {
		return func() error {
			resp, err := hc.Get(url)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s: %s", url, resp.Status)
			}
			return nil
		}
	}
	const conc = 64
	fmt.Fprintf(out, "\nbrowse, %d concurrent keep-alive clients, %s each\n\n", conc, d)
	fmt.Fprintf(out, "%-34s %10s %10s %10s\n", "route", "req/s", "p50 ms", "p99 ms")
	cheap, err := measure(ctx, "GET /healthz", conc, d, get(n.URL()+"/healthz"))
	if err != nil {
		return err
	}
	products, err := measure(ctx, "GET /api/v1/products?lat&lng", conc, d, get(n.URL()+"/api/v1/products?lat=37.5667&lng=126.93"))
	if err != nil {
		return err
	}
	deals, err := measure(ctx, "GET /api/v1/deals?lat&lng", conc, d, get(n.URL()+"/api/v1/deals?lat=37.5667&lng=126.93"))
	if err != nil {
		return err
	}
	for _, r := range []result{cheap, products, deals} {
		fmt.Fprintf(out, "%-34s %10.0f %10.2f %10.2f\n", r.name, r.rate(), float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000)
	}
	fmt.Fprintf(out, "\nproducts / healthz: %.2f   deals / healthz: %.2f\n", products.rate()/cheap.rate(), deals.rate()/cheap.rate())
	return nil
}

func dropDB(server, name string) {
	db, err := sql.Open("mysql", server)
	if err != nil {
		return
	}
	defer db.Close()
	db.Exec("DROP DATABASE IF EXISTS `" + name + "`")
}

// keySeq numbers the deductions of both modes. Order ids start with their
// creation time, so keys that grow, as these do, are what a lot's ledger
// sees in production.
var keySeq atomic.Int64

// nextKey is mode and the next number in 16 hex digits. It is written out
// by hand: at sixty thousand deductions a second, fmt.Sprintf was 6 % of the
// lot-grain run's CPU, the driver's cost, not the grain's.
func nextKey(mode string) string {
	const digits = "0123456789abcdef"
	b := make([]byte, len(mode)+16)
	n := copy(b, mode)
	v := uint64(keySeq.Add(1))
	for i := len(b) - 1; i >= n; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b)
}
