// Command devstack runs, in one process, what several local nodes share
// besides MySQL and Redis: the in-process Kafka-protocol broker and the fake
// Kakao Pay. make cluster starts it once, then three nodes pointing at it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"shelflife/kafkabus"
	"shelflife/kakaopay/kakaofake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	kafkaPort := fs.Int("kafka-port", 19092, "port of the Kafka-protocol broker on 127.0.0.1")
	kakaoAddr := fs.String("kakao-addr", "127.0.0.1:8090", "address of the fake Kakao Pay")
	if err := fs.Parse(args); err != nil {
		return err
	}
	broker, err := kafkabus.StartEmbedded(*kafkaPort)
	if err != nil {
		return err
	}
	defer broker.Close()
	fake := kakaofake.New(15 * time.Minute)
	url, stopFake, err := fake.Listen(*kakaoAddr)
	if err != nil {
		return err
	}
	defer stopFake()
	fmt.Fprintf(out, "kafka %s\nkakao %s\n", strings.Join(broker.Addrs(), ","), url)
	<-ctx.Done()
	return nil
}
