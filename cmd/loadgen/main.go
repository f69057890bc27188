// Command loadgen hammers ShelfLife over its real HTTP and WebSocket API:
// flash sales on a hot lot, browsing, dashboards, shoppers' stock sockets
// over a city, or the first three at once; then it
// checks the shop's invariants and prints a report. Exit status 1 means an
// invariant failed, 2 a usage or setup error.
//
// Usage:
//
//	loadgen SCENARIO -target URL [flags]
//
// SCENARIO is flash-sale, browse, dashboard, city-sockets, mixed or
// callback-flood. The scenario creates
// warehouses, products and accounts on the target, so -target is required
// (there is no default node) and a word the flags do not take is refused
// rather than ignored.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"shelflife/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, loadtest.ErrInvariants):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
}

type targets []string

func (t *targets) String() string     { return strings.Join(*t, ",") }
func (t *targets) Set(v string) error { *t = append(*t, strings.TrimRight(v, "/")); return nil }

// Report is the --json output (the last line of stdout).
type Report struct {
	Scenario          string `json:"scenario"`
	OrdersPaid        int64  `json:"orders_paid"`
	Oversold          int64  `json:"oversold"`
	TakenWithoutOrder int64  `json:"taken_without_order"`
	// Throughput is requests per second: of the sale alone in a
	// flash-sale run, of the whole run otherwise.
	Throughput   float64                       `json:"throughput"`
	LatencyMS    map[string]map[string]float64 `json:"latency_ms"`
	Errors       map[string]int64              `json:"errors"`
	Verdict      *loadtest.Verdict             `json:"verdict,omitempty"`
	BrowseRatio  float64                       `json:"browse_ratio,omitempty"`
	CheapestRate float64                       `json:"cheapest_rate,omitempty"`
	// CheapestCPUMS is the node's CPU per /healthz request while the
	// cheapest route was measured (flash-sale), in milliseconds, and
	// CheapestCallerCPUMS the load generator's per request it made.
	CheapestCPUMS       float64 `json:"cpu_ms_per_cheapest_request,omitempty"`
	CheapestCallerCPUMS float64 `json:"caller_cpu_ms_per_cheapest_request,omitempty"`
	BrowseRate          float64 `json:"browse_rate,omitempty"`
	// The flash sale: its HTTP requests, seconds, and its rate against the
	// cheapest route measured just before it.
	SaleRequests int64   `json:"sale_requests,omitempty"`
	SaleSeconds  float64 `json:"sale_seconds,omitempty"`
	SaleRatio    float64 `json:"sale_ratio,omitempty"`
	// PaidPageThenSoldOut: shoppers given the payment page who paid there
	// and were then refused for stock (a flash sale).
	PaidPageThenSoldOut int64 `json:"paid_page_then_sold_out"`
	// SoldOutMS is how fast an order is refused for stock: p50 and p99.
	SoldOutMS map[string]float64 `json:"sold_out_ms,omitempty"`
	// CrowdFloorMS: the same crowd asking /healthz all at once just
	// before the sale, p50 and p99: the fastest any shopper could be
	// answered on this machine, the baseline for sold_out_ms.
	CrowdFloorMS map[string]float64 `json:"crowd_floor_ms,omitempty"`
	// CPUPerPaidCheckout is the CPU the node and MySQL on this machine
	// spent on the sale, per paid checkout, in milliseconds.
	CPUPerPaidCheckout *loadtest.CPUPerCheckout `json:"cpu_ms_per_paid_checkout,omitempty"`
	// CallbackFlood: checkouts alone and during a flood of forged
	// payment callbacks, and the node's memory over it.
	CallbackFlood *loadtest.FloodReport `json:"callback_flood,omitempty"`
	// Dashboard: the nodes' memory per socket and CPU per delivery.
	Dashboard *loadtest.DashboardResult `json:"dashboard,omitempty"`
}

var scenarios = []string{"flash-sale", "browse", "dashboard", "city-sockets", "mixed", "callback-flood"}

