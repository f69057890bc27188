package orderpb_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	opb "shelflife/actors/orderpb"
	"shelflife/domain"
)

// The saga's messages carry all of an order, what the public JSON leaves
// out included: a saga that took an order from its caller must see the
// same nonce and step as one that read MySQL.
func TestOrderEncodingKeepsEverything(t *testing.T) {
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	o := domain.Order{
		ID: "o1", UserID: 7, Status: domain.StatusFailed, Step: domain.StepDeducting, Reason: domain.ReasonPaymentDeclined, Total: 12000,
		Address: domain.Point{Lat: 37.5, Lng: 127}, FromCart: true, CreatedAt: at, UpdatedAt: at.Add(time.Second),
		ExpiresAt: at.Add(15 * time.Minute), Deleted: true,
		Lines: []domain.OrderLine{{LineNo: 1, Kind: domain.LineDeal, ProductID: 3, LotID: 9, Quantity: 2, UnitPrice: 3000},
			{LineNo: 2, Kind: domain.LineRegular, ProductID: 4, WarehouseID: 5, Quantity: 1, UnitPrice: 6000}},
		Payment: domain.Payment{TID: "T1", Status: domain.PaymentReady, Amount: 12000, RedirectURL: "http://k/p",
			Nonce: "n0nce", PGToken: "pg", Refunded: 0},
	}
	wire, err := proto.Marshal(opb.EncodeOrder(o))
	if err != nil {
		t.Fatal(err)
	}
	var back opb.Order
	if err := proto.Unmarshal(wire, &back); err != nil {
		t.Fatal(err)
	}
	got, err := opb.DecodeOrder(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, o) {
		t.Errorf("decoded %+v\nwant    %+v", got, o)
	}
	if _, err := opb.DecodeOrder(&opb.Order{}); err == nil {
		t.Error("an order without an id decoded without error")
	}
}

// Every failure reason and every refusal survives the wire, and a value
// from a newer node is read as "unavailable", never as success.
func TestReasonsAndRefusals(t *testing.T) {
	for _, r := range []domain.Reason{"", domain.ReasonInsufficientStock, domain.ReasonPaymentDeclined, domain.ReasonPaymentCancelled,
		domain.ReasonPaymentFailed, domain.ReasonPaymentUnavailable, domain.ReasonExpired} {
		if got := opb.ReasonOf(r).Domain(); got != r {
			t.Errorf("reason %q came back as %q", r, got)
		}
		if r != "" && opb.ReasonOf(r) == opb.Reason_REASON_NONE {
			t.Errorf("reason %q has no wire value", r)
		}
	}
	for _, tc := range []struct {
		r    opb.Refusal
		want error
	}{
		{opb.Refusal_REFUSAL_NONE, nil},
		{opb.Refusal_NOT_FOUND, domain.ErrOrderNotFound},
		{opb.Refusal_BAD_CALLBACK, domain.ErrBadCallback},
		{opb.Refusal_UNAVAILABLE, domain.ErrUnavailable},
		{opb.Refusal_PAYMENT_NOT_STARTED, domain.ErrPaymentUnavailable},
		{opb.Refusal_PAYMENT_UNREACHABLE, domain.ErrPaymentUnreachable},
		{opb.Refusal(99), domain.ErrUnavailable},
	} {
		if got := tc.r.Err(); !errors.Is(got, tc.want) || (tc.want == nil) != (got == nil) {
			t.Errorf("%v.Err() = %v, want %v", tc.r, got, tc.want)
		}
	}
	if _, err := opb.Answer(&opb.SagaState{OrderId: "o1"}); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("an answer without its order = %v, want ErrUnavailable", err)
	}
	o, err := opb.Answer(&opb.SagaState{OrderId: "o1", Order: &opb.Order{Id: "o1", Status: "PAID"}})
	if err != nil || o.Status != domain.StatusPaid {
		t.Errorf("answer = %+v, %v; want the PAID order", o, err)
	}
}
