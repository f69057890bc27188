// Command fakekakao runs the fake Kakao Pay on its own, for demos and load
// tests against nodes configured with kakao_base_url pointing at it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"shelflife/kakaopay/kakaofake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fakekakao:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fakekakao", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	validity := fs.Duration("validity", 15*time.Minute, "how long a ready payment can be approved")
	declineRate := fs.Float64("decline-rate", 0, "fraction of approvals to decline at random")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *declineRate < 0 || *declineRate > 1 {
		return fmt.Errorf("-decline-rate %v: between 0 and 1", *declineRate)
	}
	s := kakaofake.New(*validity)
	s.SetDeclineRate(*declineRate)
	url, stopServer, err := s.Listen(*addr)
	if err != nil {
		return err
	}
	defer stopServer()
	fmt.Fprintf(out, "fake Kakao Pay at %s (ledger: %s/fake/v1/ledger)\n", url, url)
	<-ctx.Done()
	return nil
}
