package stockview

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"shelflife/domain"
)

// A larger catalog: search through the index finds exactly what a scan of
// every name finds, pages cut the selection in order, and each page's
// quantities are the lots' regular units in the serving warehouses.
func TestPagesAndSearchOfALargeCatalog(t *testing.T) {
	now := t0
	rng := rand.New(rand.NewPCG(3, 4))
	words := [][2]string{{"우유", "Milk"}, {"두부", "Tofu"}, {"딸기", "Strawberries"}, {"삼겹살", "Pork belly"}, {"고등어", "Mackerel"}}
	cats := []string{"Dairy", "Tofu & eggs", "Fruit", "Meat", "Seafood"}
	src := fakeSource{warehouses: []domain.Warehouse{mapo, eunpyeng, songpa}}
	for i := range 600 {
		w := rng.IntN(len(words))
		src.products = append(src.products, domain.Product{ID: int64(1000 + i), SKU: fmt.Sprintf("SKU-%04d", i),
			Name: fmt.Sprintf("%s %d호", words[w][0], i), NameEn: fmt.Sprintf("%s no.%d", words[w][1], i), Category: cats[w], Price: 1000})
	}
	want := map[int64]map[int64]int64{} // warehouse -> product -> regular units
	for i := range 3000 {
		p := src.products[rng.IntN(len(src.products))]
		w := src.warehouses[rng.IntN(3)].ID
		r := LotRow{ID: int64(i + 1), ProductID: p.ID, WarehouseID: w, OnHand: int64(rng.IntN(9)), State: domain.Regular, ExpiresAt: t0.Add(10 * 24 * time.Hour)}
		if i%5 == 0 {
			r.State, r.ExpiresAt = domain.ClosingSoon, t0.Add(time.Hour)
		} else {
			if want[w] == nil {
				want[w] = map[int64]int64{}
			}
			want[w][p.ID] += r.OnHand
		}
		src.lots = append(src.lots, r)
	}
	v := New(src, domain.DefaultLadder(), func() time.Time { return now })
	if err := v.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	scan := func(f Filter) []int64 {
		var out []int64
		q := strings.ToLower(f.Query)
		for _, p := range src.products {
			if f.Category != "" && !strings.EqualFold(p.Category, f.Category) {
				continue
			}
			if q == "" || strings.Contains(strings.ToLower(p.Name), q) || strings.Contains(strings.ToLower(p.NameEn), q) || strings.Contains(strings.ToLower(p.SKU), q) {
				out = append(out, p.ID)
			}
		}
		return out
	}
	for _, f := range []Filter{{}, {Category: "dairy"}, {Query: "milk"}, {Query: "MILK 1"}, {Query: "우유"}, {Query: "유 1"},
		{Query: "호"}, {Query: "o"}, {Query: "sku-00"}, {Query: "no.59"}, {Query: "tofu", Category: "Tofu & eggs"},
		{Query: "tofu", Category: "Dairy"}, {Query: "nothing"}, {Query: "k mi"}} {
		want := scan(f)
		got, total := v.ProductsPage(yeonhui, f, Page{})
		if total != len(want) || len(got) != len(want) {
			t.Errorf("%+v: %d products (total %d), want %d", f, len(got), total, len(want))
			continue
		}
		for i := range got {
			if got[i].ID != want[i] {
				t.Errorf("%+v: product %d is %d, want %d", f, i, got[i].ID, want[i])
				break
			}
		}
	}
	// Pages, in order, cover the selection once.
	var paged []ProductAvailability
	for off := 0; ; off += 70 {
		page, total := v.ProductsPage(yeonhui, Filter{}, Page{Offset: off, Limit: 70})
		if total != 600 {
			t.Fatalf("total %d, want 600", total)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
	}
	if len(paged) != 600 {
		t.Fatalf("pages hold %d products, want 600", len(paged))
	}
	for i, p := range paged {
		if p.ID != src.products[i].ID || p.Available != want[1][p.ID]+want[2][p.ID] {
			t.Fatalf("product %d on the pages: %+v, want id %d with %d", i, p, src.products[i].ID, want[1][p.ID]+want[2][p.ID])
		}
	}
	// Each warehouse's regular units of a product, closing-soon lots left
	// out.
	for w, byProduct := range want {
		for pid, n := range byProduct {
			if got := v.RegularAt(w, pid); got != n {
				t.Fatalf("RegularAt(%d, %d) = %d, want %d", w, pid, got, n)
			}
		}
	}
	if got := v.RegularAt(1, 999999); got != 0 {
		t.Errorf("RegularAt of an unknown product = %d", got)
	}
	// A change to one lot shows in the next page asked for.
	lot := src.lots[1]
	v.Apply(domain.LotEvent{LotID: lot.ID, ProductID: lot.ProductID, WarehouseID: lot.WarehouseID, OnHand: lot.OnHand + 100, State: domain.Regular, Seq: 1, ExpiresAt: lot.ExpiresAt})
	got := v.ProductAvailable(jamsil, lot.ProductID)
	if lot.WarehouseID == 3 {
		if page := v.Products(jamsil, Filter{}); available(page, lot.ProductID) != got || got != want[3][lot.ProductID]+100 {
			t.Errorf("after a change: listing says %d, ProductAvailable %d, want %d", available(page, lot.ProductID), got, want[3][lot.ProductID]+100)
		}
	} else if page := v.Products(yeonhui, Filter{}); available(page, lot.ProductID) != want[1][lot.ProductID]+want[2][lot.ProductID]+100 {
		t.Errorf("after a change: listing says %d, want %d", available(page, lot.ProductID), want[1][lot.ProductID]+want[2][lot.ProductID]+100)
	}
	if got := v.RegularAt(lot.WarehouseID, lot.ProductID); got != want[lot.WarehouseID][lot.ProductID]+100 {
		t.Errorf("after a change: RegularAt %d, want %d", got, want[lot.WarehouseID][lot.ProductID]+100)
	}
	// Lots leave regular stock 48 h before they expire: once every lot
	// has, nothing is available; back before that (a clock set back), the
	// units count again.
	now = t0.Add(9 * 24 * time.Hour)
	for _, p := range v.Products(yeonhui, Filter{}) {
		if p.Available != 0 {
			t.Fatalf("%+v available 48 h before every lot expires", p)
		}
	}
	now = t0
	if page := v.Products(yeonhui, Filter{}); available(page, src.products[0].ID) != want[1][src.products[0].ID]+want[2][src.products[0].ID] {
		t.Errorf("after the clock went back: %d, want %d", available(page, src.products[0].ID), want[1][src.products[0].ID]+want[2][src.products[0].ID])
	}
}

// The listing written from the catalog's encoded lines is what
// encoding/json makes of the same page, quotes, markup and Korean in the
// names included, for searches, categories, pages and addresses nobody
// serves.
func TestEncodedLinesAreWhatJSONWrites(t *testing.T) {
	now := t0
	src := fakeSource{warehouses: []domain.Warehouse{mapo, eunpyeng, songpa}}
	names := [][2]string{{`우유 "1L"`, `Milk <fresh> & "whole"`}, {`두부\부침`, "Tofu\tfirm"}, {"계란 \u2028", "Eggs\x01"}, {"딸기", "Strawberries"}}
	for i := range 40 {
		n := names[i%len(names)]
		src.products = append(src.products, domain.Product{ID: int64(100 + i), SKU: fmt.Sprintf("S-%02d", i), Name: fmt.Sprintf("%s %d", n[0], i),
			NameEn: n[1], Category: []string{"Dairy", "Tofu & eggs"}[i%2], Price: domain.KRW(1000 + i)})
		src.lots = append(src.lots, LotRow{ID: int64(i + 1), ProductID: int64(100 + i), WarehouseID: int64(i%3 + 1), OnHand: int64(i * 7),
			State: domain.Regular, ExpiresAt: t0.Add(10 * 24 * time.Hour)})
	}
	v := New(src, domain.DefaultLadder(), func() time.Time { return now })
	if err := v.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []domain.Point{yeonhui, jamsil, suwon} {
		for _, f := range []Filter{{}, {Query: "milk"}, {Query: `"1l"`}, {Query: "<fresh>"}, {Category: "tofu & eggs"}, {Query: "nothing"}, {Query: "\\"}} {
			for _, pg := range []Page{{}, {Limit: 7}, {Offset: 5, Limit: 3}, {Offset: 100, Limit: 3}} {
				ps, total := v.ProductsPage(addr, f, pg)
				want, err := json.Marshal(ps)
				if err != nil {
					t.Fatal(err)
				}
				got, gotTotal, err := v.ProductsJSON(addr, f, pg)
				if err != nil || !bytes.Equal(got, want) || gotTotal != total {
					t.Errorf("%v %+v %+v: %s (total %d, %v), want %s (total %d)", addr, f, pg, got, gotTotal, err, want, total)
				}
				// Written twice: the second reuses the first's buffer.
				for range 2 {
					var w bytes.Buffer
					gotTotal, err := v.WriteProductsJSON(&w, addr, f, pg)
					if err != nil || !bytes.Equal(w.Bytes(), want) || gotTotal != total {
						t.Errorf("%v %+v %+v written: %s (total %d, %v), want %s (total %d)", addr, f, pg, w.Bytes(), gotTotal, err, want, total)
					}
				}
			}
		}
	}
}

// A search's result is kept with the catalog: asked again it is the same,
// with the quantities of now; after the catalog reloads, the search runs
// on the new names. More distinct searches than are kept still answer
// right.
func TestSearchesAreKeptWithTheCatalog(t *testing.T) {
	now := t0
	src := &fakeSource{warehouses: []domain.Warehouse{mapo}}
	for i := range 300 {
		src.products = append(src.products, domain.Product{ID: int64(1 + i), SKU: fmt.Sprintf("S-%03d", i), Name: fmt.Sprintf("우유 %d호", i),
			NameEn: fmt.Sprintf("Milk no.%d", i), Category: "Dairy", Price: 1000})
		src.lots = append(src.lots, LotRow{ID: int64(i + 1), ProductID: int64(1 + i), WarehouseID: 1, OnHand: 5, State: domain.Regular, ExpiresAt: t0.Add(10 * 24 * time.Hour)})
	}
	v := New(src, domain.DefaultLadder(), func() time.Time { return now })
	if err := v.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	search := func(q string) []ProductAvailability {
		t.Helper()
		body, total, err := v.ProductsJSON(yeonhui, Filter{Query: q}, Page{Limit: MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		ps := decodeListing(t, body)
		if total != len(ps) {
			t.Fatalf("%q: total %d for %d products", q, total, len(ps))
		}
		return ps
	}
	if ps := search("no.12"); len(ps) != 11 || ps[0].ID != 13 || ps[0].Available != 5 {
		t.Fatalf("no.12: %+v", ps)
	}
	v.Apply(domain.LotEvent{LotID: 13, ProductID: 13, WarehouseID: 1, OnHand: 9, State: domain.Regular, Seq: 1, ExpiresAt: t0.Add(10 * 24 * time.Hour)})
	if ps := search("No.12"); len(ps) != 11 || ps[0].ID != 13 || ps[0].Available != 9 {
		t.Fatalf("no.12 again, after a change: %+v", ps)
	}
	src.products[12].NameEn = "Tofu no.twelve"
	if err := v.LoadCatalog(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ps := search("no.12"); len(ps) != 10 || ps[0].ID == 13 {
		t.Fatalf("no.12 after the catalog changed: %+v", ps)
	}
	if ps := search("tofu"); len(ps) != 1 || ps[0].ID != 13 {
		t.Fatalf("tofu after the catalog changed: %+v", ps)
	}
	for i := range maxSearches + 50 {
		q := fmt.Sprintf("no.%d", i)
		want := 0
		for _, p := range src.products {
			if strings.Contains(strings.ToLower(p.NameEn), q) {
				want++
			}
		}
		if got := len(search(q)); got != want {
			t.Fatalf("search %d (%q): %d products, want %d", i, q, got, want)
		}
	}
}
