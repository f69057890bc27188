// Package scaledata generates a city-sized data set into a migrated
// ShelfLife database: warehouses over Seoul and Gyeonggi, a large catalog,
// lots with a mix of regular, closing-soon and expired stock, and hot lots
// with long ledgers. It loads with LOAD DATA LOCAL INFILE streamed from
// memory (no files), foreign-key and unique checks off for the load, so a
// million lots and ten million ledger rows take minutes, not hours.
//
// The default Options are the scale data set (`make seed-scale`); callers
// that need another shape (say, many lots expiring in the same minute) set
// the counts and an Expiry function.
package scaledata

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"shelflife/domain"
)

// Options shape the data set. Zero counts take the defaults below; set a
// count to a negative number for none.
type Options struct {
	Warehouses int // default 50: half over Seoul, half over Gyeonggi
	Products   int // default 20,000
	Lots       int // default 1,000,000, hot lots included
	// HotLots are the first lots, each with LedgerRows deductions in its
	// ledger. Default 50 lots of 200,000 rows.
	HotLots    int
	LedgerRows int
	// LedgerSpan is how far back the hot lots' deductions reach; they are
	// spread evenly up to Now. Default 30 days.
	LedgerSpan time.Duration
	// Now is the time states are computed at; default time.Now().
	Now time.Time
	// Expiry, when set, gives the expiry of lot i (0-based, hot lots
	// excluded: i counts the other lots). Its state follows from Now.
	// Unset, expiries follow the mix: ExpiredShare already expired (written
	// off, with a waste row), ClosingSoonShare within 48 hours, the rest
	// regular, 3 to 30 days out.
	Expiry           func(i int) time.Time
	ClosingSoonShare float64 // default 0.15
	ExpiredShare     float64 // default 0.05
	// Seed makes the set repeatable; the same options give the same rows.
	Seed uint64
	// Progress, when set, receives a line per loaded part.
	Progress func(string)
}

// Defaults are the scale data set's options.
func Defaults() Options {
	return Options{Warehouses: 50, Products: 20_000, Lots: 1_000_000, HotLots: 50, LedgerRows: 200_000,
		LedgerSpan: 30 * 24 * time.Hour, ClosingSoonShare: 0.15, ExpiredShare: 0.05, Seed: 1}
}

func (o *Options) fill() {
	d := Defaults()
	pick := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
		*v = max(*v, 0)
	}
	pick(&o.Warehouses, d.Warehouses)
	pick(&o.Products, d.Products)
	pick(&o.Lots, d.Lots)
	pick(&o.HotLots, d.HotLots)
	pick(&o.LedgerRows, d.LedgerRows)
	o.HotLots = min(o.HotLots, o.Lots)
	if o.LedgerSpan <= 0 {
		o.LedgerSpan = d.LedgerSpan
	}
	if o.ClosingSoonShare == 0 {
		o.ClosingSoonShare = d.ClosingSoonShare
	}
	if o.ExpiredShare == 0 {
		o.ExpiredShare = d.ExpiredShare
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Seed == 0 {
		o.Seed = d.Seed
	}
}

// Result says what was loaded.
type Result struct {
	Warehouses []int64 // ids
	Products   []int64 // ids
	// FirstLot and LastLot bound the lot ids loaded (contiguous).
	FirstLot, LastLot int64
	// HotLots are the ids of the lots with long ledgers.
	HotLots []int64
	// States counts the loaded lots by state.
	States     map[domain.LotState]int
	LedgerRows int
	Elapsed    time.Duration
}

// Load generates the data set into db, a migrated ShelfLife database with
// no lots yet. db's connections must reach MySQL through
// github.com/go-sql-driver/mysql (LOAD DATA LOCAL INFILE reads from the
// generator through a registered reader).
func Load(ctx context.Context, db *sql.DB, o Options) (Result, error) {
	o.fill()
	start := time.Now()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM lots").Scan(&n); err != nil {
		return Result{}, fmt.Errorf("scaledata: %w", err)
	}
	if n > 0 {
		return Result{}, fmt.Errorf("scaledata: the database already has %d lots; load into an empty one", n)
	}
	g := &gen{o: o, db: db, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5ca1e))}
	res := Result{States: map[domain.LotState]int{}}
	var err error
	if res.Warehouses, err = g.warehouses(ctx); err != nil {
		return res, err
	}
	if res.Products, err = g.products(ctx); err != nil {
		return res, err
	}
	g.progress("catalog: %d warehouses, %d products (%s)", len(res.Warehouses), len(res.Products), time.Since(start).Round(time.Millisecond))
	if err := g.lots(ctx, &res); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

