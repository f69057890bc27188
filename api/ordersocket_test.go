package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// changingOrders answers one order. Its first read answers the status
// before and, while that read is under way, the order moves on (the
// change is heard before the socket that read it subscribes); later reads
// answer the status after.
type changingOrders struct {
	Orders
	before, after domain.OrderStatus
	changeOnRead  bool
	heard         func(domain.Order)
	reads         atomic.Int64
}

func (o *changingOrders) order(st domain.OrderStatus) domain.Order {
	return domain.Order{ID: "o1", UserID: 1, Status: st, UpdatedAt: time.Now()}
}

func (o *changingOrders) Order(_ context.Context, id string) (domain.Order, error) {
	if id != "o1" {
		return domain.Order{}, domain.ErrOrderNotFound
	}
	if o.reads.Add(1) > 1 {
		return o.order(o.after), nil
	}
	if o.changeOnRead {
		o.heard(o.order(o.after))
	}
	return o.order(o.before), nil
}

// orderSocketStatuses opens the order socket of o1 and returns a function
// reading the next status it pushes.
func orderSocketStatuses(t *testing.T, ts *testServer) func() domain.OrderStatus {
	t.Helper()
	base := ts.serve()
	u := strings.Replace(base, "http://", "ws://", 1) + "/api/v1/ws/orders/o1?token=" + url.QueryEscape(ts.admin)
	conn, _, err := (&fws.Dialer{HandshakeTimeout: 5 * time.Second}).Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return func() domain.OrderStatus {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("reading the order socket: %v", err)
		}
		var m orderMessage
		if err := json.Unmarshal(b, &m); err != nil || m.OrderID != "o1" {
			t.Fatalf("order socket sent %s", b)
		}
		return m.Status
	}
}

// A change heard after the socket read the order's status and before it
// subscribed still reaches the socket: before, the shopper's page showed
// PAYMENT_READY for an order already PAID until it was reloaded.
func TestOrderSocketHearsAChangeMadeWhileItOpens(t *testing.T) {
	t.Parallel()
	orders := &changingOrders{before: domain.StatusPaymentReady, after: domain.StatusPaid, changeOnRead: true}
	ts := newTestServerOn(t, mysqltest.New(t), Deps{Orders: orders})
	orders.heard = ts.srv.OrderChanged
	next := orderSocketStatuses(t, ts)
	if got := next(); got != domain.StatusPaymentReady {
		t.Fatalf("first status %s, want the one read, %s", got, domain.StatusPaymentReady)
	}
	if got := next(); got != domain.StatusPaid {
		t.Fatalf("then %s, want %s", got, domain.StatusPaid)
	}
	if n := orders.reads.Load(); n != 2 {
		t.Errorf("the order was read %d times, want 2 (again after the change)", n)
	}
	// The same change heard again (from another node, say), and an older
	// one late: neither is sent; the next change is.
	ts.srv.OrderChanged(orders.order(domain.StatusPaid))
	ts.srv.OrderChanged(orders.order(domain.StatusProcessing))
	ts.srv.OrderChanged(orders.order(domain.StatusFailed))
	if got := next(); got != domain.StatusFailed {
		t.Fatalf("after a repeated and a late change: %s, want %s", got, domain.StatusFailed)
	}
}

// A socket whose order did not change while it opened reads the order
// once.
func TestOrderSocketReadsAnUnchangedOrderOnce(t *testing.T) {
	t.Parallel()
	orders := &changingOrders{before: domain.StatusPaymentReady, after: domain.StatusPaymentReady}
	ts := newTestServerOn(t, mysqltest.New(t), Deps{Orders: orders})
	next := orderSocketStatuses(t, ts)
	if got := next(); got != domain.StatusPaymentReady {
		t.Fatalf("first status %s, want %s", got, domain.StatusPaymentReady)
	}
	// Wait until the socket has subscribed: a change is then pushed.
	deadline := time.Now().Add(5 * time.Second)
	for !subscribed(ts.srv, "o1") {
		if time.Now().After(deadline) {
			t.Fatal("the socket never subscribed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ts.srv.OrderChanged(orders.order(domain.StatusPaid))
	if got := next(); got != domain.StatusPaid {
		t.Fatalf("then %s, want %s", got, domain.StatusPaid)
	}
	if n := orders.reads.Load(); n != 1 {
		t.Errorf("the order was read %d times, want 1", n)
	}
}

func subscribed(s *Server, id string) bool {
	s.orders.mu.Lock()
	defer s.orders.mu.Unlock()
	return len(s.orders.subs[id]) > 0
}

// An order socket is sent each status once, and never one that comes
// before what it showed.
func TestOrderSocketStatusesOnlyMoveOn(t *testing.T) {
	t.Parallel()
	sub := &subscriber{}
	for _, st := range []domain.OrderStatus{
		domain.StatusPaymentReady, domain.StatusPaymentReady, domain.StatusCreated,
		domain.StatusProcessing, domain.StatusPaymentReady, domain.StatusPaid, domain.StatusPaid,
		domain.StatusProcessing, domain.StatusFailed, "SOMETHING_NEW",
	} {
		sub.sendStatus(st, []byte(st))
	}
	var got []string
	for _, f := range sub.pending {
		got = append(got, string(f))
	}
	want := "PAYMENT_READY PROCESSING PAID FAILED SOMETHING_NEW"
	if strings.Join(got, " ") != want {
		t.Errorf("sent %v, want %s", got, want)
	}
}
