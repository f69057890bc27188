// Package stockview is the per-node read model shoppers browse: products
// with the regular quantity near an address, and closing-soon deals. It is
// rebuilt from MySQL at start and kept current by the lot grains' events
// (local ones directly, other nodes' through Kafka), so browsing asks
// neither MySQL nor the grains.
package stockview

import (
	"context"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"shelflife/domain"
)

// Source loads what the view starts from.
type Source interface {
	Products(ctx context.Context) ([]domain.Product, error)
	Warehouses(ctx context.Context) ([]domain.Warehouse, error)
	// LiveLots calls fn with every lot not yet expired, with its seq.
	LiveLots(ctx context.Context, fn func(LotRow)) error
}

// LotRow is a lot as the view keeps it.
type LotRow struct {
	ID          int64
	ProductID   int64
	WarehouseID int64
	ExpiresAt   time.Time
	OnHand      int64
	State       domain.LotState
	Seq         int64
	// DiscountPercent is the adaptive markdown in force (0 under the
	// ladder); a deal is priced at it or the ladder's, whichever is deeper.
	DiscountPercent int
	// counted is what the lot adds to its warehouse's regular stock in the
	// view's listing (catalog.go).
	counted int64
	// mark is the catch-up that last saw the lot (CatchUp).
	mark uint32
}

// ProductAvailability is one line of the product listing.
type ProductAvailability struct {
	ID        int64      `json:"id"`
	SKU       string     `json:"sku"`
	Name      string     `json:"name"`
	NameEn    string     `json:"name_en"`
	Category  string     `json:"category"`
	Price     domain.KRW `json:"price"`
	Available int64      `json:"available"`
}

// Deal is a closing-soon lot near an address.
type Deal struct {
	LotID           int64      `json:"lot_id"`
	ProductID       int64      `json:"product_id"`
	Name            string     `json:"name"`
	NameEn          string     `json:"name_en"`
	Category        string     `json:"category"`
	WarehouseID     int64      `json:"warehouse_id"`
	ExpiresAt       time.Time  `json:"expires_at"`
	Price           domain.KRW `json:"price"`
	DealPrice       domain.KRW `json:"deal_price"`
	DiscountPercent int        `json:"discount_percent"`
	Available       int64      `json:"available"`
	// Seq is the lot's commit sequence this was read at: of two answers
	// about one lot (a listing, a socket message, from any node), the
	// higher Seq is the newer.
	Seq int64 `json:"seq"`
}

// Change says which lot changed; listeners recompute what they show. A
// change applied in bulk (ApplyAll) comes as one Change with every lot in
// Events, Event being the last of them.
type Change struct {
	Event  domain.LotEvent
	Events []domain.LotEvent
}

// View is the read model. It is safe for concurrent use.
type View struct {
	src    Source
	ladder domain.Ladder
	now    func() time.Time

	// loadTurn runs catalog loads one at a time; loadsAsked counts the
	// calls, loadsDone the calls the last installed load covers
	// (LoadCatalog).
	loadTurn   chan struct{}
	loadsAsked atomic.Uint64
	loadsDone  atomic.Uint64
	// catchUpMu runs catch-ups one at a time (CatchUp); catchUp numbers
	// them, and while one runs removed holds the lots taken out of the
	// view since it began (both guarded by mu).
	catchUpMu sync.Mutex
	catchUp   uint32
	removed   map[int64]struct{}

	mu         sync.RWMutex
	products   []domain.Product
	productIdx map[int64]int
	warehouses []domain.Warehouse
	lots       map[int64]*LotRow
	// byWP indexes lots by warehouse, then product.
	byWP map[int64]map[int64][]*LotRow
	// index selects products by category and search (catalog.go).
	index *catalogIndex
	// stock is each warehouse's regular units per product (catalog.go).
	stock map[int64]*warehouseStock
	// whVersion moves on with every change to one of a warehouse's lots,
	// and base with every reload: an encoded listing carries the sum of
	// its serving warehouses' versions and the base it was made at, so a
	// change elsewhere in the city leaves it valid.
	whVersion map[int64]uint64
	base      uint64

	// version moves on with every change; encoded listings carry the
	// version they were made from.
	version atomic.Uint64
	// catalog moves on with every catalog load (products, warehouses).
	catalog  atomic.Uint64
	cmu      sync.Mutex
	listings map[listingKey]listing

	lmu       sync.Mutex
	listeners map[int]func(Change)
	nextID    int
}

