package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"syscall"
	"time"

	"shelflife/config"
)

// serveDebug serves Go's profiler on addr, for measuring a node under load
// (go tool pprof http://addr/debug/pprof/profile?seconds=10), and the
// Prometheus metrics at /metrics when metrics is not nil.
func serveDebug(addr string, metrics http.Handler) (func(context.Context) error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("operator listener %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	if metrics != nil {
		mux.Handle("/metrics", metrics)
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv.Shutdown, nil
}

// listenError explains an address that cannot be listened on; when it is
// taken, it names the setting that moves it.
func listenError(key, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s %s is already in use (another shelflife still running?): stop it, or choose another address with %s%s=127.0.0.1:PORT or %s in the config file: %w",
			key, addr, config.EnvPrefix, strings.ToUpper(key), key, err)
	}
	return fmt.Errorf("listen on %s %s: %w", key, addr, err)
}

// listen listens on the address of the setting key.
func listen(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, listenError(key, addr, err)
	}
	return ln, nil
}