const usage = `usage: loadgen SCENARIO -target URL [flags]

SCENARIO is one of:
  flash-sale  shoppers buy one unit of a hot lot at the same moment, then the
              invariants are checked (nothing oversold, no money without goods)
  browse      products and deals near an address, closed or open loop
  dashboard   admin WebSocket subscribers receive every stock change
  city-sockets
              shoppers' stock sockets at addresses over -warehouses warehouses
              in Seoul and Gyeonggi hear the changes near them
  mixed       flash-sale, browse and dashboard at once
  callback-flood
              a regular-stock sale alone, then again while -callbacks forged
              Kakao Pay callbacks arrive; compares checkout p99 and reads the
              node's memory from -metrics

Every scenario creates a warehouse, products and accounts on the target.

flags:
`

// errUsage is a command line that names no scenario, an unknown one, or
// carries words the flags do not take.
var errUsage = errors.New("usage")

// options are a command line's scenario and flags.
type options struct {
	scenario                         string
	tgts                             targets
	shoppers, concurrency            int
	subscribers, callbacks, workers  int
	warehouses                       int
	stock                            int64
	deal, jsonOut                    bool
	duration, settle, cheapest       time.Duration
	rate, declineRate                float64
	kakao, adminEmail, adminPassword string
	metrics                          string
	mysqlPID                         int
}