type listingKey struct {
	serving  string // the listing's kind and the serving warehouses' ids
	category string
}

type listing struct {
	version uint64
	at      time.Time
	body    []byte
	total   int
}

// ListingTTL bounds how long an encoded product listing is reused while
// nothing changes: lots also move by time (a regular lot becomes closing
// soon), so a listing is at most this much older than the clock.
const ListingTTL = time.Second

// maxListings bounds the cache (addresses map to few serving sets, but
// categories are the caller's input).
const maxListings = 512

// New makes an empty view; Load fills it. The ladder (with each lot's
// adaptive markdown when deeper) prices deals; the
// configuration has checked it (the view has no default of its own).
func New(src Source, ladder domain.Ladder, now func() time.Time) *View {
	if now == nil {
		now = time.Now
	}
	return &View{src: src, ladder: ladder, now: now, loadTurn: make(chan struct{}, 1), lots: map[int64]*LotRow{},
		byWP: map[int64]map[int64][]*LotRow{}, productIdx: map[int64]int{}, listeners: map[int]func(Change){},
		listings: map[listingKey]listing{}, stock: map[int64]*warehouseStock{}, whVersion: map[int64]uint64{}}
}

// Load rebuilds the view from the source. The lots are indexed as they
// stream in, in blocks of lotBlock rows, and take the view's place at once.
func (v *View) Load(ctx context.Context) error {
	// Not while a catch-up runs: it would take the fresh lots, never
	// marked seen, for expired.
	v.catchUpMu.Lock()
	defer v.catchUpMu.Unlock()
	if err := v.LoadCatalog(ctx); err != nil {
		return err
	}
	lots := map[int64]*LotRow{}
	byWP := map[int64]map[int64][]*LotRow{}
	var block []LotRow
	err := v.src.LiveLots(ctx, func(r LotRow) {
		if len(block) == cap(block) {
			block = make([]LotRow, 0, lotBlock)
		}
		block = append(block, r)
		addLot(lots, byWP, &block[len(block)-1])
	})
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	defer v.version.Add(1)
	v.base++
	v.lots, v.byWP = lots, byWP
	v.recountLocked(v.now())
	return nil
}

// CatchUp reads the lots again and takes from them what the view missed:
// changes made on other nodes after Load read MySQL and before this node
// heard their announcements (it subscribes after loading, while it joins
// the cluster; the catalog is LoadCatalog's). A lot's row is taken only
// when newer than what the view holds (by seq), so the events heard
// meanwhile are not undone, and a lot taken out of the view since the
// catch-up began (heard expired) is not put back by a row read before.
// A lot the view held before and the rows no longer list has expired.
// Listeners are told of every lot that changed, and CatchUp answers how
// many did. One runs at a time.
func (v *View) CatchUp(ctx context.Context) (int, error) {
	v.catchUpMu.Lock()
	defer v.catchUpMu.Unlock()
	v.mu.Lock()
	v.catchUp++
	mark := v.catchUp
	v.removed = map[int64]struct{}{}
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.removed = nil
		v.mu.Unlock()
	}()
	block, at := make([]domain.LotEvent, 0, lotBlock), v.now()
	changed := 0
	take := func() {
		v.mu.Lock()
		applied := v.catchUpLocked(block, mark)
		v.mu.Unlock()
		changed += len(applied)
		if len(applied) > 0 {
			v.notify(Change{Event: applied[len(applied)-1], Events: applied})
		}
		block = block[:0]
	}
	err := v.src.LiveLots(ctx, func(r LotRow) {
		block = append(block, domain.LotEvent{LotID: r.ID, ProductID: r.ProductID, WarehouseID: r.WarehouseID, ExpiresAt: r.ExpiresAt,
			OnHand: r.OnHand, State: r.State, Seq: r.Seq, DiscountPercent: r.DiscountPercent, At: at})
		if len(block) == lotBlock {
			take()
		}
	})
	if err != nil {
		return changed, err
	}
	take()
	// The lots not seen are found under the read lock (browsing goes on
	// meanwhile), then taken out under the write lock.
	var unseen []int64
	v.mu.RLock()
	for id, r := range v.lots {
		if r.mark != mark {
			unseen = append(unseen, id)
		}
	}
	v.mu.RUnlock()
	var gone []domain.LotEvent
	v.mu.Lock()
	now := v.now()
	for _, id := range unseen {
		if r := v.lots[id]; r != nil && r.mark != mark {
			// The expiry's commit came after what the view held: its seq
			// is at least the next, newer than anything told of the lot.
			gone = append(gone, domain.LotEvent{LotID: r.ID, ProductID: r.ProductID, WarehouseID: r.WarehouseID, ExpiresAt: r.ExpiresAt,
				State: domain.Expired, Seq: r.Seq + 1, At: now})
			v.removeLocked(r)
			v.whVersion[r.WarehouseID]++
		}
	}
	if len(gone) > 0 {
		v.version.Add(1)
	}
	v.mu.Unlock()
	if len(gone) > 0 {
		v.notify(Change{Event: gone[len(gone)-1], Events: gone})
	}
	return changed + len(gone), nil
}

