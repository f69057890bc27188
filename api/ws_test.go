package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/stockview"
)

func TestSlowSubscriberIsDropped(t *testing.T) {
	kicked := 0
	s := &subscriber{out: make(chan []byte, 2), kick: func() { kicked++ }}
	for i := 0; i < 5; i++ {
		s.send([]byte("m")) // nobody reads: the third send finds the queue full
	}
	if kicked != 1 {
		t.Errorf("kicked %d times, want once", kicked)
	}
	if len(s.out) != 2 || !s.closed.Load() {
		t.Errorf("queue %d, closed %v", len(s.out), s.closed.Load())
	}
}

type hubSource struct{}

func (hubSource) Products(context.Context) ([]domain.Product, error) {
	return []domain.Product{{ID: 10, Name: "milk", Price: 3000}, {ID: 11, Name: "eggs", Price: 5000}}, nil
}
func (hubSource) Warehouses(context.Context) ([]domain.Warehouse, error) {
	return []domain.Warehouse{{ID: 1, Lat: 37.5663, Lng: 126.9016, RadiusKm: 6}, {ID: 2, Lat: 37.5145, Lng: 127.1059, RadiusKm: 5}}, nil
}
func (hubSource) LiveLots(context.Context) ([]stockview.LotRow, error) { return nil, nil }

// A bulk change reaches each shopper as one message per product of its
// own warehouses, plus each deal lot's, and admins as every lot.
func TestBulkChangeFansOutByWarehouse(t *testing.T) {
	now := time.Now()
	view := stockview.New(hubSource{}, domain.DefaultLadder(), func() time.Time { return now })
	if err := view.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &stockHub{view: view, subs: map[*subscriber]struct{}{}}
	near := &subscriber{addr: domain.Point{Lat: 37.5667, Lng: 126.93}, warehouses: map[int64]bool{1: true}, key: "1", out: make(chan []byte, 100)}
	far := &subscriber{addr: domain.Point{Lat: 37.5133, Lng: 127.1001}, warehouses: map[int64]bool{2: true}, key: "2", out: make(chan []byte, 100)}
	admin := &subscriber{admin: true, out: make(chan []byte, 100)}
	var events []domain.LotEvent
	for i := range 6 { // three lots of milk, then three of eggs, all in warehouse 1, closing soon
		events = append(events, domain.LotEvent{LotID: int64(100 + i), ProductID: int64(10 + i/3), WarehouseID: 1,
			ExpiresAt: now.Add(30 * time.Hour), OnHand: 2, State: domain.ClosingSoon, Seq: 1})
	}
	view.ApplyAll(events)
	h.fanOutBatch(events, []*subscriber{near, far, admin})
	var products, deals int
	for len(near.out) > 0 {
		var m stockMessage
		json.Unmarshal(<-near.out, &m)
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
	if len(far.out) != 0 {
		t.Errorf("a shopper of another warehouse got %d messages", len(far.out))
	}
	if len(admin.out) != 6 {
		t.Errorf("the admin got %d messages, want 6", len(admin.out))
	}
}