type gen struct {
	o   Options
	db  *sql.DB
	rng *rand.Rand
}

func (g *gen) progress(format string, args ...any) {
	if g.o.Progress != nil {
		g.o.Progress(fmt.Sprintf(format, args...))
	}
}

// Warehouses sit on a grid over each area, their service circles
// overlapping so most addresses are served by two or three.
var areas = []struct {
	region                 string
	lat0, lat1, lng0, lng1 float64
	radiusKm               float64
}{
	{"서울 Seoul", 37.46, 37.68, 126.83, 127.16, 4.5},
	{"경기 Gyeonggi", 37.15, 37.85, 126.70, 127.40, 9},
}

// WarehouseSite is where one of the data set's warehouses stands.
type WarehouseSite struct {
	Name, Region string
	Lat, Lng     float64
	RadiusKm     float64
}

// WarehouseSites are the data set's n warehouses: half on a grid over
// Seoul (4.5 km service circles), half over Gyeonggi (9 km), so that most
// addresses in either are served by two or three of them.
func WarehouseSites(n int) []WarehouseSite {
	var sites []WarehouseSite
	for a, area := range areas {
		count := n / len(areas)
		if a == 0 {
			count += n % len(areas)
		}
		side := 1
		for side*side < count {
			side++
		}
		for i := range count {
			r, c := i/side, i%side
			sites = append(sites, WarehouseSite{
				Name: fmt.Sprintf("%s %02d", area.region, i+1), Region: area.region,
				Lat:      area.lat0 + (area.lat1-area.lat0)*(float64(r)+0.5)/float64(side),
				Lng:      area.lng0 + (area.lng1-area.lng0)*(float64(c)+0.5)/float64(side),
				RadiusKm: area.radiusKm,
			})
		}
	}
	return sites
}

// RandomAddress is a point drawn uniformly over the data set's areas
// (each area as likely as the other).
func RandomAddress(r *rand.Rand) (lat, lng float64) {
	a := areas[r.IntN(len(areas))]
	return a.lat0 + (a.lat1-a.lat0)*r.Float64(), a.lng0 + (a.lng1-a.lng0)*r.Float64()
}

