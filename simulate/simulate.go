package simulate

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot"
	"shelflife/actors/warehouse"
	"shelflife/clock"
	"shelflife/cluster/member"
	"shelflife/demo"
	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
)

// Result is what one policy achieved, read back from MySQL at the end: the
// ledger's deductions and the waste rows the lots wrote.
type Result struct {
	UnitsSold     int64   `json:"units_sold"`
	Revenue       int64   `json:"revenue"`
	UnitsWasted   int64   `json:"units_wasted"`
	ValueWasted   int64   `json:"value_wasted"`
	Received      int64   `json:"received"`
	WasteShare    float64 `json:"waste_share"`
	DealUnits     int64   `json:"deal_units"`
	DealRevenue   int64   `json:"deal_revenue"`
	Shoppers      int64   `json:"shoppers"`
	Refused       int64   `json:"refused"`
	StockAtTheEnd int64   `json:"stock_at_end"`
}

// Config is one run: the model, the policy and where MySQL is.
type Config struct {
	Params Params
	Mode   domain.MarkdownMode
	// MySQL is the server (a DSN without a database); Database is the
	// database the run creates, fills and, unless Keep, drops at the end.
	MySQL    string
	Database string
	Keep     bool
	// Concurrency bounds the grain calls in flight (0: 16).
	Concurrency int
	Logger      *slog.Logger
}

// pair is a product in a warehouse: its demand and its lots.
type pair struct {
	product   domain.Product
	warehouse int64
	rate      float64 // shoppers an hour before the daily curve
	share     float64
	supply    int64 // units a day
	lots      []*simLot
}

type simLot struct {
	id        int64
	expiresAt time.Time
	info      *pb.LotInfo
	gone      bool // expired and seen so
}

// offer is what a shopper may buy: a closing-soon lot, or the warehouse's
// regular stock (lot nil).
type offer struct {
	lot       *simLot
	price     domain.KRW
	expiresAt time.Time
	left      int64
	take      int64
}

// Run simulates Params.Days with the policy cfg.Mode and returns its
// result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	p := cfg.Params
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	mc, err := mysql.ParseDSN(cfg.MySQL)
	if err != nil {
		return Result{}, err
	}
	// A database left by an earlier run is dropped; Open creates it anew.
	if err := mysqlstore.DropDatabase(ctx, cfg.MySQL, cfg.Database); err != nil {
		return Result{}, err
	}
	if !cfg.Keep {
		defer mysqlstore.DropDatabase(context.WithoutCancel(ctx), cfg.MySQL, cfg.Database)
	}
	mc.DBName, mc.ParseTime = cfg.Database, true
	store, err := mysqlstore.Open(ctx, mysqlstore.Config{DSN: mc.FormatDSN(), MaxOpenConns: 32})
	if err != nil {
		return Result{}, err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return Result{}, err
	}
	pairs, err := seed(ctx, store, p)
	if err != nil {
		return Result{}, err
	}

	clk := clock.NewFake(p.Start)
	quiet := cfg.Logger
	m, err := member.Start(member.Config{Name: "simulate-" + cfg.Database, Logger: quiet},
		lot.Kind(lot.Deps{Store: store, Clock: clk, Ladder: domain.DefaultLadder(),
			Markdown: lot.Markdown{Mode: cfg.Mode}, Rates: store, Siblings: store, Logger: quiet}),
		warehouse.Kind(warehouse.Deps{Store: store, Clock: clk, Logger: quiet}))
	if err != nil {
		return Result{}, err
	}
	defer m.Shutdown()
	s := &sim{p: p, clk: clk, store: store, lots: lot.NewClient(m.Cluster), whs: warehouse.NewClient(m.Cluster),
		pairs: pairs, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^0x5eed)), limit: cfg.Concurrency}
	s.curve = normalised(p.DailyCurve)
	if err := s.run(ctx); err != nil {
		return Result{}, err
	}
	r, err := tally(ctx, store.DB())
	r.Shoppers, r.Refused = s.shoppers, s.refused
	return r, err
}