// catchUpLocked applies a block of the catch-up's rows and marks their
// lots seen; it returns the rows that changed the view.
func (v *View) catchUpLocked(rows []domain.LotEvent, mark uint32) []domain.LotEvent {
	var applied []domain.LotEvent
	for _, e := range rows {
		if _, ok := v.removed[e.LotID]; ok {
			continue
		}
		if v.applyLocked(e) {
			applied = append(applied, e)
		}
		if r := v.lots[e.LotID]; r != nil {
			r.mark = mark
		}
	}
	if len(applied) > 0 {
		v.version.Add(1)
	}
	return applied
}

// lotBlock is how many lots Load allocates at a time.
const lotBlock = 4096

// LoadCatalog reloads products and warehouses (after an admin change).
// Loads run one at a time, each reading after the one before it was
// installed: changes are announced on several Kafka partitions, read
// concurrently, and an earlier announcement's load that read before a
// later change must not be installed over the later load's. A call
// waiting for its turn ends with ctx, and returns at once when a load
// that began reading after the call was made has been installed since.
func (v *View) LoadCatalog(ctx context.Context) error {
	asked := v.loadsAsked.Add(1)
	select {
	case v.loadTurn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-v.loadTurn }()
	if v.loadsDone.Load() >= asked {
		return nil
	}
	covers := v.loadsAsked.Load()
	if err := v.loadCatalog(ctx); err != nil {
		return err
	}
	v.loadsDone.Store(covers)
	return nil
}

func (v *View) loadCatalog(ctx context.Context) error {
	ps, err := v.src.Products(ctx)
	if err != nil {
		return err
	}
	ws, err := v.src.Warehouses(ctx)
	if err != nil {
		return err
	}
	idx := make(map[int64]int, len(ps))
	for i, p := range ps {
		idx[p.ID] = i
	}
	index := newCatalogIndex(ps)
	v.mu.Lock()
	v.products, v.productIdx, v.warehouses, v.index = ps, idx, ws, index
	v.recountLocked(v.now())
	v.base++
	v.version.Add(1)
	v.catalog.Add(1)
	v.mu.Unlock()
	return nil
}

// CatalogVersion moves on with every catalog load: what was worked out
// from the warehouses (who serves an address) is to be worked out again.
func (v *View) CatalogVersion() uint64 { return v.catalog.Load() }

func (v *View) insertLocked(r *LotRow) { addLot(v.lots, v.byWP, r) }

// addLot indexes r by id and by warehouse and product.
func addLot(lots map[int64]*LotRow, byWP map[int64]map[int64][]*LotRow, r *LotRow) {
	lots[r.ID] = r
	m := byWP[r.WarehouseID]
	if m == nil {
		m = map[int64][]*LotRow{}
		byWP[r.WarehouseID] = m
	}
	m[r.ProductID] = append(m[r.ProductID], r)
}