func (g *gen) warehouses(ctx context.Context) ([]int64, error) {
	var ids []int64
	regions := map[string]int64{}
	for _, w := range WarehouseSites(g.o.Warehouses) {
		region, ok := regions[w.Region]
		if !ok {
			if _, err := g.db.ExecContext(ctx, "INSERT IGNORE INTO regions (name) VALUES (?)", w.Region); err != nil {
				return nil, err
			}
			if err := g.db.QueryRowContext(ctx, "SELECT id FROM regions WHERE name = ?", w.Region).Scan(&region); err != nil {
				return nil, err
			}
			regions[w.Region] = region
		}
		res, err := g.db.ExecContext(ctx, "INSERT INTO warehouses (name, region_id, lat, lng, radius_km) VALUES (?, ?, ?, ?, ?)",
			w.Name, region, w.Lat, w.Lng, w.RadiusKm)
		if err != nil {
			return nil, fmt.Errorf("warehouse %s: %w", w.Name, err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

var categories = []struct {
	name  string
	foods [][2]string // Korean, English
}{
	{"Vegetables", [][2]string{{"시금치", "Spinach"}, {"상추", "Lettuce"}, {"배추", "Napa cabbage"}, {"콩나물", "Bean sprouts"}, {"애호박", "Zucchini"}, {"양파", "Onion"}, {"당근", "Carrot"}, {"오이", "Cucumber"}}},
	{"Fruit", [][2]string{{"딸기", "Strawberries"}, {"바나나", "Bananas"}, {"사과", "Apples"}, {"감귤", "Tangerines"}, {"포도", "Grapes"}, {"복숭아", "Peaches"}, {"배", "Pears"}}},
	{"Dairy", [][2]string{{"우유", "Milk"}, {"요거트", "Yogurt"}, {"치즈", "Cheese"}, {"버터", "Butter"}, {"생크림", "Cream"}}},
	{"Meat", [][2]string{{"삼겹살", "Pork belly"}, {"목살", "Pork neck"}, {"한우 등심", "Hanwoo sirloin"}, {"닭가슴살", "Chicken breast"}, {"불고기", "Bulgogi"}}},
	{"Seafood", [][2]string{{"고등어", "Mackerel"}, {"갈치", "Hairtail"}, {"오징어", "Squid"}, {"새우", "Shrimp"}, {"전복", "Abalone"}}},
	{"Bakery", [][2]string{{"식빵", "White bread"}, {"크루아상", "Croissant"}, {"베이글", "Bagel"}, {"단팥빵", "Red bean bun"}}},
	{"Ready meals", [][2]string{{"김밥", "Gimbap"}, {"도시락", "Lunch box"}, {"샐러드", "Salad"}, {"떡볶이", "Tteokbokki"}, {"잡채", "Japchae"}}},
	{"Tofu & eggs", [][2]string{{"두부", "Tofu"}, {"계란", "Eggs"}, {"순두부", "Soft tofu"}, {"메추리알", "Quail eggs"}}},
}

var makers = [][2]string{{"하늘", "Haneul"}, {"바다", "Bada"}, {"초록", "Chorok"}, {"새벽", "Saebyeok"}, {"들판", "Deulpan"},
	{"햇살", "Haetsal"}, {"산골", "Sangol"}, {"마을", "Maeul"}, {"온누리", "Onnuri"}, {"한결", "Hangyeol"}}

var sizes = []string{"100g", "200g", "300g", "500g", "1kg", "2kg", "x2", "x4", "x10", "1L", "500ml"}

// products inserts the catalog in multi-row INSERTs of 1,000.
func (g *gen) products(ctx context.Context) ([]int64, error) {
	catIDs := make([]int64, len(categories))
	for i, c := range categories {
		if _, err := g.db.ExecContext(ctx, "INSERT IGNORE INTO categories (name) VALUES (?)", c.name); err != nil {
			return nil, err
		}
		if err := g.db.QueryRowContext(ctx, "SELECT id FROM categories WHERE name = ?", c.name).Scan(&catIDs[i]); err != nil {
			return nil, err
		}
	}
	var base int64
	if err := g.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM products").Scan(&base); err != nil {
		return nil, err
	}
	ids := make([]int64, 0, g.o.Products)
	const chunk = 1000
	for start := 0; start < g.o.Products; start += chunk {
		q := []byte("INSERT INTO products (id, sku, name, name_en, category_id, price, min_shelf_life_hours) VALUES ")
		var args []any
		for i := start; i < min(start+chunk, g.o.Products); i++ {
			if i > start {
				q = append(q, ',')
			}
			q = append(q, "(?,?,?,?,?,?,?)"...)
			ci := g.rng.IntN(len(categories))
			c := categories[ci]
			food := c.foods[g.rng.IntN(len(c.foods))]
			maker := makers[g.rng.IntN(len(makers))]
			size := sizes[g.rng.IntN(len(sizes))]
			id := base + int64(i) + 1
			price := 500 + 10*g.rng.IntN(3000)
			hours := []int{0, 0, 24, 48, 72}[g.rng.IntN(5)]
			args = append(args, id, fmt.Sprintf("SCALE-%06d", i+1),
				fmt.Sprintf("%s %s %s %d호", maker[0], food[0], size, i+1),
				fmt.Sprintf("%s %s %s no.%d", maker[1], food[1], size, i+1), catIDs[ci], price, hours)
			ids = append(ids, id)
		}
		if _, err := g.db.ExecContext(ctx, string(q), args...); err != nil {
			return nil, fmt.Errorf("products: %w", err)
		}
	}
	return ids, nil
}

const stamp = "2006-01-02 15:04:05.000000"

// lots streams the lots, their ledgers and waste rows with LOAD DATA; the
// ledger loads on a second connection while the lots load.
func (g *gen) lots(ctx context.Context, res *Result) error {
	if len(res.Products) == 0 || len(res.Warehouses) == 0 {
		if g.o.Lots > 0 {
			return errors.New("scaledata: lots need at least one product and one warehouse")
		}
		return nil
	}
	var base int64
	if err := g.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM lots").Scan(&base); err != nil {
		return err
	}
	res.FirstLot, res.LastLot = base+1, base+int64(g.o.Lots)
	for i := range g.o.HotLots {
		res.HotLots = append(res.HotLots, base+1+int64(i))
	}
	hotProduct := func(i int) int64 { return res.Products[i%len(res.Products)] }
	hotWarehouse := func(i int) int64 { return res.Warehouses[i%len(res.Warehouses)] }

	var wg sync.WaitGroup
	var ledgerErr error
	var ledgerRows atomic.Int64
	if g.o.HotLots > 0 && g.o.LedgerRows > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			ledgerErr = g.ledgers(ctx, res.HotLots, hotProduct, &ledgerRows)
			if ledgerErr == nil {
				g.progress("ledgers: %d lots x %d rows (%s)", len(res.HotLots), g.o.LedgerRows, time.Since(t).Round(time.Millisecond))
			}
		}()
	}
	t := time.Now()
	err := g.lotRows(ctx, base, res, hotProduct, hotWarehouse)
	if err == nil {
		g.progress("lots: %d (%s)", g.o.Lots, time.Since(t).Round(time.Millisecond))
	}
	wg.Wait()
	res.LedgerRows = int(ledgerRows.Load())
	return errors.Join(err, ledgerErr)
}