// parseArgs reads SCENARIO [flags]; a command line that would silently do
// something else than it says is a usage error.
func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.scenario, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("loadgen "+o.scenario, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.Var(&o.tgts, "target", "node base URL, required (repeat for several nodes)")
	fs.IntVar(&o.shoppers, "shoppers", 1000, "flash-sale: virtual shoppers")
	fs.Int64Var(&o.stock, "stock", 100, "flash-sale: units in the hot lot")
	fs.BoolVar(&o.deal, "deal", true, "flash-sale: the hot lot is a closing-soon deal (false: a regular product)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "browse, dashboard and city-sockets: how long")
	fs.Float64Var(&o.rate, "rate", 0, "browse: open loop at this many requests/s (0: closed loop with -concurrency)")
	fs.IntVar(&o.concurrency, "concurrency", 64, "closed loop clients; also the signup parallelism")
	fs.IntVar(&o.subscribers, "subscribers", 1000, "dashboard and city-sockets: WebSocket subscribers")
	fs.IntVar(&o.warehouses, "warehouses", 50, "city-sockets: warehouses over Seoul and Gyeonggi")
	fs.Float64Var(&o.declineRate, "decline-rate", 0, "fraction of approvals the fake Kakao Pay declines")
	fs.StringVar(&o.kakao, "kakao", "", "the fake Kakao Pay's base URL (its ledger is checked; default: found from a payment's redirect URL)")
	fs.StringVar(&o.adminEmail, "admin-email", "admin@shelflife.test", "admin account")
	fs.StringVar(&o.adminPassword, "admin-password", "shelflife-demo", "admin password")
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON object as the last line of stdout")
	fs.DurationVar(&o.settle, "settle", 30*time.Second, "flash-sale: how long to wait for compensations to land before checking")
	fs.DurationVar(&o.cheapest, "cheapest", 2*time.Second, "flash-sale: measure /healthz this long before the sale, for the ratio (0: skip)")
	fs.IntVar(&o.callbacks, "callbacks", 100000, "callback-flood: forged callbacks to send")
	fs.IntVar(&o.workers, "flood-workers", 64, "callback-flood: concurrent senders of forged callbacks")
	fs.StringVar(&o.metrics, "metrics", "", "the node's Prometheus metrics URL, for its CPU and memory (default: the -target's /metrics when there is one target); dashboard: the URLs of every node with sockets, comma-separated (default: each -target's /metrics)")
	fs.IntVar(&o.mysqlPID, "mysql-pid", 0, "the MySQL server whose CPU counts per paid checkout (0: every mariadbd and mysqld on this machine)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.scenario == "":
		fs.Usage()
		return o, fmt.Errorf("%w: name a scenario first: %s", errUsage, strings.Join(scenarios, ", "))
	case !slices.Contains(scenarios, o.scenario):
		return o, fmt.Errorf("%w: unknown scenario %q: %s", errUsage, o.scenario, strings.Join(scenarios, ", "))
	case fs.NArg() > 0:
		// Go's flag parsing stops at the first word that is not a flag:
		// everything from there on would be silently ignored.
		return o, fmt.Errorf("%w: unexpected %q: flags come after the scenario, and every word must belong to a flag", errUsage, strings.Join(fs.Args(), " "))
	case len(o.tgts) == 0:
		return o, fmt.Errorf("%w: -target is required (the node to load, e.g. -target http://127.0.0.1:18080)", errUsage)
	}
	return o, nil
}

// config checks the options and turns them into the scenarios' settings.
func (o *options) config() (loadtest.Config, error) {
	if o.shoppers < 1 || o.stock < 1 || o.concurrency < 1 || o.warehouses < 1 || o.declineRate < 0 || o.declineRate > 1 {
		return loadtest.Config{}, errors.New("-shoppers, -stock, -concurrency and -warehouses must be positive; -decline-rate within 0..1")
	}
	var nodeMetrics []string
	if o.metrics == "" {
		for _, t := range o.tgts {
			nodeMetrics = append(nodeMetrics, t+"/metrics")
		}
		if len(o.tgts) == 1 {
			o.metrics = nodeMetrics[0]
		}
	} else {
		nodeMetrics = strings.Split(o.metrics, ",")
		o.metrics = nodeMetrics[0]
	}
	if o.scenario == "callback-flood" {
		// Two sales of regular stock: enough units for both, so every
		// checkout can be paid and the two compare.
		o.deal, o.stock = false, max(o.stock, 2*int64(o.shoppers))
		if o.metrics == "" {
			return loadtest.Config{}, fmt.Errorf("%w: callback-flood reads the node's memory: give -metrics with several targets", errUsage)
		}
	}
	// Connections per node: every virtual shopper of a flash sale is a
	// client of its own, as the crowd it stands for would be.
	conns := max(o.concurrency, 64) * 2
	sells := o.scenario == "flash-sale" || o.scenario == "mixed" || o.scenario == "callback-flood"
	if sells {
		conns = max(conns, o.shoppers)
	}
	cfg := loadtest.Config{
		Client: loadtest.NewClient(o.tgts, conns), AdminEmail: o.adminEmail, AdminPassword: o.adminPassword,
		KakaoURL: strings.TrimRight(o.kakao, "/"), Shoppers: o.shoppers, Stock: o.stock, Deal: o.deal, Duration: o.duration,
		Rate: o.rate, Concurrency: o.concurrency, Subscribers: o.subscribers, Warehouses: o.warehouses, DeclineRate: o.declineRate,
		FindKakao: sells || o.declineRate > 0, MetricsURL: o.metrics, NodeMetrics: nodeMetrics,
	}
	if o.mysqlPID > 0 {
		cfg.MySQLPIDs = []int{o.mysqlPID}
	}
	if o.scenario == "flash-sale" {
		cfg.Cheapest = o.cheapest
	}
	return cfg, nil
}

// outcome is what the scenarios of one run leave for the report.
type outcome struct {
	mu      sync.Mutex
	err     error
	sale    *loadtest.FlashResult
	verdict *loadtest.Verdict
	report  Report
}

func (r *outcome) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

func (o options) runs(name string) bool {
	return o.scenario == name || (o.scenario == "mixed" && name != "callback-flood" && name != "city-sockets")
}

// runScenarios runs the scenario (all three for mixed) at once.
func (o options) runScenarios(ctx context.Context, cfg loadtest.Config, site loadtest.Site, rec *loadtest.Recorder) *outcome {
	out := &outcome{report: Report{Scenario: o.scenario}}
	var wg sync.WaitGroup
	spawn := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	if o.runs("flash-sale") {
		spawn(func() {
			res, err := loadtest.FlashSale(ctx, cfg, site, rec)
			if err != nil {
				out.fail(err)
				return
			}
			out.sale = &res
			obs, err := loadtest.ObserveRun(ctx, cfg, site, res, o.settle)
			if err != nil {
				out.fail(err)
				return
			}
			v := loadtest.Check(obs)
			out.verdict = &v
		})
	}
	if o.runs("browse") {
		spawn(func() { o.browse(ctx, cfg, site, rec, &out.report) })
	}
	if o.runs("callback-flood") {
		spawn(func() {
			fr, err := loadtest.FloodDuringCheckout(ctx, cfg, site, o.callbacks, o.workers, o.metrics)
			if err != nil {
				out.fail(err)
				return
			}
			out.report.CallbackFlood = &fr
		})
	}
	for name, sockets := range map[string]func(context.Context, loadtest.Config, loadtest.Site, *loadtest.Recorder) (loadtest.DashboardResult, error){
		"dashboard": loadtest.Dashboard, "city-sockets": loadtest.CitySockets} {
		if !o.runs(name) {
			continue
		}
		spawn(func() {
			d, err := sockets(ctx, cfg, site, rec)
			if err != nil {
				out.fail(err)
				return
			}
			out.report.Dashboard = &d
		})
	}
	wg.Wait()
	return out
}

func (o options) browse(ctx context.Context, cfg loadtest.Config, site loadtest.Site, rec *loadtest.Recorder, r *Report) {
	if o.rate > 0 {
		loadtest.Browse(ctx, cfg, site, rec)
		return
	}
	half := o.duration / 2
	r.CheapestRate = loadtest.ClosedLoop(ctx, cfg, "/healthz", half, rec, "cheapest_route")
	r.BrowseRate = loadtest.ClosedLoop(ctx, cfg, fmt.Sprintf("/api/v1/products?lat=%.4f&lng=%.4f", site.Lat, site.Lng), half, rec, "browse")
	if r.CheapestRate > 0 {
		r.BrowseRatio = r.BrowseRate / r.CheapestRate
	}
}

// finish fills the report from the recorder, the sale and the verdict.
func (out *outcome) finish(sum loadtest.Summary) {
	r := &out.report
	r.Throughput = sum.Throughput
	if sale := out.sale; sale != nil {
		r.SaleRequests, r.SaleSeconds = sale.SaleRequests, sale.SaleElapsed.Seconds()
		r.PaidPageThenSoldOut = sale.PaidPageThenSoldOut
		if sale.CPUOK {
			r.CPUPerPaidCheckout = &sale.CPU
		}
		if r.Scenario == "flash-sale" {
			r.Throughput, r.CheapestRate = sale.SaleRate(), sale.CheapestRate
			r.CheapestCPUMS, r.CheapestCallerCPUMS = sale.CheapestCPU, sale.CheapestClientCPU
			if sale.CheapestRate > 0 {
				r.SaleRatio = sale.SaleRate() / sale.CheapestRate
			}
		}
	}
	r.Errors = sum.Errors
	r.LatencyMS = map[string]map[string]float64{}
	for _, s := range sum.Steps {
		r.LatencyMS[s.Step] = map[string]float64{"p50": s.P50, "p90": s.P90, "p99": s.P99, "p99_9": s.P999}
		switch s.Step {
		case "sold_out":
			r.SoldOutMS = map[string]float64{"p50": s.P50, "p99": s.P99}
		case loadtest.CrowdFloorStep:
			r.CrowdFloorMS = map[string]float64{"p50": s.P50, "p99": s.P99}
		}
	}
	if v := out.verdict; v != nil {
		r.Verdict = v
		r.OrdersPaid, r.Oversold, r.TakenWithoutOrder = v.OrdersPaid, v.Oversold, v.TakenWithoutOrder
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) error {
	o, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := o.config()
	if err != nil {
		return err
	}
	site, err := loadtest.Setup(ctx, cfg)
	if err != nil {
		return err
	}
	if cfg.KakaoURL == "" && site.KakaoURL != "" {
		cfg.KakaoURL = site.KakaoURL
		fmt.Fprintf(stderr, "loadgen: the node pays through %s (give -kakao to name it)\n", site.KakaoURL)
	}
	rec := loadtest.NewRecorder()
	stopProgress := progress(stderr, rec, tty)
	out := o.runScenarios(ctx, cfg, site, rec)
	stopProgress()
	if out.err != nil {
		return out.err
	}
	sum := rec.Summary()
	out.finish(sum)
	printSummary(stdout, o.scenario, o.tgts, sum, out.report, cfg)
	if o.jsonOut {
		b, _ := json.Marshal(out.report)
		fmt.Fprintln(stdout, string(b))
	}
	if out.verdict != nil && !out.verdict.OK() {
		return loadtest.ErrInvariants
	}
	return nil
}

// progress redraws one line on a terminal; elsewhere it stays quiet.
func progress(w io.Writer, rec *loadtest.Recorder, tty bool) func() {
	if !tty {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		var last int64
		lastAt := time.Now()
		frames := []string{"|", "/", "-", "\\"}
		i := 0
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-t.C:
				p := rec.Progress()
				r := float64(p.Requests-last) / now.Sub(lastAt).Seconds()
				last, lastAt = p.Requests, now
				bar := strings.Repeat("=", int(min(r/200, 30)))
				fmt.Fprintf(w, "\r\033[K%s %6.1fs  requests %8d  errors %6d  %8.0f req/s [%-30s]", frames[i%4], p.Elapsed.Seconds(), p.Requests, p.Errors, r, bar)
				i++
			}
		}
	}()
	return func() { close(done); <-finished }
}

