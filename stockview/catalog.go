package stockview

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"shelflife/domain"
)

// A city's catalog has tens of thousands of products and each warehouse
// tens of thousands of lots, so a listing is served a page at a time from
// two structures kept beside the lots:
//   - catalogIndex, made with the catalog: product positions by category,
//     a search index of the names (every product's lower-cased names and
//     SKU, with the positions of the products each pair of adjacent
//     characters occurs in) with the latest searches' results, and every
//     product's listing line encoded up to its quantity;
//   - warehouse stock: per warehouse, the regular units of every product,
//     kept as lots change and as they stop counting with time.
// A page then costs its own products times the serving warehouses.

// Page selects part of a listing: Limit items from Offset.
type Page struct {
	Offset int
	Limit  int
}

// Listing page sizes: the default and the most one page holds.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

type catalogIndex struct {
	all        []int32            // every product position, catalog order
	byCategory map[string][]int32 // lower-cased category -> positions
	text       []string           // per position: name, name_en, sku lower-cased, NUL-separated
	pairs      map[uint64][]int32 // two adjacent runes -> positions holding them, ascending
	// lines holds every product's listing line as JSON up to the value of
	// "available" (ProductAvailability as encoding/json writes it);
	// position i's is lines[lineAt[i]:lineAt[i+1]].
	lines  []byte
	lineAt []int32

	// searched keeps the latest searches' results: a search depends on
	// the catalog alone, so the same term costs its scan once per catalog.
	smu            sync.Mutex
	searched       map[Filter][]int32
	searchedLength int // positions held in searched
}

// Bounds of catalogIndex.searched: past either count, it starts again
// empty; a query longer than maxSearchedQuery bytes is not kept.
const (
	maxSearches         = 4096
	maxSearchedPosition = 1 << 21 // 8 MB of positions
	maxSearchedQuery    = 64
)

func newCatalogIndex(ps []domain.Product) *catalogIndex {
	ix := &catalogIndex{all: make([]int32, len(ps)), byCategory: map[string][]int32{},
		text: make([]string, len(ps)), pairs: map[uint64][]int32{}, lineAt: make([]int32, len(ps)+1)}
	for i, p := range ps {
		pos := int32(i)
		ix.all[i] = pos
		ix.lines = appendLineHead(ix.lines, p)
		ix.lineAt[i+1] = int32(len(ix.lines))
		cat := strings.ToLower(p.Category)
		ix.byCategory[cat] = append(ix.byCategory[cat], pos)
		t := strings.ToLower(p.Name) + "\x00" + strings.ToLower(p.NameEn) + "\x00" + strings.ToLower(p.SKU)
		ix.text[i] = t
		var prev rune = -1
		for _, r := range t {
			if prev >= 0 && prev != 0 && r != 0 {
				k := pairKey(prev, r)
				if l := ix.pairs[k]; len(l) == 0 || l[len(l)-1] != pos {
					ix.pairs[k] = append(l, pos)
				}
			}
			prev = r
		}
	}
	return ix
}

func pairKey(a, b rune) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// lineTail is how encoding/json ends a ProductAvailability whose Available
// is 0; appendLineHead keeps what comes before the 0.
const lineTail = `"available":0}`

// appendLineHead appends p's listing line up to its quantity, exactly as
// encoding/json writes ProductAvailability (its escaping included).
func appendLineHead(b []byte, p domain.Product) []byte {
	line, err := json.Marshal(ProductAvailability{ID: p.ID, SKU: p.SKU, Name: p.Name, NameEn: p.NameEn, Category: p.Category, Price: p.Price})
	if err != nil || !bytes.HasSuffix(line, []byte(lineTail)) {
		// Strings and integers always encode; keep the line well formed
		// should the struct ever end otherwise.
		line = []byte(`{"id":` + strconv.FormatInt(p.ID, 10) + `,` + lineTail)
	}
	return append(b, line[:len(line)-2]...)
}

