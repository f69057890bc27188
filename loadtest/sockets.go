package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"shelflife/domain"
	"shelflife/scaledata"
)

// DashboardResult is what a socket run (dashboard or city-sockets)
// measured besides latencies: the nodes' memory per open socket and their
// CPU per delivered message, read from NodeMetrics (zero when not read).
type DashboardResult struct {
	Sockets    int   `json:"sockets"`
	Deliveries int64 `json:"deliveries"`
	// Expected (city-sockets) is how many messages the sockets should
	// have received: for every change, the sockets whose address one of
	// the changed lot's warehouse serves.
	Expected int64 `json:"expected,omitempty"`
	// Warehouses (city-sockets) is how many the run spread its sockets
	// and changes over; ServedBy is how many of them serve a socket's
	// address on average.
	Warehouses int     `json:"warehouses,omitempty"`
	ServedBy   float64 `json:"served_by,omitempty"`
	// RSSPerSocketKB: the nodes' resident memory with the sockets open
	// less before they were opened, per socket.
	RSSPerSocketKB float64 `json:"rss_per_socket_kb,omitempty"`
	RSSBeforeMB    float64 `json:"rss_before_mb,omitempty"`
	RSSOpenMB      float64 `json:"rss_open_mb,omitempty"`
	// CPUPerDeliveryMS: the nodes' CPU over the changes (sockets open,
	// lots received, the last changes arriving) per message delivered.
	CPUPerDeliveryMS float64 `json:"cpu_ms_per_delivery,omitempty"`
	NodeCPUSeconds   float64 `json:"node_cpu_s,omitempty"`
	// LoadgenCPUPerDeliveryMS: this process's own CPU over the same
	// time, per message (it reads every socket on the same machine).
	LoadgenCPUPerDeliveryMS float64 `json:"loadgen_cpu_ms_per_delivery,omitempty"`
}

