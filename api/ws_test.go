package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
	"shelflife/stockview"
)

// recordingWriter stands in for a socket: it takes up to room bytes at
// once (all when room < 0) and records every write.
type recordingWriter struct {
	mu     sync.Mutex
	room   int
	writes [][]byte
}

func (w *recordingWriter) writeNow(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(b)
	if w.room >= 0 && n > w.room {
		n = w.room
	}
	w.writes = append(w.writes, append([]byte(nil), b[:n]...))
	if n < len(b) {
		return n, errWouldBlock
	}
	return n, nil
}

func textFrames(n int) [][]byte {
	var fs [][]byte
	for i := range n {
		fs = append(fs, wsFrame(frameText, fmt.Appendf(nil, `{"n":%d}`, i)))
	}
	return fs
}

// readFrames parses unmasked frames from r until EOF: the payloads of the
// text frames, and the close code if a close frame came.
func readFrames(t *testing.T, r io.Reader) (texts []string, closeCode int) {
	t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return texts, closeCode
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			io.ReadFull(r, l[:])
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			io.ReadFull(r, l[:])
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatalf("frame cut short: %v", err)
		}
		switch h[0] {
		case frameText:
			texts = append(texts, string(p))
		case frameClose:
			closeCode = int(binary.BigEndian.Uint16(p))
		case framePing:
		default:
			t.Fatalf("unexpected frame %#x", h[0])
		}
	}
}

func TestFrameLengths(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		f := wsFrame(frameText, bytes.Repeat([]byte("x"), n))
		texts, _ := readFrames(t, bytes.NewReader(f))
		if len(texts) != 1 || len(texts[0]) != n {
			t.Errorf("payload %d: read back %d frames", n, len(texts))
		}
	}
}

// Frames queued while nothing was written leave in one write, in order.
func TestQueuedFramesGoOutInOneWrite(t *testing.T) {
	w := &recordingWriter{room: -1}
	ws := &wsWriters{wake: make(chan struct{}, 1)}
	s := &subscriber{conn: discardConn{}, raw: w, writers: ws}
	frames := textFrames(5)
	for _, f := range frames {
		s.send(f)
	}
	if len(ws.list) != 1 {
		t.Fatalf("the subscriber is on the workers' list %d times, want once", len(ws.list))
	}
	s.flush(nil)
	if len(w.writes) != 1 {
		t.Fatalf("%d writes for 5 queued frames, want 1", len(w.writes))
	}
	if got, want := w.writes[0], bytes.Join(frames, nil); !bytes.Equal(got, want) {
		t.Errorf("wrote %q, want %q", got, want)
	}
	// Nothing left: another flush writes nothing.
	s.flush(nil)
	if len(w.writes) != 1 {
		t.Errorf("%d writes after an empty flush", len(w.writes))
	}
}

// A burst larger than subscriberBuffer (a bulk change) to a socket that
// takes its writes is written whole; only a socket that is not taking
// them is closed at subscriberBuffer.
func TestBurstToAReadingSocketIsKept(t *testing.T) {
	w := &recordingWriter{room: -1}
	ws := &wsWriters{wake: make(chan struct{}, 1)}
	s := &subscriber{conn: discardConn{}, raw: w, writers: ws}
	frames := textFrames(3 * subscriberBuffer)
	for _, f := range frames {
		s.send(f)
	}
	s.flush(nil)
	if s.closed || len(w.writes) != 1 || !bytes.Equal(w.writes[0], bytes.Join(frames, nil)) {
		t.Fatalf("closed %v, %d writes: want the %d frames in one write", s.closed, len(w.writes), len(frames))
	}
	for range maxQueued + 1 {
		s.send(frames[0])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		t.Errorf("%d frames queued and the socket still open", maxQueued+1)
	}
}

