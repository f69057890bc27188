// Command simulate runs the simulated fortnight of `make simulate`: the same
// demand under the markdown ladder and under adaptive markdown, against the
// real lot and warehouse grains and MySQL (a database per policy, created
// and dropped). It prints a table and one JSON line
// {"ladder": {...}, "adaptive": {...}}. The model is simulate.Params.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"shelflife/domain"
	"shelflife/simulate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out, progress io.Writer) error {
	p := simulate.DefaultParams()
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	server := fs.String("mysql", "root@tcp(127.0.0.1:3306)/", "MySQL server (no database)")
	db := fs.String("db", "shelflife_simulate", "database name prefix: <prefix>_ladder and <prefix>_adaptive are created and dropped")
	keep := fs.Bool("keep", false, "keep the databases for inspection")
	fs.IntVar(&p.Days, "days", p.Days, "simulated days")
	fs.Uint64Var(&p.Seed, "seed", p.Seed, "demand seed")
	fs.Float64Var(&p.OverSupply, "oversupply", p.OverSupply, "what the over-supplied products receive, times their expected sales at the list price")
	fs.Float64Var(&p.OverSupplied, "oversupplied", p.OverSupplied, "the share of products over-supplied")
	if err := fs.Parse(args); err != nil {
		return err
	}
	results := map[string]simulate.Result{}
	for _, mode := range []domain.MarkdownMode{domain.LadderMarkdown, domain.AdaptiveMarkdown} {
		start := time.Now()
		r, err := simulate.Run(ctx, simulate.Config{Params: p, Mode: mode, MySQL: *server,
			Database: *db + "_" + string(mode), Keep: *keep})
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		fmt.Fprintf(progress, "%s: %d days simulated in %s\n", mode, p.Days, time.Since(start).Round(time.Second))
		results[string(mode)] = r
	}
	simulate.WriteTable(out, p, results["ladder"], results["adaptive"])
	line, err := json.Marshal(map[string]simulate.Result{"ladder": results["ladder"], "adaptive": results["adaptive"]})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, string(line))
	return nil
}