type sim struct {
	p     Params
	clk   *clock.Fake
	store *mysqlstore.Store
	lots  *lot.Client
	whs   *warehouse.Client
	pairs []*pair
	rng   *rand.Rand
	curve [24]float64
	limit int
	seq   int64

	shoppers, refused int64
}

func normalised(c [24]float64) [24]float64 {
	var sum float64
	for _, v := range c {
		sum += v
	}
	if sum <= 0 {
		for i := range c {
			c[i] = 1
		}
		return c
	}
	for i := range c {
		c[i] *= 24 / sum
	}
	return c
}

// seed creates the demo warehouses and products and draws each pair's
// demand and supply.
func seed(ctx context.Context, store *mysqlstore.Store, p Params) ([]*pair, error) {
	rng := rand.New(rand.NewPCG(p.Seed, 0xca7a10))
	whs := demo.Warehouses
	if p.Warehouses > 0 && p.Warehouses < len(whs) {
		whs = whs[:p.Warehouses]
	}
	prods := demo.Products
	if p.Products > 0 && p.Products < len(prods) {
		prods = prods[:p.Products]
	}
	var wids []int64
	for _, w := range whs {
		c, err := store.CreateWarehouse(ctx, w)
		if err != nil {
			return nil, err
		}
		wids = append(wids, c.ID)
	}
	// The over-supplied products: a fixed share, drawn by the seed.
	order := rng.Perm(len(prods))
	over := map[int]bool{}
	for _, i := range order[:int(math.Round(p.OverSupplied*float64(len(prods))))] {
		over[i] = true
	}
	var out []*pair
	for i, pr := range prods {
		c, err := store.CreateProduct(ctx, pr)
		if err != nil {
			return nil, err
		}
		share := p.BaseShare[0] + rng.Float64()*(p.BaseShare[1]-p.BaseShare[0])
		for _, w := range wids {
			rate := p.ShoppersPerHour[0] + rng.Float64()*(p.ShoppersPerHour[1]-p.ShoppersPerHour[0])
			supply := max(int64(math.Round(rate*24*share)), 1)
			if over[i] {
				supply = max(int64(math.Round(float64(supply)*p.OverSupply)), supply+1)
			}
			out = append(out, &pair{product: c, warehouse: w, rate: rate, share: share, supply: supply})
		}
	}
	return out, nil
}

func (s *sim) shelfLife(category string) time.Duration {
	if d, ok := s.p.ShelfLife[category]; ok {
		return d
	}
	return s.p.DefaultShelfLife
}

func (s *sim) run(ctx context.Context) error {
	end := s.p.Start.Add(time.Duration(s.p.Days) * 24 * time.Hour)
	for now := s.p.Start; now.Before(end); now = s.clk.Now() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if now.Hour() == s.p.RestockHour && now.Minute() < int(s.p.Step/time.Minute) {
			if err := s.restock(ctx, now); err != nil {
				return err
			}
		}
		if err := s.settle(ctx, now); err != nil {
			return err
		}
		if err := s.shop(ctx, now); err != nil {
			return err
		}
		s.clk.Advance(s.p.Step)
	}
	// The last step's timers run, so lots that expired at the end are
	// written off by the end.
	return s.settle(ctx, s.clk.Now())
}

// restock receives one lot of every pair.
func (s *sim) restock(ctx context.Context, now time.Time) error {
	for _, pr := range s.pairs {
		exp := now.Add(s.shelfLife(pr.product.Category))
		l, err := s.store.CreateLot(ctx, domain.Lot{ProductID: pr.product.ID, WarehouseID: pr.warehouse,
			ExpiresAt: exp, Received: pr.supply}, now)
		if err != nil {
			return err
		}
		pr.lots = append(pr.lots, &simLot{id: l.ID, expiresAt: exp})
	}
	return nil
}

