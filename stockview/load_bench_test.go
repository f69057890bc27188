package stockview

import (
	"context"
	"fmt"
	"testing"
	"time"

	"shelflife/domain"
)

// BenchmarkLoad indexes the scale data set's shape (scaleShape).
func BenchmarkLoad(b *testing.B) {
	src := scaleShape()
	now := t0
	b.ResetTimer()
	for range b.N {
		v := New(src, domain.DefaultLadder(), func() time.Time { return now })
		if err := v.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCatchUp is a node's catch-up just after it loaded the scale
// data set's shape, nothing changed meanwhile: every row read again and
// found no newer than the view's.
func BenchmarkCatchUp(b *testing.B) {
	src := scaleShape()
	now := t0
	v := New(src, domain.DefaultLadder(), func() time.Time { return now })
	if err := v.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := v.CatchUp(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// scaleShape is the scale data set's shape: 20,000 products, 50
// warehouses, 950,000 live lots.
func scaleShape() fakeSource {
	var src fakeSource
	for i := range 50 {
		src.warehouses = append(src.warehouses, domain.Warehouse{ID: int64(i + 1), Name: fmt.Sprint(i), Lat: 37.5, Lng: 127, RadiusKm: 5})
	}
	for i := range 20_000 {
		src.products = append(src.products, domain.Product{ID: int64(i + 1), SKU: fmt.Sprintf("S-%06d", i), Name: fmt.Sprintf("하늘 우유 %d호", i),
			NameEn: fmt.Sprintf("Haneul Milk no.%d", i), Category: "Dairy", Price: 1000})
	}
	for i := range 950_000 {
		src.lots = append(src.lots, LotRow{ID: int64(i + 1), ProductID: int64(i*7919%20_000 + 1), WarehouseID: int64(i%50 + 1),
			ExpiresAt: t0.Add(time.Duration(i%600) * time.Hour), OnHand: 10, State: domain.Regular})
	}
	return src
}
