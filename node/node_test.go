package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"shelflife/config"
	"shelflife/demo"
	"shelflife/domain"
	"shelflife/persistence/mysqlstore/mysqltest"
	"shelflife/stockview"
)

func testConfig(t *testing.T) config.Node {
	t.Helper()
	cfg, err := config.Load("../configs/test.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.MySQLDSN = mysqltest.NewDSN(t)
	// Its own Redis keys too: carts and the sign-in counters of one test
	// must not meet another's (or an earlier run's).
	cfg.RedisPrefix = fmt.Sprintf("slt-test-%d:", time.Now().UnixNano())
	return cfg
}

func TestNodeServesDemoAndShutsDown(t *testing.T) {
	cfg := testConfig(t)
	cfg.Demo = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(n.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != 200 || ready.Status != "ok" || len(ready.Checks) != 4 {
		t.Errorf("readyz = %d %+v, want 200 with mysql, redis, kafka and cluster ok", resp.StatusCode, ready)
	}
	resp, err = http.Post(n.URL()+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"`+demo.Shopper1Email+`","password":"`+demo.Password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("demo shopper login: %d", resp.StatusCode)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := http.Get(n.URL() + "/healthz"); err == nil {
		t.Error("the node still answers after Shutdown")
	}
}

func TestStartFailsCleanlyWhenMySQLIsUnreachable(t *testing.T) {
	cfg := testConfig(t)
	cfg.MySQLDSN = "root@tcp(127.0.0.1:1)/shelflife?timeout=1s"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := Start(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err == nil {
		n.Shutdown(ctx)
		t.Fatal("Start succeeded without MySQL")
	}
}

// What another node changes while this one loads its read model and joins
// the cluster, before it listens to the others' announcements, reaches the
// read model all the same: the catalog at once, the lots soon after.
func TestReadModelCatchesUpWithChangesMadeWhileStarting(t *testing.T) {
	cfg := testConfig(t)
	at := time.Now()
	var productID int64
	hook := func(n *Node, step string) {
		if step != "cluster" { // the read model is loaded; nothing is heard yet
			return
		}
		ctx := context.Background()
		w, err := n.store.CreateWarehouse(ctx, domain.Warehouse{Name: "Gap", Region: "R", Lat: 37.5145, Lng: 127.1059, RadiusKm: 5})
		if err != nil {
			t.Error(err)
			return
		}
		p, err := n.store.CreateProduct(ctx, domain.Product{SKU: "GAP", Name: "틈새", Category: "C", Price: 1000})
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := n.store.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, ExpiresAt: at.Add(10 * 24 * time.Hour), Received: 42}, at); err != nil {
			t.Error(err)
			return
		}
		productID = p.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), afterStep: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	if productID == 0 {
		t.Fatal("the change was not made")
	}
	if _, ok := n.View().Product(productID); !ok {
		t.Error("the product added while the node started is not in its catalog once it has started")
	}
	jamsil := domain.Point{Lat: 37.5133, Lng: 127.1001}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got int64 = -1
		for _, p := range n.View().Products(jamsil, stockview.Filter{}) {
			if p.ID == productID {
				got = p.Available
			}
		}
		if got == 42 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lot received while the node started: available %d in its read model after 10 s, want 42", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