func printSummary(w io.Writer, scenario string, tgts targets, sum loadtest.Summary, r Report, cfg loadtest.Config) {
	fmt.Fprintf(w, "\nscenario %s against %s", scenario, tgts.String())
	if sum.Requests == 0 {
		// callback-flood keeps its own two recorders: its figures follow.
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, ": %d requests in %.1fs, %.0f req/s\n\n", sum.Requests, sum.Elapsed.Seconds(), sum.Throughput)
		printSteps(w, sum)
	}
	if len(sum.Errors) > 0 {
		fmt.Fprintln(w, "\nerrors and refusals by code:")
		for k, v := range sum.Errors {
			fmt.Fprintf(w, "  %-50s %d\n", k, v)
		}
	}
	if r.SaleRequests > 0 {
		fmt.Fprintf(w, "\nthe sale: %d HTTP requests in %.2fs, %.0f req/s", r.SaleRequests, r.SaleSeconds, float64(r.SaleRequests)/max(r.SaleSeconds, 1e-9))
		if r.SaleRatio > 0 {
			fmt.Fprintf(w, " vs cheapest route %.0f req/s: %.2fx", r.CheapestRate, r.SaleRatio)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "shoppers sent to pay for stock that was gone: %d\n", r.PaidPageThenSoldOut)
		if r.SoldOutMS != nil {
			fmt.Fprintf(w, "sold out answered in p50 %.1f ms, p99 %.1f ms\n", r.SoldOutMS["p50"], r.SoldOutMS["p99"])
		}
		if f := r.CrowdFloorMS; f != nil {
			fmt.Fprintf(w, "the same crowd asking /healthz at once just before: p50 %.1f ms, p99 %.1f ms", f["p50"], f["p99"])
			if r.SoldOutMS != nil && f["p99"] > 0 {
				fmt.Fprintf(w, " (sold out p99 %.2fx)", r.SoldOutMS["p99"]/f["p99"])
			}
			fmt.Fprintln(w)
		}
		if c := r.CPUPerPaidCheckout; c != nil {
			fmt.Fprintf(w, "CPU per paid checkout: node %.2f ms + MySQL %.2f ms = %.2f ms (the load generator beside them: %.2f ms)\n",
				c.Node, c.MySQL, c.Total, c.LoadGenerator)
			if r.CheapestCPUMS > 0 {
				fmt.Fprintf(w, "the node's CPU per /healthz request just before: %.3f ms, a paid checkout %.0f times that (the caller's per request: %.3f ms)\n",
					r.CheapestCPUMS, c.Node/r.CheapestCPUMS, r.CheapestCallerCPUMS)
			}
		}
	}
	if f := r.CallbackFlood; f != nil {
		fmt.Fprintf(w, "\ncallback flood: %d forged callbacks in %.1fs (%.0f/s), answers %v, transport errors %d\n",
			f.Flood.Sent, f.Flood.Seconds, f.Flood.Rate, f.Flood.ByStatus, f.Flood.Errors)
		fmt.Fprintf(w, "checkout p99 alone: order %.1f ms, approve %.1f ms; during the flood: order %.1f ms, approve %.1f ms: %.2fx\n",
			f.OrderP99Alone, f.ApproveP99Alone, f.OrderP99Flood, f.ApproveP99Flood, f.CheckoutP99Ratio)
		fmt.Fprintf(w, "node memory: %.1f MB before, %.1f MB at the peak: +%.1f MB; paid %d alone, %d during the flood\n",
			f.RSSBeforeMB, f.RSSPeakMB, f.RSSGrowthMB, f.PaidAlone, f.PaidFlood)
	}
	if d := r.Dashboard; d != nil {
		fmt.Fprintf(w, "\nsockets %d, messages delivered %d", d.Sockets, d.Deliveries)
		if d.Warehouses > 0 {
			fmt.Fprintf(w, " of %d expected (%d warehouses, %.1f serving a socket's address on average)", d.Expected, d.Warehouses, d.ServedBy)
		}
		fmt.Fprintln(w)
		if d.RSSOpenMB > 0 {
			fmt.Fprintf(w, "node memory: %.1f MB before the sockets, %.1f MB with them open: %.1f KB per socket\n", d.RSSBeforeMB, d.RSSOpenMB, d.RSSPerSocketKB)
		}
		if d.CPUPerDeliveryMS > 0 {
			fmt.Fprintf(w, "node CPU over the changes: %.2f s, %.4f ms per delivered message\n", d.NodeCPUSeconds, d.CPUPerDeliveryMS)
		}
		if d.LoadgenCPUPerDeliveryMS > 0 {
			fmt.Fprintf(w, "load generator CPU: %.4f ms per delivered message\n", d.LoadgenCPUPerDeliveryMS)
		}
	}
	if r.BrowseRatio > 0 {
		fmt.Fprintf(w, "\nbrowse %.0f req/s vs cheapest route %.0f req/s: %.2fx\n", r.BrowseRate, r.CheapestRate, r.BrowseRatio)
	}
	if r.Verdict != nil {
		v := r.Verdict
		fmt.Fprintf(w, "\ninvariants (stock %d): paid orders %d, units sold %d, oversold %d, not conserved %d, taken without order %d, paid without money %d, double charged %d\n",
			cfg.Stock, v.OrdersPaid, v.UnitsSold, v.Oversold, v.NotConserved, v.TakenWithoutOrder, v.PaidWithoutMoney, v.DoubleCharged)
		if v.OK() {
			fmt.Fprintln(w, "all invariants hold")
		} else {
			fmt.Fprintln(w, "INVARIANTS FAILED:")
			for _, p := range v.Problems {
				fmt.Fprintln(w, "  "+p)
			}
		}
	}
}

func printSteps(w io.Writer, sum loadtest.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tcount\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	for _, s := range sum.Steps {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", s.Step, s.Count, s.P50, s.P90, s.P99, s.P999, s.Max)
	}
	tw.Flush()
}
