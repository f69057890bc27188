// Command shelflife runs one ShelfLife node: the HTTP API and pages, a
// member of the actor cluster, and (without configured brokers) an embedded
// Kafka-protocol broker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"shelflife/config"
	"shelflife/demo"
	"shelflife/node"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "shelflife:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shelflife", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("SHELFLIFE_CONFIG"), "YAML configuration file (env SHELFLIFE_CONFIG)")
	printEnv := fs.Bool("print-env", false, "list the environment variables the configuration reads, then exit")
	healthcheck := fs.String("healthcheck", "", "GET this URL and exit 0 when it answers 200 (for container health checks)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *healthcheck != "" {
		return probe(ctx, *healthcheck)
	}
	if *printEnv {
		for _, name := range config.EnvNames() {
			fmt.Fprintln(stdout, name)
		}
		return nil
	}
	cfg, err := config.Load(*configPath, getenv)
	if err != nil {
		return err
	}
	log := node.NewLogger(cfg, stderr)
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	n, err := node.Start(startCtx, cfg, node.Options{Logger: log})
	cancel()
	if err != nil {
		return err
	}
	banner(stdout, n.URL(), n.KakaoURL(), n.KakaoFake() != nil, cfg.Demo)

	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", "signal")
	case err := <-n.Served():
		log.Error("http server stopped", "error", fmt.Sprint(err))
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
	defer cancel()
	if err := n.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

func banner(w io.Writer, url, kakaoURL string, fakeKakao, demoData bool) {
	fmt.Fprintf(w, "\nShelfLife is running at %s\n", url)
	fmt.Fprintf(w, "  storefront  %s/\n  admin       %s/admin\n  API         %s/api/v1/openapi.yaml\n  health      %s/readyz\n", url, url, url, url)
	if fakeKakao {
		fmt.Fprintf(w, "  fake Kakao Pay  %s (ledger: %s/fake/v1/ledger)\n", kakaoURL, kakaoURL)
	}
	if demoData {
		fmt.Fprintf(w, "\nDemo accounts (password %q):\n  %s (admin)\n  %s (shopper, %s)\n  %s (shopper, %s)\n\n",
			demo.Password, demo.AdminEmail,
			demo.Shopper1Email, demo.Neighbourhoods[0].Label,
			demo.Shopper2Email, demo.Neighbourhoods[2].Label)
	}
}
