package simulate

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// The same seed gives the same table: a short run of both policies twice,
// each in its own scratch database.
func TestSameSeedSameTable(t *testing.T) {
	server := mysqltest.ServerDSN()
	// Two days of 10 products in 2 warehouses, in half-hour steps, every
	// product keeping 3 days: the first day's lots close on the second, so
	// deals are sold and markdowns evaluated.
	p := DefaultParams()
	p.Days, p.Products, p.Warehouses, p.Step = 2, 10, 2, 30*time.Minute
	p.ShelfLife, p.DefaultShelfLife = nil, 3*24*time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	table := func(round int) (string, Result) {
		res := map[domain.MarkdownMode]Result{}
		for _, mode := range []domain.MarkdownMode{domain.LadderMarkdown, domain.AdaptiveMarkdown} {
			db := fmt.Sprintf("slt_sim_%d_%d_%s", time.Now().UnixNano(), round, mode)
			r, err := Run(ctx, Config{Params: p, Mode: mode, MySQL: server, Database: db})
			if err != nil {
				t.Fatalf("round %d %s: %v", round, mode, err)
			}
			res[mode] = r
		}
		var b bytes.Buffer
		WriteTable(&b, p, res[domain.LadderMarkdown], res[domain.AdaptiveMarkdown])
		return b.String(), res[domain.LadderMarkdown]
	}
	first, ladder := table(1)
	second, _ := table(2)
	if first != second {
		t.Errorf("same seed, different tables:\n%s\n%s", first, second)
	}
	// The run did something: shoppers came, bought, and the lots that
	// closed were sold as deals; every unit is sold, wasted or in stock.
	if ladder.Shoppers == 0 || ladder.UnitsSold == 0 || ladder.DealUnits == 0 || ladder.Refused != 0 {
		t.Errorf("ladder run: %+v", ladder)
	}
	if ladder.UnitsSold+ladder.UnitsWasted+ladder.StockAtTheEnd != ladder.Received {
		t.Errorf("units not conserved: %+v", ladder)
	}
}

func TestPoissonMeanAndCurve(t *testing.T) {
	c := normalised(DefaultParams().DailyCurve)
	var sum float64
	for _, v := range c {
		sum += v
	}
	if sum < 23.999 || sum > 24.001 {
		t.Errorf("curve sums to %v, want 24", sum)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lambda := range []float64{0.3, 2, 6} {
		total := 0
		const n = 20000
		for i := 0; i < n; i++ {
			total += poisson(rng, lambda)
		}
		if mean := float64(total) / n; mean < lambda*0.95 || mean > lambda*1.05 {
			t.Errorf("poisson(%v) mean %v", lambda, mean)
		}
	}
	if poisson(rng, 0) != 0 {
		t.Error("poisson(0) drew shoppers")
	}
}
