package stockview

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"shelflife/domain"
)

// scaleView is a view shaped like the scale data set's (make seed-scale):
// 20,000 products named maker, food, size and number in Korean and
// English, 50 warehouses over Seoul and Gyeonggi, lots of every product in
// every warehouse's reach.
func scaleView(tb testing.TB, lots int) *View {
	tb.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	foods := [][2]string{{"우유", "Milk"}, {"두부", "Tofu"}, {"딸기", "Strawberries"}, {"삼겹살", "Pork belly"}, {"베이글", "Bagel"},
		{"김밥", "Gimbap"}, {"고등어", "Mackerel"}, {"시금치", "Spinach"}, {"요거트", "Yogurt"}, {"계란", "Eggs"}}
	makers := [][2]string{{"하늘", "Haneul"}, {"바다", "Bada"}, {"초록", "Chorok"}, {"새벽", "Saebyeok"}, {"들판", "Deulpan"}}
	sizes := []string{"100g", "500g", "1kg", "x4", "1L"}
	cats := []string{"Dairy", "Tofu & eggs", "Fruit", "Meat", "Bakery", "Ready meals", "Seafood", "Vegetables"}
	var src fakeSource
	for i := range 50 {
		lat, lng, r := 37.45+float64(i%5)*0.06, 126.85+float64(i/5)*0.03, 4.5
		if i >= 25 {
			lat, lng, r = 37.2+float64(i%5)*0.15, 126.75+float64((i-25)/5)*0.15, 9
		}
		src.warehouses = append(src.warehouses, domain.Warehouse{ID: int64(i + 1), Name: fmt.Sprint(i), Lat: lat, Lng: lng, RadiusKm: r})
	}
	for i := range 20_000 {
		f, m, s := foods[rng.IntN(len(foods))], makers[rng.IntN(len(makers))], sizes[rng.IntN(len(sizes))]
		src.products = append(src.products, domain.Product{ID: int64(i + 1), SKU: fmt.Sprintf("SCALE-%06d", i+1),
			Name: fmt.Sprintf("%s %s %s %d호", m[0], f[0], s, i+1), NameEn: fmt.Sprintf("%s %s %s no.%d", m[1], f[1], s, i+1),
			Category: cats[rng.IntN(len(cats))], Price: domain.KRW(500 + 10*rng.IntN(3000))})
	}
	for i := range lots {
		src.lots = append(src.lots, LotRow{ID: int64(i + 1), ProductID: int64(rng.IntN(20_000) + 1), WarehouseID: int64(rng.IntN(50) + 1),
			ExpiresAt: t0.Add(time.Duration(72+rng.IntN(600)) * time.Hour), OnHand: int64(1 + rng.IntN(40)), State: domain.Regular})
	}
	v := New(src, domain.DefaultLadder(), func() time.Time { return t0 })
	if err := v.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return v
}

// searchTerms are the scale bench's searches (cmd/benchinv).
var searchTerms = []string{"milk", "우유", "tofu", "두부", "haneul", "하늘", "no.12", "strawberries", "삼겹살", "bagel", "1kg", "scale-0012", "gimbap", "xyz-nothing"}

// BenchmarkSearchJSON is one search page (the default 100 items) for a
// random address in the scale set's area, encoded.
func BenchmarkSearchJSON(b *testing.B) {
	v := scaleView(b, 200_000)
	rng := rand.New(rand.NewPCG(7, 8))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		addr := domain.Point{Lat: 37.2 + rng.Float64()*0.6, Lng: 126.75 + rng.Float64()*0.6}
		if _, _, err := v.ProductsJSON(addr, Filter{Query: searchTerms[i%len(searchTerms)]}, Page{Limit: DefaultPageSize}); err != nil {
			b.Fatal(err)
		}
	}
}