// lotRows writes the lots in parts of 100,000, one LOAD DATA each, and a
// waste row for each expired one.
func (g *gen) lotRows(ctx context.Context, base int64, res *Result, hotProduct, hotWarehouse func(int) int64) error {
	now := g.o.Now.UTC()
	const part = 100_000
	i := 0
	rng := g.rng
	other := 0 // index among the lots that are not hot
	for i < g.o.Lots {
		end := min(i+part, g.o.Lots)
		var waste [][]byte
		err := g.loadData(ctx, "lots", "(id, product_id, warehouse_id, expires_at, received, on_hand, held, deducted, restored, written_off, state, seq, version, created_at)",
			func(w *bufio.Writer) error {
				var line []byte
				for ; i < end; i++ {
					id := base + int64(i) + 1
					var product, warehouse, received, onHand, deducted, writtenOff int64
					var expires time.Time
					created := now.Add(-time.Duration(1+rng.IntN(72)) * time.Hour)
					if i < g.o.HotLots {
						product, warehouse = hotProduct(i), hotWarehouse(i)
						expires = now.Add(time.Duration(20+rng.IntN(10)) * 24 * time.Hour)
						received = int64(g.o.LedgerRows) + 1_000_000
						deducted = int64(g.o.LedgerRows)
						onHand = received - deducted
						created = now.Add(-g.o.LedgerSpan - time.Hour)
					} else {
						product = res.Products[rng.IntN(len(res.Products))]
						warehouse = res.Warehouses[rng.IntN(len(res.Warehouses))]
						expires = g.expiry(other, now)
						other++
						received = int64(10 + rng.IntN(190))
						onHand = received
					}
					state := domain.StateAt(expires, now)
					if state == domain.Expired {
						writtenOff, onHand = onHand, 0
						if writtenOff > 0 {
							waste = append(waste, fmt.Appendf(nil, "%d\t%d\t%d\t%d\t0\t0\tEXPIRY\t%s\n",
								id, product, warehouse, writtenOff, expires.Format(stamp)))
						}
					}
					if created.After(expires) {
						created = expires.Add(-time.Hour)
					}
					res.States[state]++
					line = line[:0]
					line = strconv.AppendInt(line, id, 10)
					for _, v := range []int64{product, warehouse} {
						line = append(line, '\t')
						line = strconv.AppendInt(line, v, 10)
					}
					line = append(line, '\t')
					line = expires.AppendFormat(line, stamp)
					for _, v := range []int64{received, onHand, 0, deducted, 0, writtenOff} {
						line = append(line, '\t')
						line = strconv.AppendInt(line, v, 10)
					}
					line = append(line, '\t')
					line = append(line, state...)
					line = append(line, "\t0\t0\t"...)
					line = created.AppendFormat(line, stamp)
					line = append(line, '\n')
					if _, err := w.Write(line); err != nil {
						return err
					}
				}
				return nil
			})
		if err != nil {
			return fmt.Errorf("lots: %w", err)
		}
		if len(waste) > 0 {
			// unit_cost and value are filled from the product's price.
			err := g.loadData(ctx, "waste", "(lot_id, product_id, warehouse_id, quantity, unit_cost, value, kind, written_off_at)", func(w *bufio.Writer) error {
				for _, l := range waste {
					if _, err := w.Write(l); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("waste: %w", err)
			}
		}
	}
	_, err := g.db.ExecContext(ctx, `UPDATE waste x JOIN products p ON p.id = x.product_id
		SET x.unit_cost = p.price, x.value = p.price * x.quantity WHERE x.lot_id BETWEEN ? AND ?`, base+1, base+int64(g.o.Lots))
	return err
}

// expiry is lot i's expiry (among lots that are not hot).
func (g *gen) expiry(i int, now time.Time) time.Time {
	if g.o.Expiry != nil {
		return g.o.Expiry(i)
	}
	x := g.rng.Float64()
	switch {
	case x < g.o.ExpiredShare:
		return now.Add(-time.Duration(1+g.rng.IntN(14*24*60)) * time.Minute)
	case x < g.o.ExpiredShare+g.o.ClosingSoonShare:
		return now.Add(time.Duration(1+g.rng.IntN(int(domain.ClosingWindow/time.Minute)-1)) * time.Minute)
	default:
		return now.Add(domain.ClosingWindow + time.Duration(24*60+g.rng.IntN(27*24*60))*time.Minute)
	}
}

// OrderKey is an order line's idempotency key in the shop's format: the
// order id ("o", the creation time in hex milliseconds, ten hex digits) and
// the product.
func OrderKey(at time.Time, n uint64, productID int64) string {
	return fmt.Sprintf("o%x%010x-p%d", at.UnixMilli(), n&0xff_ffff_ffff, productID)
}

// ledgers writes each hot lot's deductions, one LOAD DATA per lot, in key
// order (the primary key's), spread evenly over LedgerSpan up to Now.
func (g *gen) ledgers(ctx context.Context, lots []int64, product func(int) int64, rows *atomic.Int64) error {
	now := g.o.Now.UTC()
	n := g.o.LedgerRows
	step := g.o.LedgerSpan / time.Duration(n)
	for li, lot := range lots {
		pid := product(li)
		err := g.loadData(ctx, "lot_ledger", "(lot_id, order_key, kind, quantity, unit_price, discount_percent, created_at, updated_at, hold_until)", func(w *bufio.Writer) error {
			var line []byte
			for k := range n {
				at := now.Add(-g.o.LedgerSpan + time.Duration(k)*step)
				line = line[:0]
				line = strconv.AppendInt(line, lot, 10)
				line = append(line, '\t')
				line = append(line, OrderKey(at, uint64(li)<<24|uint64(k), pid)...)
				line = append(line, "\tDEDUCTED\t1\t1000\t0\t"...)
				line = at.AppendFormat(line, stamp)
				line = append(line, '\t')
				line = at.AppendFormat(line, stamp)
				line = append(line, "\t\\N\n"...)
				if _, err := w.Write(line); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("ledger of lot %d: %w", lot, err)
		}
		rows.Add(int64(n))
	}
	return nil
}

var readerSeq atomic.Int64

// loadData runs LOAD DATA LOCAL INFILE into table, the rows written by fill
// (tab-separated, one per line) streamed through a pipe. Checks are off on
// the session for the load: the generator writes consistent rows.
func (g *gen) loadData(ctx context.Context, table, columns string, fill func(*bufio.Writer) error) error {
	name := fmt.Sprintf("scaledata-%d", readerSeq.Add(1))
	pr, pw := io.Pipe()
	mysql.RegisterReaderHandler(name, func() io.Reader { return pr })
	defer mysql.DeregisterReaderHandler(name)
	conn, err := g.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range []string{"SET SESSION foreign_key_checks = 0", "SET SESSION unique_checks = 0"} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	defer func() {
		ctx := context.WithoutCancel(ctx)
		conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 1")
		conn.ExecContext(ctx, "SET SESSION unique_checks = 1")
	}()
	fillErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(pw, 1<<20)
		err := fill(w)
		if err == nil {
			err = w.Flush()
		}
		pw.CloseWithError(err)
		fillErr <- err
	}()
	_, err = conn.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::"+name+"' INTO TABLE "+table+
		" CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' "+columns)
	// Unblock the writer should the load stop early.
	pr.CloseWithError(io.ErrClosedPipe)
	ferr := <-fillErr
	if err != nil {
		return err
	}
	if ferr != nil && !errors.Is(ferr, io.ErrClosedPipe) {
		return ferr
	}
	return nil
}
