package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"shelflife/actors/lot"
	"shelflife/config"
	"shelflife/node"
	"shelflife/stockview"
)

// scaleBench measures a node on the scale data set (make seed-scale):
// start-up to ready, browsing and search for random addresses, the
// activation of hot lots with long ledgers, and the memory of many active
// lot grains. The data set's database is used as it is (activations move
// lot versions on; nothing else is written by the measurements).
type scaleBench struct {
	out      io.Writer
	server   string
	db       string
	duration time.Duration
	grains   int
	parts    map[string]bool
	rounds   int
	log      *slog.Logger
}

// scaleParts reads -scale-parts: a comma-separated list of browse, search
// and activation.
func scaleParts(s string) (map[string]bool, error) {
	parts := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		switch p {
		case "":
		case "browse", "search", "activation":
			parts[p] = true
		default:
			return nil, fmt.Errorf("-scale-parts: %q is not one of browse, search, activation", p)
		}
	}
	return parts, nil
}

func (b scaleBench) run(ctx context.Context) error {
	mc, err := mysql.ParseDSN(b.server)
	if err != nil {
		return err
	}
	mc.DBName = b.db
	mc.ParseTime = true
	db, err := sql.Open("mysql", mc.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	var lots, ledger int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM lots").Scan(&lots); err != nil || lots == 0 {
		fmt.Fprintf(b.out, "\nscale: no data set in database %s (%v); load it with `make seed-scale SCALE_DB=%s`\n", b.db, err, b.db)
		return nil
	}
	hot, err := ids(ctx, db, "SELECT id FROM lots WHERE deducted >= 100000 AND state <> 'EXPIRED' ORDER BY id LIMIT 50")
	if err != nil {
		return err
	}
	if len(hot) > 0 {
		db.QueryRowContext(ctx, "SELECT COUNT(*) FROM lot_ledger WHERE lot_id = ?", hot[0]).Scan(&ledger)
	}
	fmt.Fprintf(b.out, "\nscale: database %s, %d lots, %d hot lots (%d ledger rows in the first); load average %s\n",
		b.db, lots, len(hot), ledger, loadAvg())

	// Start-up: a node on the data set, until /readyz answers 200.
	cfg := config.Defaults()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.MySQLDSN = mc.FormatDSN()
	cfg.BcryptCost = 4
	cfg.JWTSecret = "bench-only-secret-0123456789abcdefgh"
	cfg.LogLevel = "error"
	cfg.RedisPrefix = "scale:bench:"
	cfg.Cluster.Name = fmt.Sprintf("bench-scale-%d", time.Now().UnixNano())
	cfg.KakaoFakeAddr = "127.0.0.1:0"
	cfg.DebugAddr = os.Getenv("SCALE_DEBUG_ADDR")
	rssBefore := rssMB()
	start := time.Now()
	n, err := node.Start(ctx, cfg, node.Options{Logger: b.log})
	if err != nil {
		return err
	}
	defer n.Shutdown(context.Background())
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 30 * time.Second}
	for {
		resp, err := hc.Get(n.URL() + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 2*time.Minute {
			return fmt.Errorf("scale: node not ready after 2 min")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ready := time.Since(start)
	var steps []string
	for _, s := range n.Started() {
		if s.Took >= 10*time.Millisecond {
			steps = append(steps, fmt.Sprintf("%s %.2f s", s.Name, s.Took.Seconds()))
		}
	}
	runtime.GC()
	t := time.Now()
	liveLots := 0
	if err := n.Store().LiveLots(ctx, func(stockview.LotRow) { liveLots++ }); err != nil {
		return err
	}
	query := time.Since(t)
	fmt.Fprintf(b.out, "\n%-44s %8.2f s   (target <= 10 s; %s)\n", "start-up: node ready (/readyz 200)", ready.Seconds(), strings.Join(steps, ", "))
	fmt.Fprintf(b.out, "%-44s %8.2f s   (%d lots, one query)\n", "  the read model's lots query alone", query.Seconds(), liveLots)
	fmt.Fprintf(b.out, "%-44s %8.0f     (%.0f before the node)\n", "rss_mb after start", rssMB(), rssBefore)

	if b.parts["browse"] || b.parts["search"] {
		if err := b.browse(ctx, n, hc); err != nil {
			return err
		}
	}
	if b.parts["activation"] {
		if err := b.activation(ctx, n, db, hot, ledger); err != nil {
			return err
		}
	}
	return b.manyGrains(ctx, n, db, hot)
}

// browse compares the product listing for random addresses in the data
// set's area with /healthz, and measures search.
func (b scaleBench) browse(ctx context.Context, n *node.Node, hc *http.Client) error {
	get := func(path func() string) func() error {
		return func() error {
			resp, err := hc.Get(n.URL() + path())
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s: %s", path(), resp.Status)
			}
			return nil
		}
	}
	var seq atomic.Uint64
	addr := func() string {
		r := rand.New(rand.NewPCG(seq.Add(1), 7))
		return fmt.Sprintf("lat=%.5f&lng=%.5f", 37.2+r.Float64()*0.6, 126.75+r.Float64()*0.6)
	}
	terms := []string{"milk", "우유", "tofu", "두부", "haneul", "하늘", "no.12", "strawberries", "삼겹살", "bagel", "1kg", "scale-0012", "gimbap", "xyz-nothing"}
	search := func() string {
		i := seq.Add(1)
		return "/api/v1/products?" + addr() + "&q=" + url.QueryEscape(terms[i%uint64(len(terms))])
	}
	const conc = 64
	fmt.Fprintf(b.out, "\nbrowse at scale, %d concurrent keep-alive clients, %s each, a random address in Seoul and Gyeonggi per request\n\n", conc, b.duration)
	fmt.Fprintf(b.out, "%-44s %10s %10s %10s\n", "route", "req/s", "p50 ms", "p99 ms")
	cheap, err := measure(ctx, "GET /healthz", conc, b.duration, get(func() string { return "/healthz" }))
	if err != nil {
		return err
	}
	var products result
	if b.parts["browse"] {
		products, err = measure(ctx, "GET /api/v1/products?lat&lng (random)", conc, b.duration, get(func() string { return "/api/v1/products?" + addr() }))
		if err != nil {
			return err
		}
	}
	searched, err := measure(ctx, "GET /api/v1/products?lat&lng&q= (random)", conc, b.duration, get(search))
	if err != nil {
		return err
	}
	searched8, err := measure(ctx, "  the same, 8 clients", 8, b.duration, get(search))
	if err != nil {
		return err
	}
	for _, r := range []result{cheap, products, searched, searched8} {
		if r.name != "" {
			fmt.Fprintf(b.out, "%-44s %10.0f %10.2f %10.2f\n", r.name, r.rate(), ms(r.p50), ms(r.p99))
		}
	}
	fmt.Fprintln(b.out)
	if b.parts["browse"] {
		fmt.Fprintf(b.out, "products / healthz: %.2f (target >= 0.5)   ", products.rate()/cheap.rate())
	}
	fmt.Fprintf(b.out, "search p99: %.2f ms at 64 clients, %.2f ms at 8 (target <= 20); load average %s\n",
		ms(searched.p99), ms(searched8.p99), loadAvg())
	return nil
}

// activation measures how long a hot lot takes to answer from a fresh
// activation (the grain's load included), several rounds over the hot
// lots, against reading the whole ledger as activation did before.
func (b scaleBench) activation(ctx context.Context, n *node.Node, db *sql.DB, hot []int64, ledgerRows int64) error {
	if len(hot) == 0 {
		fmt.Fprintln(b.out, "\nactivation: no hot lots in the data set")
		return nil
	}
	client := n.Lots()
	m := n.Member()
	var act, active, claim, window, whole []time.Duration
	loadedRows := 0
	rounds := b.rounds
	for round := range rounds {
		for _, id := range hot {
			t := time.Now()
			info, err := client.Get(ctx, id)
			if err != nil {
				return fmt.Errorf("activate lot %d: %w", id, err)
			}
			if info.GetLotId() != id {
				return fmt.Errorf("activate lot %d: %v", id, info)
			}
			act = append(act, time.Since(t))
			t = time.Now()
			if _, err := client.Get(ctx, id); err != nil {
				return err
			}
			active = append(active, time.Since(t))
			if pid := m.Cluster.Get(strconv.FormatInt(id, 10), "Lot"); pid != nil {
				m.System.Root.StopFuture(pid).Wait()
			}
			if round > 0 {
				continue
			}
			t = time.Now()
			_, loaded, err := n.Store().ClaimLot(ctx, id, lot.DefaultLedgerWindow)
			if err != nil {
				return err
			}
			claim = append(claim, time.Since(t))
			loadedRows += len(loaded)
			t = time.Now()
			if _, err := countRows(ctx, db, `SELECT order_key, kind, quantity, unit_price, discount_percent, hold_until FROM lot_ledger
				WHERE lot_id = ? AND (kind = 'HELD' OR (kind IN ('DEDUCTED', 'RESTORED', 'TOMBSTONE', 'RELEASED', 'LAPSED') AND updated_at >= ?))`,
				id, time.Now().Add(-lot.DefaultLedgerWindow).UTC()); err != nil {
				return err
			}
			window = append(window, time.Since(t))
			t = time.Now()
			if _, err := countRows(ctx, db, "SELECT order_key, kind, quantity, unit_price, discount_percent, hold_until FROM lot_ledger WHERE lot_id = ?", id); err != nil {
				return err
			}
			whole = append(whole, time.Since(t))
		}
	}
	serverWindow, serverWhole, err := serverTimes(ctx, db, hot)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.out, "\nactivation of a lot with a long ledger, %d lots x %d rounds, one at a time; load average %s\n\n", len(hot), rounds, loadAvg())
	fmt.Fprintf(b.out, "%-44s %10s %10s %10s\n", "", "n", "p50 ms", "p99 ms")
	for _, r := range []struct {
		name string
		ds   []time.Duration
		note string
	}{
		{"activation to first answer (Get)", act, "(target p99 <= 20 ms)"},
		{"  Get of the same lot, active", active, "(the request's own path)"},
		{"  ClaimLot alone (lot row + ledger, one tx)", claim, fmt.Sprintf("(%.0f ledger rows a lot, of %d)", float64(loadedRows)/float64(max(len(claim), 1)), ledgerRows)},
		{"  its ledger query alone (holds, last hour)", window, ""},
		{"reading the whole ledger", whole, "(what activation read before)"},
		{"MariaDB's own time: the ledger query", serverWindow, "(SHOW PROFILES: no client, no scheduling)"},
		{"MariaDB's own time: the whole ledger", serverWhole, ""},
	} {
		p := percentiles(r.ds)
		fmt.Fprintf(b.out, "%-44s %10d %10.2f %10.2f   %s\n", r.name, len(r.ds), ms(p[0]), ms(p[1]), r.note)
	}
	return nil
}

