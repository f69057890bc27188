package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is written by run's goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestServesTheLedger(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, &out) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "ledger: ") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	line := out.String()
	url := strings.TrimSuffix(strings.TrimSpace(line[strings.Index(line, "ledger: ")+len("ledger: "):]), ")")
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	var l struct{ Taken int64 }
	json.NewDecoder(resp.Body).Decode(&l)
	resp.Body.Close()
	if resp.StatusCode != 200 || l.Taken != 0 {
		t.Errorf("ledger: %d %+v", resp.StatusCode, l)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	if err := run(context.Background(), []string{"-decline-rate", "2"}, &out); err == nil {
		t.Error("a decline rate of 2 was accepted")
	}
}