// nodeTotals sums a metric over the nodes; false when one cannot be read.
func (c Config) nodeTotals(ctx context.Context, name string) (float64, bool) {
	if len(c.NodeMetrics) == 0 {
		return 0, false
	}
	var sum float64
	for _, u := range c.NodeMetrics {
		v, err := c.Client.metric(ctx, u, name)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return sum, true
}

// Dashboard opens c.Subscribers admin stock sockets, then receives lots at
// a steady pace for c.Duration and measures, at every socket, the delay
// from each change's commit to its delivery.
func Dashboard(ctx context.Context, c Config, site Site, rec *Recorder) (DashboardResult, error) {
	url := "ws" + strings.TrimPrefix(c.Client.Target(), "http") + "/api/v1/admin/ws/stock?token=" + site.AdminToken
	return socketRun(ctx, c, rec, func(int) string { return url }, lotTime, func(int) {
		receiveLot(ctx, c, site.AdminToken, site.ProductID, site.WarehouseID, rec)
	})
}

// receiveLot receives one unit of a product into a warehouse, timed as the
// step "receive_lot".
func receiveLot(ctx context.Context, c Config, token string, productID, warehouseID int64, rec *Recorder) {
	t0 := time.Now()
	err := c.Client.Do(ctx, "POST", c.Client.Target()+"/api/v1/admin/lots", token, map[string]any{"product_id": productID,
		"warehouse_id": warehouseID, "quantity": 1, "expires_at": time.Now().Add(20 * 24 * time.Hour).Format(time.RFC3339)}, nil)
	rec.Observe("receive_lot", time.Since(t0), Code(err))
}

// cityProducts is how many products a city-sockets run receives lots of,
// in turn: a product comes round again after this many changes, so a
// message is matched with its change as long as it arrives sooner.
const cityProducts = 64

// CitySockets is the shoppers' side of a city: c.Warehouses warehouses over
// Seoul and Gyeonggi (the scale data set's grid) and c.Subscribers shopper
// stock sockets at random addresses there that one of them serves. Lots
// are received 10 times a second, each into a warehouse drawn at random,
// of products taken in turn; every socket near that warehouse hears the
// product's new quantity. The delay is measured from just before the
// request that received the lot (its own time included) to each delivery,
// and the deliveries are counted against those expected.
func CitySockets(ctx context.Context, c Config, site Site, rec *Recorder) (DashboardResult, error) {
	base := c.Client.Target()
	tag := fmt.Sprintf("%d", time.Now().UnixNano())
	sites := scaledata.WarehouseSites(c.Warehouses)
	warehouses := make([]int64, len(sites))
	areas := make([]domain.ServiceArea, len(sites))
	for i, w := range sites {
		var out struct{ ID int64 }
		if err := c.Client.Do(ctx, "POST", base+"/api/v1/admin/warehouses", site.AdminToken, map[string]any{"name": w.Name + " " + tag,
			"region": w.Region, "lat": w.Lat, "lng": w.Lng, "radius_km": w.RadiusKm}, &out); err != nil {
			return DashboardResult{}, fmt.Errorf("warehouse: %w", err)
		}
		warehouses[i] = out.ID
		areas[i] = domain.ServiceArea{Center: domain.Point{Lat: w.Lat, Lng: w.Lng}, RadiusKm: w.RadiusKm}
	}
	products := make([]int64, cityProducts)
	index := map[int64]int{}
	for i := range products {
		var out struct{ ID int64 }
		if err := c.Client.Do(ctx, "POST", base+"/api/v1/admin/products", site.AdminToken, map[string]any{"sku": fmt.Sprintf("CITY-%s-%d", tag, i),
			"name": fmt.Sprintf("동네 채소 %d", i), "name_en": fmt.Sprintf("Neighbourhood greens %d", i), "category": "City", "price": 3000}, &out); err != nil {
			return DashboardResult{}, fmt.Errorf("product: %w", err)
		}
		products[i], index[out.ID] = out.ID, i
	}
	// Addresses a warehouse of the run serves, and which serve each.
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	socketsNear := make([]int64, len(sites)) // sockets each warehouse serves
	urls := make([]string, c.Subscribers)
	var links int
	for i := range urls {
		for {
			// The address as the URL gives it: the node decides from that.
			lat, lng := scaledata.RandomAddress(r)
			latQ, lngQ := strconv.FormatFloat(lat, 'f', 5, 64), strconv.FormatFloat(lng, 'f', 5, 64)
			lat, _ = strconv.ParseFloat(latQ, 64)
			lng, _ = strconv.ParseFloat(lngQ, 64)
			n := 0
			for w, a := range areas {
				if a.Serves(domain.Point{Lat: lat, Lng: lng}) {
					socketsNear[w]++
					n++
				}
			}
			if n > 0 {
				links += n
				urls[i] = "ws" + strings.TrimPrefix(base, "http") + "/api/v1/ws/stock?lat=" + latQ + "&lng=" + lngQ
				break
			}
		}
	}
	// sent[i] is when product i's latest lot was sent for (unix ns).
	var sent [cityProducts]atomic.Int64
	matched := func(m []byte) (time.Time, bool) {
		id, ok := productOf(m)
		if !ok {
			return time.Time{}, false
		}
		i, ok := index[id]
		if !ok {
			return time.Time{}, false
		}
		at := sent[i].Load()
		return time.Unix(0, at), at != 0
	}
	var expected int64
	res, err := socketRun(ctx, c, rec, func(i int) string { return urls[i] }, matched, func(n int) {
		w, p := r.IntN(len(warehouses)), n%cityProducts
		sent[p].Store(time.Now().UnixNano())
		expected += socketsNear[w]
		receiveLot(ctx, c, site.AdminToken, products[p], warehouses[w], rec)
	})
	res.Expected, res.Warehouses = expected, len(sites)
	if c.Subscribers > 0 {
		res.ServedBy = float64(links) / float64(c.Subscribers)
	}
	return res, err
}

// socketRun opens c.Subscribers sockets (url(i) for the i-th), reads them
// all, makes a change 10 times a second for c.Duration (change(n) for the
// n-th), and records at every socket the delay of each message whose
// reference time at() finds, as the step "ws_delivery".
func socketRun(ctx context.Context, c Config, rec *Recorder, url func(int) string, at func([]byte) (time.Time, bool), change func(n int)) (DashboardResult, error) {
	res := DashboardResult{Sockets: c.Subscribers}
	rssBefore, rssOK := c.nodeTotals(ctx, "process_resident_memory_bytes")
	conns, err := dialSockets(ctx, c.Subscribers, url)
	defer func() {
		for _, cn := range conns {
			if cn != nil {
				cn.Close()
			}
		}
	}()
	if err != nil {
		return res, err
	}
	var wg sync.WaitGroup
	var delivered atomic.Int64
	stop := make(chan struct{})
	for _, cn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, m, err := cn.ReadMessage()
				if err != nil {
					select {
					case <-stop:
					default:
						rec.Observe("ws_delivery", 0, "socket_closed")
					}
					return
				}
				if t, ok := at(m); ok {
					rec.Observe("ws_delivery", time.Since(t), "")
					delivered.Add(1)
				}
			}
		}()
	}
	if rssOK {
		time.Sleep(time.Second) // the sockets' first buffers allocated
		if open, ok := c.nodeTotals(ctx, "process_resident_memory_bytes"); ok && c.Subscribers > 0 {
			res.RSSBeforeMB, res.RSSOpenMB = rssBefore/(1<<20), open/(1<<20)
			res.RSSPerSocketKB = (open - rssBefore) / 1024 / float64(c.Subscribers)
		}
	}
	cpuBefore, cpuOK := c.nodeTotals(ctx, "process_cpu_seconds_total")
	ownBefore, ownErr := ProcessCPU(os.Getpid())
	// Changes at 10 per second.
	deadline := time.Now().Add(c.Duration)
	for n := 0; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
		change(n)
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // let the last changes arrive
	cpuAfter, cpuAfterOK := c.nodeTotals(ctx, "process_cpu_seconds_total")
	ownAfter, ownErr2 := ProcessCPU(os.Getpid())
	close(stop)
	for _, cn := range conns {
		cn.Close()
	}
	wg.Wait()
	conns = nil
	res.Deliveries = delivered.Load()
	if cpuOK && cpuAfterOK && res.Deliveries > 0 {
		res.NodeCPUSeconds = cpuAfter - cpuBefore
		res.CPUPerDeliveryMS = res.NodeCPUSeconds * 1000 / float64(res.Deliveries)
	}
	if ownErr == nil && ownErr2 == nil && res.Deliveries > 0 {
		res.LoadgenCPUPerDeliveryMS = float64((ownAfter - ownBefore).Microseconds()) / 1000 / float64(res.Deliveries)
	}
	return res, nil
}

