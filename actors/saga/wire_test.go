package saga_test

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	opb "shelflife/actors/orderpb"
	"shelflife/actors/saga"
	"shelflife/domain"
)

// The saga's messages carry all of an order, what the public JSON leaves
// out included: a saga that took an order from its caller must see the
// same nonce and step as one that read MySQL.
func TestOrderEncodingKeepsEverything(t *testing.T) {
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	o := domain.Order{
		ID: "o1", UserID: 7, Status: domain.StatusProcessing, Step: domain.StepDeducting, Total: 12000,
		Address: domain.Point{Lat: 37.5, Lng: 127}, FromCart: true, CreatedAt: at, UpdatedAt: at.Add(time.Second),
		ExpiresAt: at.Add(15 * time.Minute), Deleted: true,
		Lines: []domain.OrderLine{{LineNo: 1, Kind: domain.LineDeal, ProductID: 3, LotID: 9, Quantity: 2, UnitPrice: 3000},
			{LineNo: 2, Kind: domain.LineRegular, ProductID: 4, WarehouseID: 5, Quantity: 1, UnitPrice: 6000}},
		Payment: domain.Payment{TID: "T1", Status: domain.PaymentReady, Amount: 12000, RedirectURL: "http://k/p",
			Nonce: "n0nce", PGToken: "pg", Refunded: 0},
	}
	wire, err := proto.Marshal(saga.EncodeOrder(o))
	if err != nil {
		t.Fatal(err)
	}
	var back opb.Order
	if err := proto.Unmarshal(wire, &back); err != nil {
		t.Fatal(err)
	}
	got, err := saga.DecodeOrder(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, o) {
		t.Errorf("decoded %+v\nwant    %+v", got, o)
	}
	if _, err := saga.DecodeOrder(&opb.Order{}); err == nil {
		t.Error("an order without an id decoded without error")
	}
}
