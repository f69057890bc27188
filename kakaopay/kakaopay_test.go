package kakaopay_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"shelflife/kakaopay"
)

// Calls made at once reuse the connections of earlier ones instead of
// dialling one per call, and never open more than MaxConns.
func TestConnectionsAreReusedAndBounded(t *testing.T) {
	var opened, open, peak atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"tid":"T1","next_redirect_pc_url":"http://kakao/T1"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
			if n := open.Add(1); n > peak.Load() {
				peak.Store(n)
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := kakaopay.New(kakaopay.Config{BaseURL: srv.URL, SecretKey: "k", MaxConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r, err := c.Ready(ctx, kakaopay.ReadyRequest{PartnerOrderID: "o", PartnerUserID: "1", ItemName: "x", Quantity: 1, TotalAmount: 1000}); err != nil || r.TID != "T1" {
					t.Errorf("ready = %+v, %v", r, err)
				}
			}()
		}
		wg.Wait()
	}
	if opened.Load() > 20 || peak.Load() > 20 {
		t.Errorf("150 calls opened %d connections, %d at once; want at most 20", opened.Load(), peak.Load())
	}
}