// settle reads every live lot from its grain, again until each shows the
// state its expiry gives it at now: the timers that Advance fired have run
// and their commits are durable, so what the shoppers see (and what the
// warehouse reads of its regular lots) does not depend on how fast the
// machine is. A lot that answers EXPIRED is not read again.
func (s *sim) settle(ctx context.Context, now time.Time) error {
	var live []*simLot
	for _, pr := range s.pairs {
		for _, l := range pr.lots {
			if !l.gone {
				live = append(live, l)
			}
		}
	}
	for attempt := 0; len(live) > 0; attempt++ {
		if attempt > 2000 {
			return fmt.Errorf("lots did not settle at %s", now)
		}
		if attempt > 0 {
			time.Sleep(time.Millisecond)
		}
		var mu sync.Mutex
		var pending []*simLot
		err := s.each(ctx, len(live), func(i int) error {
			l := live[i]
			info, err := s.lots.Get(ctx, l.id)
			if err != nil {
				return err
			}
			if info.GetReason() != pb.Reason_OK {
				return fmt.Errorf("lot %d: %s", l.id, info.GetReason())
			}
			want := domain.StateAt(l.expiresAt, now)
			mu.Lock()
			defer mu.Unlock()
			l.info = info
			switch {
			case domain.LotState(info.GetState()) != want:
				pending = append(pending, l)
			case want == domain.Expired:
				l.gone = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		sort.Slice(pending, func(i, j int) bool { return pending[i].id < pending[j].id })
		live = pending
	}
	return nil
}

// shop draws this step's shoppers of every pair, lets each pick the
// cheapest offer (the freshest at equal price), and buys what they chose
// through the grains: regular stock from the warehouse, deals from their
// lots.
func (s *sim) shop(ctx context.Context, now time.Time) error {
	hours := s.p.Step.Hours()
	curve := s.curve[now.Hour()]
	type buy struct {
		pr     *pair
		offers []*offer
	}
	var buys []buy
	for _, pr := range s.pairs {
		n := poisson(s.rng, pr.rate*curve*hours)
		draws := make([]float64, n)
		for i := range draws {
			draws[i] = s.rng.Float64()
		}
		s.shoppers += int64(n)
		if n == 0 {
			continue
		}
		offers := s.offers(pr, now)
		for _, u := range draws {
			o := firstWithStock(offers)
			if o == nil {
				break
			}
			ratio := float64(o.price) / float64(pr.product.Price)
			chance := 1.0
			if ratio > 0 {
				chance = math.Min(1, math.Pow(ratio, -s.p.Elasticity)*pr.share)
			}
			if u < chance {
				o.left--
				o.take++
			}
		}
		buys = append(buys, buy{pr: pr, offers: offers})
	}
	type call struct {
		pr *pair
		o  *offer
	}
	var calls []call
	for _, b := range buys {
		for _, o := range b.offers {
			if o.take > 0 {
				calls = append(calls, call{b.pr, o})
			}
		}
	}
	keys := make([]string, len(calls))
	for i := range calls {
		s.seq++
		keys[i] = fmt.Sprintf("o%x%010x-1", now.UnixMilli(), s.seq)
	}
	var mu sync.Mutex
	return s.each(ctx, len(calls), func(i int) error {
		c := calls[i]
		ok, err := s.buy(ctx, c.pr, c.o, keys[i])
		if err != nil {
			return err
		}
		if !ok {
			mu.Lock()
			s.refused += c.o.take
			mu.Unlock()
		}
		return nil
	})
}

func (s *sim) buy(ctx context.Context, pr *pair, o *offer, key string) (bool, error) {
	if o.lot == nil {
		r, err := s.whs.Allocate(ctx, pr.warehouse, key, pr.product.ID, o.take)
		if err != nil {
			return false, err
		}
		return r.GetReason() == pb.Reason_OK, nil
	}
	r, err := s.lots.Deduct(ctx, o.lot.id, key, o.take, pb.Channel_DEAL)
	if err != nil {
		return false, err
	}
	return r.GetReason() == pb.Reason_OK, nil
}

// offers are a pair's offers at now, cheapest first, the freshest first at
// equal price: each closing-soon lot with stock at its markdown, and the
// regular lots together at the list price.
func (s *sim) offers(pr *pair, now time.Time) []*offer {
	var out []*offer
	regular := &offer{price: pr.product.Price}
	for _, l := range pr.lots {
		if l.gone || l.info == nil || l.info.GetOnHand() <= 0 {
			continue
		}
		switch domain.StateAt(l.expiresAt, now) {
		case domain.Regular:
			if l.expiresAt.Sub(now) >= pr.product.MinShelfLife {
				regular.left += l.info.GetOnHand()
				if l.expiresAt.After(regular.expiresAt) {
					regular.expiresAt = l.expiresAt
				}
			}
		case domain.ClosingSoon:
			out = append(out, &offer{lot: l, expiresAt: l.expiresAt, left: l.info.GetOnHand(),
				price: domain.Discounted(pr.product.Price, int(l.info.GetDiscountPercent()))})
		}
	}
	if regular.left > 0 {
		out = append(out, regular)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].price != out[j].price {
			return out[i].price < out[j].price
		}
		return out[i].expiresAt.After(out[j].expiresAt)
	})
	return out
}

func firstWithStock(offers []*offer) *offer {
	for _, o := range offers {
		if o.left > 0 {
			return o
		}
	}
	return nil
}

// poisson draws from a Poisson distribution with mean lambda (Knuth's
// method: the means here are a few units).
func poisson(rng *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// each runs fn(0..n-1) on at most s.limit goroutines and returns the first
// error.
func (s *sim) each(ctx context.Context, n int, fn func(int) error) error {
	if n == 0 {
		return nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for w := 0; w < min(s.limit, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// tally reads the run's figures from MySQL.
func tally(ctx context.Context, db *sql.DB) (Result, error) {
	var r Result
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(quantity), 0), COALESCE(SUM(quantity * unit_price), 0),
			COALESCE(SUM(IF(discount_percent > 0, quantity, 0)), 0), COALESCE(SUM(IF(discount_percent > 0, quantity * unit_price, 0)), 0)
		FROM lot_ledger WHERE kind = 'DEDUCTED'`).Scan(&r.UnitsSold, &r.Revenue, &r.DealUnits, &r.DealRevenue); err != nil {
		return r, err
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(quantity), 0), COALESCE(SUM(value), 0) FROM waste`).
		Scan(&r.UnitsWasted, &r.ValueWasted); err != nil {
		return r, err
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(received), 0), COALESCE(SUM(on_hand + held), 0) FROM lots`).
		Scan(&r.Received, &r.StockAtTheEnd); err != nil {
		return r, err
	}
	if r.Received > 0 {
		r.WasteShare = math.Round(float64(r.UnitsWasted)/float64(r.Received)*10000) / 10000
	}
	return r, nil
}

// WriteTable prints both policies side by side, with adaptive's change
// against the ladder.
func WriteTable(w io.Writer, p Params, ladder, adaptive Result) {
	fmt.Fprintf(w, "%d simulated days, seed %d, %s steps\n\n", p.Days, p.Seed, p.Step)
	fmt.Fprintf(w, "%-22s %14s %14s %9s\n", "", "ladder", "adaptive", "change")
	row := func(name string, a, b int64) {
		change := "-"
		if a != 0 {
			change = fmt.Sprintf("%+.1f%%", (float64(b)-float64(a))/float64(a)*100)
		}
		fmt.Fprintf(w, "%-22s %14d %14d %9s\n", name, a, b, change)
	}
	row("shoppers", ladder.Shoppers, adaptive.Shoppers)
	row("units received", ladder.Received, adaptive.Received)
	row("units sold", ladder.UnitsSold, adaptive.UnitsSold)
	row("  of which deals", ladder.DealUnits, adaptive.DealUnits)
	row("revenue (KRW)", ladder.Revenue, adaptive.Revenue)
	row("  of which deals", ladder.DealRevenue, adaptive.DealRevenue)
	row("units wasted", ladder.UnitsWasted, adaptive.UnitsWasted)
	row("value wasted (KRW)", ladder.ValueWasted, adaptive.ValueWasted)
	row("stock at the end", ladder.StockAtTheEnd, adaptive.StockAtTheEnd)
	fmt.Fprintf(w, "%-22s %13.2f%% %13.2f%%\n\n", "waste / received", ladder.WasteShare*100, adaptive.WasteShare*100)
}