// appendPage appends to b the listing lines of the products at page,
// with their quantities, as a JSON array.
func (ix *catalogIndex) appendPage(b []byte, page []int32, avail []int64) []byte {
	n := 2
	for _, p := range page {
		n += int(ix.lineAt[p+1]-ix.lineAt[p]) + 22
	}
	b = slices.Grow(b, n)
	b = append(b, '[')
	for k, p := range page {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, ix.lines[ix.lineAt[p]:ix.lineAt[p+1]]...)
		b = strconv.AppendInt(b, avail[k], 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// match lists the positions of the products f selects, in catalog order.
// The result may be shared: callers must not change it.
func (ix *catalogIndex) match(f Filter) []int32 {
	if f.Query == "" {
		if f.Category != "" {
			return ix.byCategory[strings.ToLower(f.Category)]
		}
		return ix.all
	}
	key := Filter{Category: strings.ToLower(f.Category), Query: strings.ToLower(f.Query)}
	ix.smu.Lock()
	out, ok := ix.searched[key]
	ix.smu.Unlock()
	if ok {
		return out
	}
	out = ix.search(key)
	if len(key.Query)+len(key.Category) > maxSearchedQuery {
		return out
	}
	ix.smu.Lock()
	if ix.searched == nil || len(ix.searched) >= maxSearches || ix.searchedLength+len(out) > maxSearchedPosition {
		ix.searched, ix.searchedLength = map[Filter][]int32{}, 0
	}
	if _, ok := ix.searched[key]; !ok {
		ix.searched[key] = out
		ix.searchedLength += len(out)
	}
	ix.smu.Unlock()
	return out
}

// search lists the positions of the products f selects, f's category and
// query lower-cased, by scanning the names of the products that hold the
// query's rarest pair of adjacent characters.
func (ix *catalogIndex) search(f Filter) []int32 {
	base := ix.all
	if f.Category != "" {
		base = ix.byCategory[f.Category]
	}
	q := f.Query
	if strings.ContainsRune(q, 0) {
		return nil
	}
	// The candidates: the products holding the query's rarest pair of
	// adjacent characters (every product, for a one-character query).
	cand := ix.all
	var prev rune = -1
	for _, r := range q {
		if prev >= 0 {
			l := ix.pairs[pairKey(prev, r)]
			if len(l) < len(cand) {
				cand = l
			}
			if len(l) == 0 {
				return nil
			}
		}
		prev = r
	}
	var inCategory map[int32]bool
	if f.Category != "" {
		inCategory = make(map[int32]bool, len(base))
		for _, p := range base {
			inCategory[p] = true
		}
	}
	var out []int32
	for _, p := range cand {
		if (inCategory == nil || inCategory[p]) && strings.Contains(ix.text[p], q) {
			out = append(out, p)
		}
	}
	return out
}

// warehouseStock is one warehouse's regular units per product position,
// kept as its lots change: each lot adds what it counts (LotRow.counted),
// and ends lists the counting lots by the moment they stop counting by time
// alone (48 hours before expiry, or earlier for a product's minimum shelf
// life), so a reader takes them out when that moment has passed.
type warehouseStock struct {
	// mu orders readers taking out ended lots; writers hold View.mu for
	// writing, which keeps every reader out.
	mu    sync.Mutex
	units []int64
	ends  endHeap
	// at is the latest time the units were brought to; an earlier one
	// (a clock set back) makes them again.
	at time.Time
}

type lotEnd struct {
	at  int64 // Unix nanoseconds
	lot *LotRow
}

type endHeap []lotEnd

func (h endHeap) Len() int           { return len(h) }
func (h endHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h endHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)        { *h = append(*h, x.(lotEnd)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// endsAt is when a lot of p stops counting as regular stock by time alone:
// regular() is zero from then on.
func endsAt(r *LotRow, p domain.Product) int64 {
	expires := r.ExpiresAt.UnixNano()
	return expires - max(int64(domain.ClosingWindow), int64(p.MinShelfLife)-1)
}

// countLocked brings what r counts in its warehouse's units to now. v.mu
// is held for writing, or r's warehouse's stock mutex by a reader.
func (v *View) countLocked(s *warehouseStock, r *LotRow, now time.Time) {
	i, ok := v.productIdx[r.ProductID]
	if !ok {
		// A product the catalog does not know yet: counted when the
		// catalog reloads, which makes every warehouse's units again.
		return
	}
	p := v.products[i]
	n := regular(r, p, now)
	s.units[i] += n - r.counted
	if n > 0 && r.counted == 0 {
		heap.Push(&s.ends, lotEnd{at: endsAt(r, p), lot: r})
	}
	r.counted = n
}

// stockOfLocked is warehouse w's stock, made when missing. v.mu is held
// for writing.
func (v *View) stockOfLocked(w int64) *warehouseStock {
	s := v.stock[w]
	if s == nil {
		s = &warehouseStock{units: make([]int64, len(v.products)), at: v.now()}
		v.stock[w] = s
	}
	return s
}

// recountLocked makes every warehouse's units again from its lots (the
// catalog or the lots changed wholesale). v.mu is held for writing.
func (v *View) recountLocked(now time.Time) {
	v.stock = make(map[int64]*warehouseStock, len(v.byWP))
	for w, byProduct := range v.byWP {
		s := &warehouseStock{units: make([]int64, len(v.products))}
		v.stock[w] = s
		v.recountStock(s, byProduct, now)
	}
}

// recountStock makes s's units again from a warehouse's lots at now.
func (v *View) recountStock(s *warehouseStock, byProduct map[int64][]*LotRow, now time.Time) {
	clear(s.units)
	s.ends = s.ends[:0]
	s.at = now
	t := now.UnixNano()
	for pid, lots := range byProduct {
		i, ok := v.productIdx[pid]
		for _, r := range lots {
			r.counted = 0
			if !ok {
				continue
			}
			// regular(r, p, now) without its time arithmetic: a lot
			// counts until endsAt.
			if r.OnHand <= 0 || r.State != domain.Regular {
				continue
			}
			if end := endsAt(r, v.products[i]); t < end {
				r.counted = r.OnHand
				s.units[i] += r.OnHand
				s.ends = append(s.ends, lotEnd{at: end, lot: r})
			}
		}
	}
	heap.Init(&s.ends)
}

// readUnits reads, for warehouse w, the units of the products at pos,
// after taking out the lots that stopped counting by now. v.mu is held for
// reading; a warehouse without stock has none.
func (v *View) readUnits(w int64, pos []int32, now time.Time, out []int64) {
	s := v.stock[w]
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case now.Before(s.at.Add(-ListingTTL)):
		// The clock went back (tests set it): count this warehouse's
		// lots again.
		v.recountStock(s, v.byWP[w], now)
	case now.After(s.at):
		s.at = now
	}
	// Readers that took the time a moment before another are brought to
	// the latest reader's time.
	for len(s.ends) > 0 && s.ends[0].at <= s.at.UnixNano() {
		e := heap.Pop(&s.ends).(lotEnd)
		if e.lot.counted > 0 {
			v.countLocked(s, e.lot, s.at)
		}
	}
	for k, p := range pos {
		out[k] += s.units[p]
	}
}

// ProductsPage is one page of the products f selects, with the regular
// quantity the warehouses serving addr hold, and how many products f
// selects in all. An address no warehouse serves gets an empty list and 0.
func (v *View) ProductsPage(addr domain.Point, f Filter, pg Page) ([]ProductAvailability, int) {
	now := v.now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	serving := v.servingLocked(addr)
	if len(serving) == 0 || v.index == nil {
		return []ProductAvailability{}, 0
	}
	page, avail, total := v.pageLocked(serving, f, pg, now)
	out := make([]ProductAvailability, 0, len(page))
	for k, pos := range page {
		p := v.products[pos]
		out = append(out, ProductAvailability{ID: p.ID, SKU: p.SKU, Name: p.Name, NameEn: p.NameEn, Category: p.Category, Price: p.Price, Available: avail[k]})
	}
	return out, total
}

// appendProductsPage appends ProductsPage encoded as JSON to b, written
// from the catalog's encoded lines.
func (v *View) appendProductsPage(b []byte, addr domain.Point, f Filter, pg Page) ([]byte, int) {
	now := v.now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	serving := v.servingLocked(addr)
	if len(serving) == 0 || v.index == nil {
		return append(b, "[]"...), 0
	}
	page, avail, total := v.pageLocked(serving, f, pg, now)
	return v.index.appendPage(b, page, avail), total
}

// pageLocked is the page of the products f selects, the regular units
// the serving warehouses hold of each, and how many products f selects in
// all. v.mu is held for reading.
func (v *View) pageLocked(serving []domain.Warehouse, f Filter, pg Page, now time.Time) ([]int32, []int64, int) {
	sel := v.index.match(f)
	lo := min(max(pg.Offset, 0), len(sel))
	hi := len(sel)
	if pg.Limit > 0 {
		hi = min(lo+pg.Limit, len(sel))
	}
	page := sel[lo:hi]
	avail := make([]int64, len(page))
	for _, w := range serving {
		v.readUnits(w.ID, page, now, avail)
	}
	return page, avail, len(sel)
}
