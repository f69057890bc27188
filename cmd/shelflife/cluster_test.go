package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"shelflife/cluster/etcdtest"
	"shelflife/kafkabus"
	"shelflife/kakaopay"
	"shelflife/kakaopay/kakaofake"
	"shelflife/persistence/mysqlstore/mysqltest"
)

type clusterNode struct {
	p      *proc
	base   string
	env    []string
	remote string
	dead   atomic.Bool
}

// startCluster starts n node processes forming one automanaged cluster on
// shared MySQL, Kafka and fake Kakao Pay.
func startCluster(t *testing.T, n int) ([]*clusterNode, string, *kakaofake.Server) {
	t.Helper()
	return startClusterWith(t, n, "automanaged")
}

// startClusterWith starts n node processes forming one cluster whose
// members find each other through provider: "automanaged" (a static list
// of peers) or "etcd" (a real etcd server started for the test).
func startClusterWith(t *testing.T, n int, provider string) ([]*clusterNode, string, *kakaofake.Server) {
	t.Helper()
	bin := buildNode(t)
	broker, err := kafkabus.StartEmbedded(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	fake := kakaofake.New(15 * time.Minute)
	kakaoURL, stopFake, err := fake.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopFake)
	dsn := mysqltest.NewDSN(t)
	var peers, automan []string
	for i := 0; i < n; i++ {
		a := freePort(t)
		automan = append(automan, a[strings.LastIndex(a, ":")+1:])
		peers = append(peers, a)
	}
	common := []string{
		"SHELFLIFE_CONFIG=../../configs/test.yaml",
		"SHELFLIFE_MYSQL_DSN=" + dsn,
		"SHELFLIFE_KAFKA_BROKERS=" + strings.Join(broker.Addrs(), ","),
		"SHELFLIFE_KAKAO_BASE_URL=" + kakaoURL,
		"SHELFLIFE_ADMIN_PASSWORD=admin-pass-123",
		"SHELFLIFE_REDIS_PREFIX=slt-cluster-" + fmt.Sprint(time.Now().UnixNano()) + ":",
		"SHELFLIFE_SWEEP_INTERVAL=500ms",
		// A checkout cut by a node's loss leaves its order waiting for
		// payment; the shoppers keep buying all the same.
		"SHELFLIFE_MAX_UNPAID_ORDERS=0",
		"SHELFLIFE_SAGA_STUCK_AFTER=2s",
		"SHELFLIFE_CLUSTER_NAME=failover-test",
		"SHELFLIFE_CLUSTER_PROVIDER=" + provider,
		"SHELFLIFE_LOG_LEVEL=info",
	}
	switch provider {
	case "automanaged":
		common = append(common, "SHELFLIFE_CLUSTER_PEERS="+strings.Join(peers, ","))
	case "etcd":
		common = append(common, "SHELFLIFE_CLUSTER_ETCD_ENDPOINTS="+etcdtest.Start(t))
	default:
		t.Fatalf("provider %q", provider)
	}
	var nodes []*clusterNode
	for i := 0; i < n; i++ {
		httpAddr, remote := freePort(t), freePort(t)
		env := append(append([]string{}, common...),
			"SHELFLIFE_HTTP_ADDR="+httpAddr,
			"SHELFLIFE_CLUSTER_PORT="+remote[strings.LastIndex(remote, ":")+1:])
		if provider == "automanaged" {
			env = append(env, "SHELFLIFE_CLUSTER_AUTOMAN_PORT="+automan[i])
		}
		cn := &clusterNode{base: "http://" + httpAddr, env: env, remote: remote}
		cn.p = startNode(t, bin, env)
		nodes = append(nodes, cn)
	}
	// Wait until every node sees every member.
	admin := api{t: t, base: nodes[0].base}.login("admin@shelflife.test", "admin-pass-123")
	deadline := time.Now().Add(30 * time.Second)
	for _, cn := range nodes {
		for {
			var info struct{ Members []string }
			a := api{t: t, base: cn.base, token: admin.token}
			if _, err := a.call("GET", "/api/v1/admin/cluster", nil, &info); err == nil && len(info.Members) == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never saw %d members", cn.base, n)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nodes, dsn, fake
}

type attempt struct {
	at      time.Time
	latency time.Duration
	ok      bool
	order   string
	err     string
	// reloads: how many times the payer reloaded the approval redirect
	// after its first load got no answer (see payerCallback).
	reloads int
}

// payerCallback loads the approval redirect Kakao Pay sends the payer's
// browser to, as a person would behind a load balancer: a load meant for a
// dead node goes to a live one, and when the page does not come (the node
// died under the request, or answered 5xx while the cluster noticed) the
// payer reloads it, up to three times a second apart, each reload sent to
// another live node. A node killed after a callback committed the holds
// but before it recorded the pg_token leaves the order READY with its
// stock taken: the reload is what finishes it (or, when the payer never
// comes back, its expiry gives the stock back).
func payerCallback(t *testing.T, nodes []*clusterNode, loc string) (status string, reloads int, err error) {
	var done struct{ Status string }
	u, err := url.Parse(loc)
	if err != nil {
		return "", 0, err
	}
	path := u.RequestURI()
	host := u.Scheme + "://" + u.Host
	for ; ; reloads++ {
		if reloads > 0 || deadNode(nodes, host) {
			host = liveNodeOtherThan(nodes, host)
		}
		var code int
		code, err = api{t: t, base: host}.call("GET", path, nil, &done)
		if err == nil || (code != 0 && code < 500) || reloads == 3 {
			return done.Status, reloads, err
		}
		time.Sleep(time.Second)
	}
}

// deadNode reports whether base is a node the test stopped or killed.
func deadNode(nodes []*clusterNode, base string) bool {
	for _, cn := range nodes {
		if cn.base == base {
			return cn.dead.Load()
		}
	}
	return false
}

// liveNodeOtherThan picks a live node, another than base when there is one.
func liveNodeOtherThan(nodes []*clusterNode, base string) string {
	pick := base
	for _, cn := range nodes {
		if !cn.dead.Load() {
			if cn.base != base {
				return cn.base
			}
			pick = cn.base
		}
	}
	return pick
}

// startShopping runs shopLoop in the background; the returned func stops
// it and returns every attempt.
func startShopping(t *testing.T, nodes []*clusterNode, tokens []string, product int64) func() []attempt {
	stop := make(chan struct{})
	done := make(chan []attempt)
	go func() { done <- shopLoop(t, nodes, tokens, product, stop) }()
	var once sync.Once
	var attempts []attempt
	stopNow := func() []attempt {
		once.Do(func() {
			close(stop)
			attempts = <-done
		})
		return attempts
	}
	// A test that ends early stops its shoppers too.
	t.Cleanup(func() { stopNow() })
	return stopNow
}

// shopLoop runs checkouts of one unit from k shoppers against the live
// nodes, round robin, until stop closes; a dead node gets no traffic, as
// behind a load balancer that checks health.
func shopLoop(t *testing.T, nodes []*clusterNode, tokens []string, product int64, stop <-chan struct{}) []attempt {
	var mu sync.Mutex
	var out []attempt
	var next atomic.Int64
	var wg sync.WaitGroup
	noFollow := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var cn *clusterNode
				for cn == nil || cn.dead.Load() {
					cn = nodes[next.Add(1)%int64(len(nodes))]
				}
				a := api{t: t, base: cn.base, token: tok}
				start := time.Now()
				var o struct {
					OrderID string `json:"order_id"`
					Payment struct {
						RedirectURL string `json:"redirect_url"`
					}
				}
				at := attempt{at: start}
				_, perr := a.call("POST", "/api/v1/orders", map[string]any{"items": []map[string]any{{"product_id": product, "quantity": 1}}}, &o)
				if perr != nil {
					at.err = "order: " + perr.Error()
				}
				if perr == nil {
					at.order = o.OrderID
					if resp, err := noFollow.Post(o.Payment.RedirectURL+"/approve", "application/x-www-form-urlencoded", nil); err == nil {
						resp.Body.Close()
						status, reloads, cerr := payerCallback(t, nodes, resp.Header.Get("Location"))
						at.reloads = reloads
						switch {
						case cerr != nil:
							at.err = "callback: " + cerr.Error()
						case status != "PAID":
							at.err = "status " + status
						default:
							at.ok = true
						}
					}
				}
				at.latency = time.Since(start)
				mu.Lock()
				out = append(out, at)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// TestNodeLossDuringASale kills, with SIGKILL, the node hosting the hot
// lot while shoppers buy from it through all three nodes, once with each
// production-like provider, and checks what must hold whatever a node loss
// costs: no unit oversold, every acknowledged deduction persisted, no order
// both failed and charged, the killed node's sagas finished elsewhere. What
// the loss cost is printed, one line per provider (a measurement, not a
// timed assertion):
//
//	node-loss provider=<name> stall_s=<s> slowest_s=<s> failed=<n> oversold=<n>
//
// stall is the longest stretch after the kill with no checkout completing
// anywhere; slowest is the longest checkout among those the kill could
// touch (in flight at it or started after it); failed counts those of them
// that did not end PAID.
func TestNodeLossDuringASale(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three node processes")
	}
	for _, provider := range []string{"automanaged", "etcd"} {
		t.Run(provider, func(t *testing.T) { nodeLoss(t, provider) })
	}
}

func nodeLoss(t *testing.T, provider string) {
	sale := startHotSale(t, provider, 16, 3*time.Second)
	owner, dsn, fake, l := sale.owner, sale.dsn, sale.fake, sale.lot
	killedAt := time.Now()
	owner.p.cmd.Process.Signal(syscall.SIGKILL)
	time.Sleep(7 * time.Second)
	attempts := sale.stop()

	f := measureLoss(attempts, killedAt)
	t.Logf("node loss (%s): %d checkouts before the kill (%d in flight at it failed), %d after (%d failed); failures ended %.2fs after the kill; no checkout completed for %.2fs; slowest %.2fs",
		provider, f.before, f.inFlightFailed, f.after, f.failedAfter, f.window.Seconds(), f.stall.Seconds(), f.worst.Seconds())
	if f.failedBefore > 0 {
		t.Errorf("%d checkouts failed before any node was lost", f.failedBefore)
	}
	if f.completed == 0 {
		t.Fatal("no checkout completed after the kill")
	}
	reasons := map[string]int{}
	for _, a := range attempts {
		if !a.ok {
			r := a.err
			if len(r) > 90 {
				r = r[:90]
			}
			reasons[fmt.Sprintf("%.0fs %s", a.at.Sub(killedAt).Seconds(), r)]++
		}
	}
	t.Logf("failures after the kill (second, reason): %v", reasons)

	// The survivors resume the killed node's sagas and land compensations.
	oversold := settleAndCheck(t, dsn, l.ID, attempts, fake, sale.nodes)
	line := fmt.Sprintf("node-loss provider=%s stall_s=%.2f slowest_s=%.2f failed=%d reloaded=%d oversold=%d",
		provider, f.stall.Seconds(), f.worst.Seconds(), f.inFlightFailed+f.failedAfter, reloaded(attempts), oversold)
	t.Log(line)
	fmt.Fprintln(os.Stderr, line)
}

// reloaded counts the checkouts whose payer had to reload the approval
// redirect.
func reloaded(attempts []attempt) int {
	n := 0
	for _, a := range attempts {
		if a.reloads > 0 {
			n++
		}
	}
	return n
}

// lossFigures describe checkouts around a node's loss.
type lossFigures struct {
	before, after, failedBefore, failedAfter, inFlightFailed, completed int
	// window: from the kill to the end of the last failed checkout;
	// stall, worst: see disruption.
	window, stall, worst time.Duration
}

func measureLoss(attempts []attempt, killedAt time.Time) lossFigures {
	var f lossFigures
	f.stall, f.worst, f.completed = disruption(attempts, killedAt)
	var lastFail time.Time
	for _, a := range attempts {
		end := a.at.Add(a.latency)
		if a.at.Before(killedAt) {
			f.before++
			if !a.ok && end.Before(killedAt) {
				f.failedBefore++
			} else if !a.ok {
				f.inFlightFailed++
			}
			continue
		}
		f.after++
		if !a.ok {
			f.failedAfter++
			if end.After(lastFail) {
				lastFail = end
			}
		}
	}
	if !lastFail.IsZero() {
		f.window = lastFail.Sub(killedAt)
	}
	return f
}

// hotSale is three nodes selling one hot lot, with the node that owns the
// lot's grain marked as about to fail.
type hotSale struct {
	dsn   string
	fake  *kakaofake.Server
	lot   idOnly
	owner *clusterNode
	nodes []*clusterNode
	stop  func() []attempt
}

// startHotSale starts the nodes (members through provider) and k shoppers,
// lets them shop for warmup, then marks the lot's owner dead: what it
// answers from now on is the loss's.
func startHotSale(t *testing.T, provider string, k int, warmup time.Duration) hotSale {
	nodes, dsn, fake := startClusterWith(t, 3, provider)
	admin, p, l := setupHotLot(t, nodes)
	owner := lotOwner(t, admin, nodes, l.ID)
	stop := startShopping(t, nodes, shoppers(t, nodes, k), p.ID)
	time.Sleep(warmup)
	owner.dead.Store(true)
	return hotSale{dsn: dsn, fake: fake, lot: l, owner: owner, nodes: nodes, stop: stop}
}

// disruption measures what an event at from cost the checkouts: the
// longest stretch after it with no checkout completing anywhere (stall),
// the longest checkout it could touch (in flight at it or started after
// it), and how many checkouts completed after it.
func disruption(attempts []attempt, from time.Time) (stall, slowest time.Duration, completed int) {
	var ends []time.Time
	for _, a := range attempts {
		end := a.at.Add(a.latency)
		if !end.After(from) {
			continue
		}
		slowest = max(slowest, a.latency)
		if a.ok {
			ends = append(ends, end)
		}
	}
	sort.Slice(ends, func(i, j int) bool { return ends[i].Before(ends[j]) })
	prev := from
	for _, e := range ends {
		stall = max(stall, e.Sub(prev))
		prev = e
	}
	return stall, slowest, len(ends)
}

// lotOwner asks the cluster which node hosts the lot's grain.
func lotOwner(t *testing.T, admin api, nodes []*clusterNode, lotID int64) *clusterNode {
	t.Helper()
	var info struct {
		LotOwner string `json:"lot_owner"`
	}
	admin.must("GET", fmt.Sprintf("/api/v1/admin/cluster?lot_id=%d", lotID), nil, &info)
	for _, cn := range nodes {
		if cn.remote == info.LotOwner {
			return cn
		}
	}
	t.Fatalf("lot owner %q is none of the nodes", info.LotOwner)
	return nil
}

type idOnly struct{ ID int64 }

// setupHotLot creates a warehouse, a product and a 100,000-unit lot through
// the first node and waits until every node lists the product.
func setupHotLot(t *testing.T, nodes []*clusterNode) (api, idOnly, idOnly) {
	t.Helper()
	admin := api{t: t, base: nodes[0].base}.login("admin@shelflife.test", "admin-pass-123")
	var w, p, l idOnly
	admin.must("POST", "/api/v1/admin/warehouses", map[string]any{"name": "Songpa", "region": "SE", "lat": 37.5145, "lng": 127.1059, "radius_km": 5}, &w)
	admin.must("POST", "/api/v1/admin/products", map[string]any{"sku": "HOT", "name": "핫딜", "category": "Flash", "price": 1000}, &p)
	admin.must("POST", "/api/v1/admin/lots", map[string]any{"product_id": p.ID, "warehouse_id": w.ID, "quantity": 100000,
		"expires_at": time.Now().Add(10 * 24 * time.Hour).Format(time.RFC3339)}, &l)
	// Every node learns the new warehouse, product and lot through Kafka.
	seen := time.Now()
	for _, cn := range nodes {
		for {
			var ps []struct{ ID, Available int64 }
			api{t: t, base: cn.base}.call("GET", "/api/v1/products?lat=37.5133&lng=127.1001", nil, &ps)
			found := false
			for _, x := range ps {
				found = found || (x.ID == p.ID && x.Available == 100000)
			}
			if found {
				break
			}
			if time.Since(seen) > 20*time.Second {
				t.Fatalf("%s never listed the new product", cn.base)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("the catalog and the lot reached every node in %.2fs", time.Since(seen).Seconds())
	return admin, p, l
}

// shoppers signs up k shoppers in Jamsil through the nodes in turn.
func shoppers(t *testing.T, nodes []*clusterNode, k int) []string {
	t.Helper()
	var tokens []string
	for i := 0; i < k; i++ {
		email := fmt.Sprintf("s%d@shop.test", i)
		nodeAPI := api{t: t, base: nodes[i%len(nodes)].base}
		nodeAPI.must("POST", "/api/v1/auth/signup", map[string]any{"email": email, "password": "password-1", "name": "S",
			"address": map[string]any{"lat": 37.5133, "lng": 127.1001}}, nil)
		tokens = append(tokens, nodeAPI.login(email, "password-1").token)
	}
	return tokens
}

// settleAndCheck waits for sagas and compensations to finish, then checks
// the invariants on the hot lot, the orders and the fake's ledger. It
// returns the units oversold: given out beyond what PAID orders hold, or
// below zero on hand.
func settleAndCheck(t *testing.T, dsn string, lotID int64, attempts []attempt, fake *kakaofake.Server, nodes []*clusterNode) (oversold int64) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	var midway int
	for {
		db.QueryRow("SELECT COUNT(*) FROM orders WHERE step IN ('CREATED','DEDUCTING','APPROVING')").Scan(&midway)
		if midway == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if midway != 0 {
		t.Errorf("%d sagas still mid-way 30 s later", midway)
	}
	var paidUnits, taken, received, onHand, held, deducted, restored, writtenOff int64
	db.QueryRow("SELECT COALESCE(SUM(l.quantity), 0) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.status = 'PAID'").Scan(&paidUnits)
	for time.Now().Before(deadline) {
		db.QueryRow("SELECT received, on_hand, held, deducted, restored, written_off FROM lots WHERE id = ?", lotID).Scan(&received, &onHand, &held, &deducted, &restored, &writtenOff)
		if taken = deducted - restored; taken == paidUnits {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Orders whose shoppers never came back from the payment page still
	// hold their units: held counts in the conservation.
	if received != onHand+held+deducted-restored+writtenOff || onHand < 0 || held < 0 {
		t.Errorf("lot not conserved: received %d on_hand %d held %d deducted %d restored %d", received, onHand, held, deducted, restored)
	}
	if taken != paidUnits {
		t.Errorf("the lot gave out %d units, PAID orders hold %d", taken, paidUnits)
		explainMismatch(t, db, lotID, nodes)
	}
	oversold = max(taken-paidUnits, 0) + max(-onHand, 0)
	for _, a := range attempts {
		if !a.ok {
			continue
		}
		var status string
		db.QueryRow("SELECT status FROM orders WHERE id = ?", a.order).Scan(&status)
		if status != "PAID" {
			t.Errorf("order %s was answered PAID but is %s", a.order, status)
		}
	}
	for _, pay := range fake.Ledger().Payments {
		var status string
		db.QueryRow("SELECT status FROM orders WHERE id = ?", pay.PartnerOrderID).Scan(&status)
		if pay.Status == kakaopay.StatusSuccess && status != "PAID" {
			t.Errorf("order %s is %s but its money was taken", pay.PartnerOrderID, status)
		}
		if pay.Approvals > 1 {
			t.Errorf("order %s charged %d times", pay.PartnerOrderID, pay.Approvals)
		}
	}
	return oversold
}

// TestRollingRestartLosesNoOrder restarts the three nodes one after the
// other (SIGTERM, a graceful stop, then a new process on the same ports)
// while shoppers check out through the nodes that are up.
func TestRollingRestartLosesNoOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three node processes")
	}
	nodes, dsn, fake := startCluster(t, 3)
	_, p, l := setupHotLot(t, nodes)
	tokens := shoppers(t, nodes, 12)
	stopShopping := startShopping(t, nodes, tokens, p.ID)
	bin := buildNode(t)
	var firstStop time.Time
	for _, cn := range nodes {
		time.Sleep(1500 * time.Millisecond)
		cn.dead.Store(true)
		cn.p.cmd.Process.Signal(syscall.SIGTERM)
		stopping := time.Now()
		if firstStop.IsZero() {
			firstStop = stopping
		}
		select {
		case err := <-cn.p.done:
			t.Logf("%s stopped in %.1fs%s", cn.base, time.Since(stopping).Seconds(), shutdownSteps(cn.p.log.String()))
			if err != nil {
				t.Errorf("%s did not stop cleanly: %v\n%s", cn.base, err, tail(cn.p.log))
			}
			cn.p.done <- err
		case <-time.After(40 * time.Second):
			t.Fatalf("%s did not stop within 40 s; its goroutines:\n%s", cn.base, dumpStuck(cn.p))
		}
		cn.p = startNode(t, bin, cn.env)
		cn.dead.Store(false)
	}
	time.Sleep(2 * time.Second)
	attempts := stopShopping()
	var ok int
	for _, a := range attempts {
		if a.ok {
			ok++
		}
	}
	t.Logf("rolling restart: %d checkouts, %d PAID", len(attempts), ok)
	if ok == 0 {
		t.Fatal("no checkout succeeded during the rolling restart")
	}
	oversold := settleAndCheck(t, dsn, l.ID, attempts, fake, nodes)
	// From the first stop on: grains move off each stopping node and back
	// onto it when it returns.
	stall, slowest, _ := disruption(attempts, firstStop)
	line := fmt.Sprintf("rolling-restart provider=automanaged stall_s=%.2f slowest_s=%.2f failed=%d reloaded=%d oversold=%d",
		stall.Seconds(), slowest.Seconds(), len(attempts)-ok, reloaded(attempts), oversold)
	t.Log(line)
	fmt.Fprintln(os.Stderr, line)
}

// shutdownSteps picks the node's lines about slow shutdown steps.
func shutdownSteps(log string) string {
	var out strings.Builder
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "shutdown step") {
			out.WriteString("\n\t" + line)
		}
	}
	return out.String()
}

// TestPausedOwnerIsFenced freezes the node hosting the hot lot (SIGSTOP, as
// a long GC pause or a partition would) until the others give its grains
// up and reactivate the lot elsewhere, then lets it run again (SIGCONT):
// two activations of one lot now exist, and fencing must leave a single
// writer — nothing oversold, every lot conserved, units given out equal to
// PAID units.
func TestPausedOwnerIsFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three node processes")
	}
	sale := startHotSale(t, "automanaged", 12, 2*time.Second)
	owner, dsn, fake, l := sale.owner, sale.dsn, sale.fake, sale.lot
	owner.p.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(8 * time.Second)
	owner.p.cmd.Process.Signal(syscall.SIGCONT)
	owner.dead.Store(false)
	time.Sleep(5 * time.Second)
	attempts := sale.stop()
	var ok int
	for _, a := range attempts {
		if a.ok {
			ok++
		}
	}
	fenced := strings.Count(owner.p.log.String(), "another activation owns the lot")
	t.Logf("paused owner: %d checkouts, %d PAID; stale activations fenced on the paused node: %d", len(attempts), ok, fenced)
	if ok == 0 {
		t.Fatal("no checkout succeeded")
	}
	settleAndCheck(t, dsn, l.ID, attempts, fake, sale.nodes)
}

// explainMismatch logs the orders whose stock and status disagree: PAID
// orders whose key is not deducted on the lot, and keys deducted for
// orders that are not PAID, each with the order's and the key's rows.
func explainMismatch(t *testing.T, db *sql.DB, lotID int64, nodes []*clusterNode) {
	t.Helper()
	rows, err := db.Query(`SELECT o.id, o.status, o.step, o.reason, COALESCE(p.status, ''), CAST(o.created_at AS CHAR), CAST(o.updated_at AS CHAR),
		COALESCE(g.kind, '(none)'), COALESCE(g.quantity, 0), COALESCE(CAST(g.created_at AS CHAR), ''), COALESCE(CAST(g.updated_at AS CHAR), '')
		FROM orders o JOIN order_lines l ON l.order_id = o.id
		LEFT JOIN payments p ON p.order_id = o.id
		LEFT JOIN lot_ledger g ON g.lot_id = ? AND g.order_key = CONCAT(o.id, '-p', l.product_id)
		WHERE (o.status = 'PAID') <> (COALESCE(g.kind, '') = 'DEDUCTED')`, lotID)
	if err != nil {
		t.Logf("explain mismatch: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id, status, step, reason, pay, kind string
		var qty int64
		var created, updated, kCreated, kUpdated string
		if err := rows.Scan(&id, &status, &step, &reason, &pay, &created, &updated, &kind, &qty, &kCreated, &kUpdated); err != nil {
			t.Logf("explain mismatch: %v", err)
			return
		}
		t.Logf("order %s %s/%s %s payment %s (created %s, updated %s); lot key %s x%d (created %s, updated %s)",
			id, status, step, reason, pay, created, updated, kind, qty, kCreated, kUpdated)
		for _, cn := range nodes {
			for _, line := range strings.Split(cn.p.log.String(), "\n") {
				if strings.Contains(line, id) {
					t.Logf("%s: %s", cn.base, line)
				}
			}
		}
	}
}