func (v *View) removeLocked(r *LotRow) {
	if s := v.stock[r.WarehouseID]; s != nil {
		if i, ok := v.productIdx[r.ProductID]; ok {
			s.units[i] -= r.counted
		}
	}
	r.counted = 0
	delete(v.lots, r.ID)
	if v.removed != nil {
		v.removed[r.ID] = struct{}{}
	}
	list := v.byWP[r.WarehouseID][r.ProductID]
	for i, x := range list {
		if x.ID == r.ID {
			v.byWP[r.WarehouseID][r.ProductID] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
}

// Apply takes a lot event. Events may arrive twice or out of order (local
// and through Kafka): only one newer than what the view holds counts. It
// reports whether the view changed.
func (v *View) Apply(e domain.LotEvent) bool {
	v.mu.Lock()
	changed := v.applyLocked(e)
	if changed {
		v.version.Add(1)
	}
	v.mu.Unlock()
	if changed {
		v.notify(Change{Event: e})
	}
	return changed
}

// ApplyAll takes many events under one lock (the lot sweep moves
// thousands of lots at once) and tells listeners once, with the events
// that changed the view. It reports how many did.
func (v *View) ApplyAll(es []domain.LotEvent) int {
	applied := make([]domain.LotEvent, 0, len(es))
	v.mu.Lock()
	for _, e := range es {
		if v.applyLocked(e) {
			applied = append(applied, e)
		}
	}
	if len(applied) > 0 {
		v.version.Add(1)
	}
	v.mu.Unlock()
	if len(applied) > 0 {
		v.notify(Change{Event: applied[len(applied)-1], Events: applied})
	}
	return len(applied)
}

func (v *View) applyLocked(e domain.LotEvent) bool {
	cur, ok := v.lots[e.LotID]
	switch {
	case ok && e.Seq <= cur.Seq:
		return false
	case e.State == domain.Expired:
		if !ok {
			if v.removed != nil {
				v.removed[e.LotID] = struct{}{} // a catch-up may hold an older row
			}
			return false // gone already, or never shown
		}
		v.removeLocked(cur)
		v.whVersion[cur.WarehouseID]++
	case ok:
		cur.OnHand, cur.State, cur.Seq, cur.DiscountPercent = e.OnHand, e.State, e.Seq, e.DiscountPercent
		v.countLocked(v.stockOfLocked(cur.WarehouseID), cur, v.now())
		v.whVersion[cur.WarehouseID]++
	default:
		r := &LotRow{ID: e.LotID, ProductID: e.ProductID, WarehouseID: e.WarehouseID,
			ExpiresAt: e.ExpiresAt, OnHand: e.OnHand, State: e.State, Seq: e.Seq, DiscountPercent: e.DiscountPercent, mark: v.catchUp}
		v.insertLocked(r)
		v.countLocked(v.stockOfLocked(r.WarehouseID), r, v.now())
		v.whVersion[r.WarehouseID]++
	}
	return true
}

// Subscribe calls fn after every change; the returned func unsubscribes.
// fn must not block.
func (v *View) Subscribe(fn func(Change)) func() {
	v.lmu.Lock()
	id := v.nextID
	v.nextID++
	v.listeners[id] = fn
	v.lmu.Unlock()
	return func() {
		v.lmu.Lock()
		delete(v.listeners, id)
		v.lmu.Unlock()
	}
}

func (v *View) notify(c Change) {
	v.lmu.Lock()
	fns := make([]func(Change), 0, len(v.listeners))
	for _, fn := range v.listeners {
		fns = append(fns, fn)
	}
	v.lmu.Unlock()
	for _, fn := range fns {
		fn(c)
	}
}

// Serving lists the warehouses whose service area holds addr.
func (v *View) Serving(addr domain.Point) []domain.Warehouse {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.servingLocked(addr)
}

func (v *View) servingLocked(addr domain.Point) []domain.Warehouse {
	var out []domain.Warehouse
	for _, w := range v.warehouses {
		if w.Area().Serves(addr) {
			out = append(out, w)
		}
	}
	return out
}

// regular is what a lot offers as regular stock now.
func regular(r *LotRow, p domain.Product, now time.Time) int64 {
	if r.OnHand <= 0 || domain.StateAt(r.ExpiresAt, now) != domain.Regular || r.State != domain.Regular {
		return 0
	}
	if r.ExpiresAt.Sub(now) < p.MinShelfLife {
		return 0
	}
	return r.OnHand
}

// Filter narrows a product listing.
type Filter struct {
	Category string
	Query    string
}

// Products lists the catalog with the regular quantity that warehouses
// serving addr hold. An address no warehouse serves gets an empty list:
// nothing can be delivered there, which is not the same as sold out.
func (v *View) Products(addr domain.Point, f Filter) []ProductAvailability {
	ps, _ := v.ProductsPage(addr, f, Page{})
	return ps
}

// ProductsJSON is a page of Products encoded as JSON, and how many
// products the filter selects in all. Pages without a search term are kept
// per serving warehouses, category and page and reused until the view
// changes or ListingTTL passes, so browsing mostly costs a lookup.
func (v *View) ProductsJSON(addr domain.Point, f Filter, pg Page) ([]byte, int, error) {
	if f.Query != "" {
		body, total := v.appendProductsPage(nil, addr, f, pg)
		return body, total, nil
	}
	return v.encoded("products", addr, strings.ToLower(f.Category), pg, func() ([]byte, int, error) {
		body, total := v.appendProductsPage(nil, addr, f, pg)
		return body, total, nil
	})
}

// WriteProductsJSON writes what ProductsJSON answers to w and returns how
// many products the filter selects in all. A search page is encoded in a
// buffer kept for the next one: a search is made afresh every time, and
// its page (about 17 KB at the default size) would otherwise be new
// garbage for every request.
func (v *View) WriteProductsJSON(w io.Writer, addr domain.Point, f Filter, pg Page) (int, error) {
	if f.Query == "" {
		body, total, err := v.ProductsJSON(addr, f, pg)
		if err != nil {
			return 0, err
		}
		_, err = w.Write(body)
		return total, err
	}
	buf := pageBuffers.Get().(*[]byte)
	body, total := v.appendProductsPage((*buf)[:0], addr, f, pg)
	_, err := w.Write(body)
	if cap(body) <= maxPooledPage {
		*buf = body
		pageBuffers.Put(buf)
	}
	return total, err
}

// pageBuffers are WriteProductsJSON's buffers; one grown past
// maxPooledPage (a page of hundreds of products) is left to the collector.
var pageBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledPage = 64 << 10

// DealsJSON is a page of Deals encoded as JSON, and how many deals there
// are in all, kept like ProductsJSON.
func (v *View) DealsJSON(addr domain.Point, pg Page) ([]byte, int, error) {
	return v.encoded("deals", addr, "", pg, func() ([]byte, int, error) {
		ds := v.Deals(addr)
		lo := min(max(pg.Offset, 0), len(ds))
		hi := len(ds)
		if pg.Limit > 0 {
			hi = min(lo+pg.Limit, len(ds))
		}
		body, err := json.Marshal(ds[lo:hi])
		return body, len(ds), err
	})
}

func (v *View) encoded(kind string, addr domain.Point, category string, pg Page, build func() ([]byte, int, error)) ([]byte, int, error) {
	now := v.now()
	var key strings.Builder
	key.WriteString(kind)
	key.WriteByte('@')
	key.WriteString(strconv.Itoa(pg.Offset))
	key.WriteByte('+')
	key.WriteString(strconv.Itoa(pg.Limit))
	v.mu.RLock()
	version := v.base << 40
	for _, w := range v.servingLocked(addr) {
		key.WriteByte(',')
		key.WriteString(strconv.FormatInt(w.ID, 10))
		version += v.whVersion[w.ID]
	}
	v.mu.RUnlock()
	k := listingKey{serving: key.String(), category: category}
	v.cmu.Lock()
	l, ok := v.listings[k]
	v.cmu.Unlock()
	if ok && l.version == version && now.Sub(l.at) < ListingTTL && !now.Before(l.at) {
		return l.body, l.total, nil
	}
	body, total, err := build()
	if err != nil {
		return nil, 0, err
	}
	v.cmu.Lock()
	if len(v.listings) >= maxListings {
		clear(v.listings)
	}
	// The version read before the listing was made: a change meanwhile
	// makes the next request build it again.
	v.listings[k] = listing{version: version, at: now, body: body, total: total}
	v.cmu.Unlock()
	return body, total, nil
}

// ProductAvailable is the regular quantity of one product near addr.
func (v *View) ProductAvailable(addr domain.Point, productID int64) int64 {
	now := v.now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	var avail int64
	for _, w := range v.servingLocked(addr) {
		avail += v.regularAtLocked(w.ID, productID, now)
	}
	return avail
}

// RegularAt is the regular quantity of one product in one warehouse, as
// this node last heard (another node's change may not have reached it yet).
func (v *View) RegularAt(warehouseID, productID int64) int64 {
	now := v.now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.regularAtLocked(warehouseID, productID, now)
}

// regularAtLocked is RegularAt with v.mu held.
func (v *View) regularAtLocked(warehouseID, productID int64, now time.Time) int64 {
	i, ok := v.productIdx[productID]
	if !ok {
		return 0
	}
	p := v.products[i]
	var avail int64
	for _, r := range v.byWP[warehouseID][productID] {
		avail += regular(r, p, now)
	}
	return avail
}

// Deals lists the closing-soon lots of warehouses serving addr, soonest
// expiry first, priced now by the markdown ladder or the
// lot's adaptive markdown, whichever is deeper.
func (v *View) Deals(addr domain.Point) []Deal {
	now := v.now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := []Deal{}
	for _, w := range v.servingLocked(addr) {
		for pid, lots := range v.byWP[w.ID] {
			i, ok := v.productIdx[pid]
			if !ok {
				continue
			}
			p := v.products[i]
			for _, r := range lots {
				if d, ok := v.dealLocked(r, p, now); ok {
					out = append(out, d)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ExpiresAt.Equal(out[j].ExpiresAt) {
			return out[i].ExpiresAt.Before(out[j].ExpiresAt)
		}
		return out[i].LotID < out[j].LotID
	})
	return out
}

func (v *View) dealLocked(r *LotRow, p domain.Product, now time.Time) (Deal, bool) {
	if r.OnHand <= 0 {
		return Deal{}, false
	}
	return v.quoteLocked(r, p, now)
}

// quoteLocked is r as a deal, sold out or not; false when r is not
// closing soon.
func (v *View) quoteLocked(r *LotRow, p domain.Product, now time.Time) (Deal, bool) {
	if domain.StateAt(r.ExpiresAt, now) != domain.ClosingSoon {
		return Deal{}, false
	}
	pct := max(v.ladder.DiscountPercent(r.ExpiresAt.Sub(now)), r.DiscountPercent)
	return Deal{LotID: r.ID, ProductID: p.ID, Name: p.Name, NameEn: p.NameEn, Category: p.Category,
		WarehouseID: r.WarehouseID, ExpiresAt: r.ExpiresAt, Price: p.Price,
		DealPrice: domain.Discounted(p.Price, pct), DiscountPercent: pct, Available: max(r.OnHand, 0), Seq: r.Seq}, true
}

// LotAvailable is what a deal lot offers now, the lot's commit sequence it
// was read at, and whether it is a deal.
func (v *View) LotAvailable(lotID int64) (available, seq int64, deal bool) {
	now := v.now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	r, ok := v.lots[lotID]
	if !ok {
		return 0, 0, false
	}
	if domain.StateAt(r.ExpiresAt, now) != domain.ClosingSoon {
		return 0, r.Seq, false
	}
	return r.OnHand, r.Seq, true
}

// Lot reads one lot of the view.
func (v *View) Lot(id int64) (LotRow, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	r, ok := v.lots[id]
	if !ok {
		return LotRow{}, false
	}
	return *r, true
}

// Product reads one product of the catalog.
func (v *View) Product(id int64) (domain.Product, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	i, ok := v.productIdx[id]
	if !ok {
		return domain.Product{}, false
	}
	return v.products[i], true
}

// DealNear quotes a closing-soon lot for a shopper at addr: it must be a
// deal now and its warehouse must serve addr. A sold-out deal is still
// quoted, with nothing available, so that buying it is refused for want of
// stock rather than as no deal at all.
func (v *View) DealNear(addr domain.Point, lotID int64) (Deal, bool) {
	now := v.now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	r, ok := v.lots[lotID]
	if !ok {
		return Deal{}, false
	}
	i, ok := v.productIdx[r.ProductID]
	if !ok {
		return Deal{}, false
	}
	served := false
	for _, w := range v.servingLocked(addr) {
		served = served || w.ID == r.WarehouseID
	}
	if !served {
		return Deal{}, false
	}
	return v.quoteLocked(r, v.products[i], now)
}