// manyGrains activates lot grains until b.grains are active and prints
// the process's RSS.
func (b scaleBench) manyGrains(ctx context.Context, n *node.Node, db *sql.DB, hot []int64) error {
	if b.grains <= 0 {
		return nil
	}
	lots, err := ids(ctx, db, "SELECT id FROM lots WHERE state <> 'EXPIRED' AND deducted = 0 ORDER BY id LIMIT "+strconv.Itoa(b.grains))
	if err != nil {
		return err
	}
	runtime.GC()
	before := rssMB()
	client := n.Lots()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(lots) || ctx.Err() != nil {
					return
				}
				if _, err := client.Get(ctx, lots[i]); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return fmt.Errorf("activate: %w", err)
	}
	took := time.Since(start)
	runtime.GC()
	after := rssMB()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(b.out, "\n%d lot grains activated in %.1f s (%.0f/s), with the node's read model of the data set\n\n", len(lots), took.Seconds(), float64(len(lots))/took.Seconds())
	fmt.Fprintf(b.out, "%-44s %8.0f     (target <= 1024)\n", "rss_mb with them active", after)
	fmt.Fprintf(b.out, "%-44s %8.0f     (heap in use %.0f MB, goroutines %d)\n", "rss_mb before them", before, float64(ms.HeapInuse)/(1<<20), runtime.NumGoroutine())
	fmt.Fprintf(b.out, "%-44s %8.1f\n", "KB per active grain", (after-before)*1024/float64(len(lots)))
	return nil
}