// dialSockets opens n sockets, url(i) the i-th, a few at a time.
func dialSockets(ctx context.Context, n int, url func(int) string) ([]*websocket.Conn, error) {
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	conns := make([]*websocket.Conn, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(8, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				cn, _, err := dialer.DialContext(ctx, url(i), nil)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("socket %d: %w", i, err) })
					next.Store(int64(n))
					return
				}
				conns[i] = cn
			}
		}()
	}
	wg.Wait()
	return conns, firstErr
}

// lotTime is the commit time of an admin socket's lot message: its "at"
// field, read without decoding the whole message (the reading side is on
// the same machine as the node; it should cost little).
func lotTime(m []byte) (time.Time, bool) {
	if !bytes.Contains(m, []byte(`"type":"lot"`)) {
		return time.Time{}, false
	}
	_, rest, ok := bytes.Cut(m, []byte(`"at":"`))
	if !ok {
		return time.Time{}, false
	}
	v, _, ok := bytes.Cut(rest, []byte(`"`))
	if !ok {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, string(v))
	return at, err == nil && !at.IsZero()
}

// productOf is the product of a shopper socket's product message, read
// without decoding the whole message.
func productOf(m []byte) (int64, bool) {
	if !bytes.Contains(m, []byte(`"type":"product"`)) {
		return 0, false
	}
	_, rest, ok := bytes.Cut(m, []byte(`"product_id":`))
	if !ok {
		return 0, false
	}
	end := bytes.IndexAny(rest, ",}")
	if end < 0 {
		return 0, false
	}
	id, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return id, err == nil
}
