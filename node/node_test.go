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
	var productID int64
	hook := func(n *Node, step string) {
		if step == "cluster" { // the read model is loaded; nothing is heard yet
			productID = writeUnannounced(t, n, "GAP", 42)
		}
	}
	n := startWith(t, testConfig(t), hook)
	if productID == 0 {
		t.Fatal("the change was not made")
	}
	if _, ok := n.View().Product(productID); !ok {
		t.Error("the product added while the node started is not in its catalog once it has started")
	}
	waitAvailableInJamsil(t, n, productID, 42, "the lot received while the node started")
}

// A catalog and lot change the node never heard of (announcements dropped
// while Kafka was away) reach its read model by the next refresh.
func TestReadModelRefreshTakesWhatItNeverHeard(t *testing.T) {
	cfg := testConfig(t)
	cfg.ReadModelRefresh = config.Duration(200 * time.Millisecond)
	n := startWith(t, cfg, nil)
	productID := writeUnannounced(t, n, "QUIET", 17)
	waitAvailableInJamsil(t, n, productID, 17, "a lot the node never heard of")
}

// startWith starts a node, stopped when t ends.
func startWith(t *testing.T, cfg config.Node, afterStep func(*Node, string)) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), afterStep: afterStep})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n
}

// writeUnannounced writes a warehouse in Songpa, a product sku and a lot
// of received units of it to MySQL behind the node's back (nothing is
// announced) and answers the product's id (0 after a failure, reported).
func writeUnannounced(t *testing.T, n *Node, sku string, received int64) int64 {
	ctx, at := context.Background(), time.Now()
	w, err := n.store.CreateWarehouse(ctx, domain.Warehouse{Name: sku, Region: "R", Lat: 37.5145, Lng: 127.1059, RadiusKm: 5})
	if err != nil {
		t.Error(err)
		return 0
	}
	p, err := n.store.CreateProduct(ctx, domain.Product{SKU: sku, Name: "틈새 " + sku, Category: "C", Price: 1000})
	if err != nil {
		t.Error(err)
		return 0
	}
	if _, err := n.store.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, ExpiresAt: at.Add(10 * 24 * time.Hour), Received: received}, at); err != nil {
		t.Error(err)
		return 0
	}
	return p.ID
}

// waitAvailableInJamsil waits up to 10 s for the node's read model to show
// want units of the product near Jamsil.
func waitAvailableInJamsil(t *testing.T, n *Node, productID, want int64, what string) {
	t.Helper()
	jamsil := domain.Point{Lat: 37.5133, Lng: 127.1001}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got int64 = -1
		for _, p := range n.View().Products(jamsil, stockview.Filter{}) {
			if p.ID == productID {
				got = p.Available
			}
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: available %d in the node's read model after 10 s, want %d", what, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
