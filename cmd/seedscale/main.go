// Command seedscale loads the scale data set (package scaledata) into a
// database of its own, created afresh: `make seed-scale`. It prints what it
// loaded and how long it took.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/go-sql-driver/mysql"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
	"shelflife/scaledata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "seedscale:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	d := scaledata.Defaults()
	fs := flag.NewFlagSet("seedscale", flag.ContinueOnError)
	server := fs.String("mysql", "root@tcp(127.0.0.1:3306)/", "MySQL server")
	name := fs.String("db", "shelflife_scale", "database to (re)create and load; it is dropped first")
	fs.IntVar(&d.Warehouses, "warehouses", d.Warehouses, "warehouses")
	fs.IntVar(&d.Products, "products", d.Products, "products")
	fs.IntVar(&d.Lots, "lots", d.Lots, "lots, hot lots included")
	fs.IntVar(&d.HotLots, "hot-lots", d.HotLots, "lots with long ledgers")
	fs.IntVar(&d.LedgerRows, "ledger-rows", d.LedgerRows, "ledger rows of each hot lot")
	fs.Uint64Var(&d.Seed, "seed", d.Seed, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mc, err := mysql.ParseDSN(*server)
	if err != nil {
		return err
	}
	if err := recreate(ctx, *server, *name); err != nil {
		return err
	}
	mc.DBName = *name
	start := time.Now()
	store, err := mysqlstore.Open(ctx, mysqlstore.Config{DSN: mc.FormatDSN(), MaxOpenConns: 4})
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	d.Progress = func(s string) { fmt.Fprintf(out, "  %s\n", s) }
	fmt.Fprintf(out, "loading into %s at %s\n", *name, mc.Addr)
	res, err := scaledata.Load(ctx, store.DB(), d)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "loaded %d warehouses, %d products, %d lots (%d regular, %d closing soon, %d expired), %d hot lots with %d ledger rows in all\n",
		len(res.Warehouses), len(res.Products), res.LastLot-res.FirstLot+1, res.States[domain.Regular], res.States[domain.ClosingSoon],
		res.States[domain.Expired], len(res.HotLots), res.LedgerRows)
	if len(res.HotLots) > 0 {
		fmt.Fprintf(out, "hot lots: ids %d-%d\n", res.HotLots[0], res.HotLots[len(res.HotLots)-1])
	}
	fmt.Fprintf(out, "took %s (load %s)\n", time.Since(start).Round(time.Millisecond), res.Elapsed.Round(time.Millisecond))
	return nil
}

func recreate(ctx context.Context, server, name string) error {
	db, err := sql.Open("mysql", server)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
	return err
}