// Many subscribers listed at once are all written, each in order, by the
// workers taking chunks of the list.
func TestWorkersWriteEverySubscriber(t *testing.T) {
	var ws wsWriters
	ws.start()
	frames := textFrames(3)
	want := bytes.Join(frames, nil)
	subs := make([]*subscriber, 10*wsChunk+5)
	sinks := make([]*recordingWriter, len(subs))
	for i := range subs {
		sinks[i] = &recordingWriter{room: -1}
		subs[i] = &subscriber{conn: discardConn{}, raw: sinks[i], writers: &ws}
	}
	for _, f := range frames {
		for _, s := range subs {
			s.send(f)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for i, w := range sinks {
		for {
			w.mu.Lock()
			got := bytes.Join(w.writes, nil)
			w.mu.Unlock()
			if bytes.Equal(got, want) {
				break
			}
			if len(got) > len(want) || !bytes.HasPrefix(want, got) || time.Now().After(deadline) {
				t.Fatalf("subscriber %d got %q, want %q", i, got, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.list) != ws.head {
		t.Errorf("%d subscribers left on the list", len(ws.list)-ws.head)
	}
}

// A socket that takes only part of a write: the rest, then what was queued
// meanwhile, follow in order through the drain, nothing lost.
func TestPartialWriteKeepsOrder(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	w := &recordingWriter{room: 7}
	ws := &wsWriters{wake: make(chan struct{}, 1)}
	s := &subscriber{conn: server, raw: w, writers: ws}
	frames := textFrames(40)
	for _, f := range frames[:10] {
		s.send(f)
	}
	s.flush(nil) // 7 bytes go out, the rest waits for the drain
	for _, f := range frames[10:] {
		s.send(f)
	}
	var got bytes.Buffer
	got.Write(w.writes[0])
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for got.Len() < len(bytes.Join(frames, nil)) {
			n, err := client.Read(buf)
			if err != nil {
				return
			}
			got.Write(buf[:n])
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the rest never arrived")
	}
	texts, _ := readFrames(t, &got)
	if len(texts) != len(frames) {
		t.Fatalf("%d frames arrived, want %d", len(texts), len(frames))
	}
	for i, txt := range texts {
		if want := fmt.Sprintf(`{"n":%d}`, i); txt != want {
			t.Fatalf("frame %d is %s, want %s", i, txt, want)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		waiting := s.waiting
		s.mu.Unlock()
		if !waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the drain did not hand the socket back when its queue was empty")
		}
	}
}

// A client that reads nothing: once subscriberBuffer frames wait, the
// subscriber is closed with 1008 after the frames already on their way,
// and its connection ends.
func TestSlowSubscriberIsClosed(t *testing.T) {
	client, server := net.Pipe() // no descriptor: every write waits in a drain
	defer client.Close()
	ws := &wsWriters{wake: make(chan struct{}, 1)}
	s := &subscriber{conn: server, writers: ws}
	frames := textFrames(subscriberBuffer + 50)
	s.send(frames[0])
	s.flush(nil) // the pipe is not read: the drain blocks on frame 0
	time.Sleep(50 * time.Millisecond)
	for _, f := range frames[1:] {
		s.send(f)
	}
	s.mu.Lock()
	closed, kicked, pending := s.closed, s.kicked, len(s.pending)
	s.mu.Unlock()
	if !closed || !kicked || pending != 0 {
		t.Fatalf("closed %v kicked %v pending %d, want a closed subscriber with nothing queued", closed, kicked, pending)
	}
	texts, code := readFrames(t, client)
	if len(texts) != 1 || texts[0] != `{"n":0}` {
		t.Errorf("received %v before the close, want frame 0 alone", texts)
	}
	if code != 1008 {
		t.Errorf("close code %d, want 1008", code)
	}
	s.send(frames[1]) // after the close: nothing, no panic
}

type discardConn struct{ net.Conn }

func (discardConn) Close() error                     { return nil }
func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// Over a real socket and the WebSocket library's client: queued frames
// arrive whole and in order, a ping is answered, and a close is echoed.
func TestStreamOverARealSocket(t *testing.T) {
	var writers wsWriters
	sub := &subscriber{}
	frames := textFrames(100)
	for _, f := range frames {
		sub.send(f)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	attached := make(chan struct{})
	app.Get("/ws", websocket.New(func(c *websocket.Conn) {
		close(attached)
		writers.stream(c, sub)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	defer app.Shutdown()

	conn, _, err := fws.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	<-attached
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 100 {
		_, m, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := fmt.Sprintf(`{"n":%d}`, i); string(m) != want {
			t.Fatalf("message %d is %s, want %s", i, m, want)
		}
	}
	// More, sent while the socket is attached, after them.
	more := textFrames(300)
	for _, f := range more[100:] {
		sub.send(f)
	}
	for i := 100; i < 300; i++ {
		_, m, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := fmt.Sprintf(`{"n":%d}`, i); string(m) != want {
			t.Fatalf("message %d is %s, want %s", i, m, want)
		}
	}
	pong := make(chan string, 1)
	conn.SetPongHandler(func(d string) error { pong <- d; return nil })
	if err := conn.WriteControl(fws.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	conn.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	_, _, err = conn.ReadMessage() // runs the pong handler, then sees the echoed close
	select {
	case d := <-pong:
		if d != "hi" {
			t.Errorf("pong %q, want hi", d)
		}
	default:
		t.Error("no pong for the ping")
	}
	if !fws.IsCloseError(err, fws.CloseNormalClosure) {
		t.Errorf("after the close: %v, want the echoed 1000", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		sub.mu.Lock()
		closed := sub.closed
		sub.mu.Unlock()
		if closed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscriber is still open after its socket closed")
		}
	}
}

type hubSource struct{}

func (hubSource) Products(context.Context) ([]domain.Product, error) {
	return []domain.Product{{ID: 10, Name: "milk", Price: 3000}, {ID: 11, Name: "eggs", Price: 5000}}, nil
}
func (hubSource) Warehouses(context.Context) ([]domain.Warehouse, error) {
	return []domain.Warehouse{{ID: 1, Lat: 37.5663, Lng: 126.9016, RadiusKm: 6}, {ID: 2, Lat: 37.5145, Lng: 127.1059, RadiusKm: 5}}, nil
}
func (hubSource) LiveLots(context.Context, func(stockview.LotRow)) error { return nil }

// queuedMessages are the payloads of the frames waiting on a subscriber
// that has no socket yet.
func queuedMessages(t *testing.T, s *subscriber) []stockMessage {
	t.Helper()
	s.mu.Lock()
	texts, _ := readFrames(t, bytes.NewReader(bytes.Join(s.pending, nil)))
	s.mu.Unlock()
	var ms []stockMessage
	for _, txt := range texts {
		var m stockMessage
		if err := json.Unmarshal([]byte(txt), &m); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

// A bulk change reaches each shopper as one message per product of its
// own warehouses, plus each deal lot's, and admins as every lot.
func TestBulkChangeFansOutByWarehouse(t *testing.T) {
	now := time.Now()
	view := stockview.New(hubSource{}, domain.DefaultLadder(), func() time.Time { return now })
	if err := view.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &stockHub{view: view}
	near := &subscriber{addr: domain.Point{Lat: 37.5667, Lng: 126.93}, warehouses: map[int64]bool{1: true}, key: "1"}
	far := &subscriber{addr: domain.Point{Lat: 37.5133, Lng: 127.1001}, warehouses: map[int64]bool{2: true}, key: "2"}
	admin := &subscriber{admin: true}
	var events []domain.LotEvent
	for i := range 6 { // three lots of milk, then three of eggs, all in warehouse 1, closing soon
		events = append(events, domain.LotEvent{LotID: int64(100 + i), ProductID: int64(10 + i/3), WarehouseID: 1,
			ExpiresAt: now.Add(30 * time.Hour), OnHand: 2, State: domain.ClosingSoon, Seq: 1})
	}
	view.ApplyAll(events)
	h.fanOutBatch(events, []*subscriber{admin}, []*subscriber{near, far})
	var products, deals int
	for _, m := range queuedMessages(t, near) {
		switch m.Type {
		case "product":
			products++
		case "deal":
			deals++
			if m.Available != 2 {
				t.Errorf("deal message %+v, want 2 available", m)
			}
		}
	}
	if products != 2 || deals != 6 {
		t.Errorf("the near shopper got %d product and %d deal messages, want 2 and 6", products, deals)
	}
	if n := len(queuedMessages(t, far)); n != 0 {
		t.Errorf("a shopper of another warehouse got %d messages", n)
	}
	if n := len(queuedMessages(t, admin)); n != 6 {
		t.Errorf("the admin got %d messages, want 6", n)
	}
}

// A single change reaches the admins and the shoppers its warehouse
// serves, through the hub's index by warehouse; a closed socket leaves it.
func TestChangeReachesTheSocketsNearItsWarehouse(t *testing.T) {
	view := stockview.New(hubSource{}, domain.DefaultLadder(), time.Now)
	if err := view.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &stockHub{view: view}
	subs := map[string]*subscriber{
		"near 1": {addr: domain.Point{Lat: 37.5667, Lng: 126.93}},
		"near 2": {addr: domain.Point{Lat: 37.5133, Lng: 127.1001}},
		"far":    {addr: domain.Point{Lat: 35.1796, Lng: 129.0756}}, // Busan
		"admin":  {admin: true},
	}
	for _, s := range subs {
		if !s.admin {
			s.resolve(view, view.CatalogVersion())
		}
		h.add(s)
	}
	change := func(lot, warehouse int64) {
		e := domain.LotEvent{LotID: lot, ProductID: 10, WarehouseID: warehouse, OnHand: 3, State: domain.Regular, Seq: 1,
			ExpiresAt: time.Now().Add(10 * 24 * time.Hour)}
		view.Apply(e)
		h.fanOut(stockview.Change{Event: e})
	}
	heard := func() map[string]int {
		n := map[string]int{}
		for name, s := range subs {
			s.mu.Lock()
			n[name] = len(s.pending)
			s.pending = nil
			s.mu.Unlock()
		}
		return n
	}
	change(100, 1)
	if got, want := heard(), map[string]int{"near 1": 1, "near 2": 0, "far": 0, "admin": 1}; !maps.Equal(got, want) {
		t.Errorf("a change in warehouse 1 was heard %v, want %v", got, want)
	}
	h.remove(subs["near 2"])
	change(101, 2)
	if got, want := heard(), map[string]int{"near 1": 0, "near 2": 0, "far": 0, "admin": 1}; !maps.Equal(got, want) {
		t.Errorf("after the socket near warehouse 2 closed, a change there was heard %v, want %v", got, want)
	}
	if n := h.count(); n != 3 || len(h.near[2]) != 0 {
		t.Errorf("the hub holds %d sockets and %d near warehouse 2, want 3 and 0", n, len(h.near[2]))
	}
}

// catalog is a view source whose warehouses can open.
type catalog struct {
	mu         sync.Mutex
	warehouses []domain.Warehouse
}

func (c *catalog) Products(context.Context) ([]domain.Product, error) {
	return []domain.Product{{ID: 10, SKU: "MILK", Name: "Milk", Category: "Dairy", Price: 3000}}, nil
}

func (c *catalog) Warehouses(context.Context) ([]domain.Warehouse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]domain.Warehouse(nil), c.warehouses...), nil
}

func (c *catalog) LiveLots(context.Context, func(stockview.LotRow)) error { return nil }

// A stock socket opened before its node knew of the warehouse serving the
// shopper (one opened since, or heard of late through Kafka) hears that
// warehouse's changes once the catalog is loaded again; before, it heard
// nothing until it was opened again.
func TestStockSocketHearsAWarehouseKnownAfterItOpened(t *testing.T) {
	src := &catalog{}
	view := stockview.New(src, domain.DefaultLadder(), time.Now)
	if err := view.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &stockHub{view: view}
	sub := &subscriber{addr: domain.Point{Lat: 37.5667, Lng: 126.93}}
	sub.resolve(view, view.CatalogVersion())
	if len(sub.warehouses) != 0 {
		t.Fatalf("serving warehouses before any opened: %v", sub.warehouses)
	}
	h.add(sub)

	src.mu.Lock()
	src.warehouses = []domain.Warehouse{{ID: 1, Name: "Mapo", Lat: 37.5663, Lng: 126.9016, RadiusKm: 6}}
	src.mu.Unlock()
	if err := view.LoadCatalog(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := domain.LotEvent{LotID: 100, ProductID: 10, WarehouseID: 1, OnHand: 7, State: domain.Regular, Seq: 1,
		ExpiresAt: time.Now().Add(10 * 24 * time.Hour)}
	view.Apply(e)
	h.fanOut(stockview.Change{Event: e})
	msgs := queuedMessages(t, sub)
	if len(msgs) != 1 || msgs[0].ProductID != 10 || msgs[0].Available != 7 {
		t.Errorf("the socket heard %+v, want product 10 with 7 available", msgs)
	}
}

// A deal's socket message and the deals listing both say the lot's
// commit sequence they were read at, so that a page can keep the newer of
// the two whichever arrives last (a listing asked for while the socket
// opened, a message from another node).
func TestDealMessageAndListingCarryTheLotsSeq(t *testing.T) {
	now := time.Now()
	view := stockview.New(hubSource{}, domain.DefaultLadder(), func() time.Time { return now })
	if err := view.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &stockHub{view: view}
	addr := domain.Point{Lat: 37.5667, Lng: 126.93}
	lot := domain.LotEvent{LotID: 100, ProductID: 10, WarehouseID: 1, ExpiresAt: now.Add(30 * time.Hour), OnHand: 5, State: domain.ClosingSoon, Seq: 1}
	view.Apply(lot)
	for _, step := range []struct {
		seq, onHand int64
		wantSeq     int64
		wantAvail   int64
	}{
		{seq: 4, onHand: 1, wantSeq: 4, wantAvail: 1},
		{seq: 3, onHand: 2, wantSeq: 4, wantAvail: 1}, // late: the view keeps seq 4, and so do both answers
		{seq: 5, onHand: 0, wantSeq: 5, wantAvail: 0}, // sold out: the message says so; the listing leaves it out
	} {
		e := lot
		e.Seq, e.OnHand = step.seq, step.onHand
		view.Apply(e)
		_, frame := h.lotMessages(e)
		texts, _ := readFrames(t, bytes.NewReader(frame))
		var m stockMessage
		if len(texts) != 1 || json.Unmarshal([]byte(texts[0]), &m) != nil {
			t.Fatalf("deal message %q", texts)
		}
		if m.Seq != step.wantSeq || m.Available != step.wantAvail {
			t.Errorf("after seq %d: message %+v, want seq %d with %d", step.seq, m, step.wantSeq, step.wantAvail)
		}
		if step.wantAvail == 0 {
			if ds := view.Deals(addr); len(ds) != 0 {
				t.Errorf("a sold-out deal listed: %+v", ds)
			}
			continue
		}
		ds := view.Deals(addr)
		if len(ds) != 1 || ds[0].Seq != step.wantSeq || ds[0].Available != step.wantAvail {
			t.Errorf("after seq %d: listing %+v, want seq %d with %d", step.seq, ds, step.wantSeq, step.wantAvail)
		}
		body, _, err := view.DealsJSON(addr, stockview.Page{})
		if err != nil || !bytes.Contains(body, fmt.Appendf(nil, `"seq":%d`, step.wantSeq)) {
			t.Errorf("after seq %d: listing JSON %s without its seq", step.seq, body)
		}
	}
}