// serverTimes runs activation's ledger query and the whole-ledger read for
// each lot on one connection with profiling on, and returns MariaDB's own
// durations of each: on a busy machine the client's figures are mostly
// waiting to be scheduled.
func serverTimes(ctx context.Context, db *sql.DB, lots []int64) (window, whole []time.Duration, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET profiling = 1, profiling_history_size = 100"); err != nil {
		return nil, nil, err
	}
	since := time.Now().Add(-lot.DefaultLedgerWindow).UTC().Format("2006-01-02 15:04:05.000000")
	seen := map[int]bool{}
	for i := 0; i < len(lots); i += 25 {
		part := lots[i:min(i+25, len(lots))]
		for _, id := range part {
			for _, q := range []string{
				fmt.Sprintf(`SELECT order_key, kind, quantity, unit_price, discount_percent, hold_until FROM lot_ledger WHERE lot_id = %d AND (kind = 'HELD' OR (kind IN ('DEDUCTED', 'RESTORED', 'TOMBSTONE', 'RELEASED', 'LAPSED') AND updated_at >= '%s'))`, id, since),
				fmt.Sprintf("SELECT order_key, kind, quantity, unit_price, discount_percent, hold_until FROM lot_ledger WHERE lot_id = %d", id),
			} {
				rows, err := conn.QueryContext(ctx, q)
				if err != nil {
					return nil, nil, err
				}
				for rows.Next() {
				}
				rows.Close()
			}
		}
		rows, err := conn.QueryContext(ctx, "SHOW PROFILES")
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var n int
			var secs float64
			var q string
			if err := rows.Scan(&n, &secs, &q); err != nil {
				rows.Close()
				return nil, nil, err
			}
			if seen[n] {
				continue // the session's history keeps earlier batches
			}
			seen[n] = true
			d := time.Duration(secs * float64(time.Second))
			switch {
			case strings.Contains(q, "updated_at"):
				window = append(window, d)
			case strings.HasPrefix(q, "SELECT order_key"):
				whole = append(whole, d)
			}
		}
		rows.Close()
	}
	return window, whole, nil
}

func ids(ctx context.Context, db *sql.DB, q string) ([]int64, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func countRows(ctx context.Context, db *sql.DB, q string, args ...any) (int, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	dest := make([]any, len(cols))
	for i := range dest {
		dest[i] = new(sql.RawBytes)
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// percentiles are the p50 and p99 of ds.
func percentiles(ds []time.Duration) [2]time.Duration {
	if len(ds) == 0 {
		return [2]time.Duration{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return [2]time.Duration{at(0.5), at(0.99)}
}

// rssMB is this process's resident set size (Linux), in MB.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
