// Command clustercheck checks that a cluster of ShelfLife nodes behaves as
// one shop for a shopper's order socket: each order is placed on one node,
// watched on another's socket and approved on a third, and every socket
// must receive PAID. It prints how long the status changes took from
// their commit to the socket. Exit status 1 means a socket missed PAID,
// 2 a usage or setup error. `make cluster-check` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"shelflife/loadtest"
)

// errMissed reports a run where some socket did not receive PAID.
var errMissed = errors.New("some order sockets missed PAID")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errMissed):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "clustercheck:", err)
		os.Exit(2)
	}
}

type nodeList []string

func (n *nodeList) String() string     { return strings.Join(*n, ",") }
func (n *nodeList) Set(v string) error { *n = append(*n, strings.TrimRight(v, "/")); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clustercheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nodes nodeList
	fs.Var(&nodes, "node", "a node's base URL (repeat; two at least)")
	orders := fs.Int("orders", 300, "orders, each placed, watched and approved on three different nodes")
	concurrency := fs.Int("concurrency", 32, "shoppers checking out at once")
	adminEmail := fs.String("admin-email", "admin@shelflife.test", "admin account")
	adminPassword := fs.String("admin-password", "shelflife-demo", "admin password")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(nodes) < 2 || *orders < 1 || *concurrency < 1 {
		return errors.New("two -node at least; -orders and -concurrency positive")
	}
	cfg := loadtest.Config{
		Client: loadtest.NewClient(nodes, *concurrency*4), AdminEmail: *adminEmail, AdminPassword: *adminPassword,
		Shoppers: *orders, Stock: int64(*orders), Concurrency: *concurrency,
	}
	site, err := loadtest.Setup(ctx, cfg)
	if err != nil {
		return err
	}
	// The warehouse and product were made through some nodes; the others
	// learn of them through the catalog topic.
	if err := waitForProduct(ctx, cfg, site, nodes); err != nil {
		return err
	}
	rec := loadtest.NewRecorder()
	res, err := loadtest.CrossNode(ctx, cfg, site, nodes, rec)
	if err != nil {
		return err
	}
	sum := rec.Summary()
	fmt.Fprintf(stdout, "\ncross-node order sockets over %s: %d orders, PAID reached the socket on another node for %d\n\n", nodes.String(), res.Orders, res.Reached)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tcount\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
	for _, s := range sum.Steps {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", s.Step, s.Count, s.P50, s.P90, s.P99, s.Max)
	}
	tw.Flush()
	if len(res.Missed) > 0 {
		fmt.Fprintf(stdout, "\n%d sockets missed PAID:\n", len(res.Missed))
		for i, m := range res.Missed {
			if i == 20 {
				fmt.Fprintf(stdout, "  ... and %d more\n", len(res.Missed)-20)
				break
			}
			fmt.Fprintln(stdout, "  "+m)
		}
		return errMissed
	}
	fmt.Fprintln(stdout, "\nevery order socket received PAID")
	return nil
}

// waitForProduct waits until every node lists the site's product near it
// with the whole stock (the lot reaches the other nodes' read models
// through the stock topic).
func waitForProduct(ctx context.Context, cfg loadtest.Config, site loadtest.Site, nodes []string) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		for {
			var products []listed
			err := cfg.Client.Do(ctx, "GET", fmt.Sprintf("%s/api/v1/products?lat=%.4f&lng=%.4f", n, site.Lat+0.001, site.Lng), "", nil, &products)
			if err == nil && hasProduct(products, site.ProductID, cfg.Stock) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node %s does not list product %d after 30 s (last error: %v)", n, site.ProductID, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

type listed struct {
	ID        int64 `json:"id"`
	Available int64 `json:"available"`
}

func hasProduct(products []listed, id, stock int64) bool {
	for _, p := range products {
		if p.ID == id && p.Available >= stock {
			return true
		}
	}
	return false
}
