package orderpb

import (
	"errors"
	"time"

	"shelflife/domain"
)

// reasons is the one table between the order failure reasons of package
// domain and their wire values.
var reasons = map[domain.Reason]Reason{
	"":                              Reason_REASON_NONE,
	domain.ReasonInsufficientStock:  Reason_INSUFFICIENT_STOCK,
	domain.ReasonPaymentDeclined:    Reason_PAYMENT_DECLINED,
	domain.ReasonPaymentCancelled:   Reason_PAYMENT_CANCELLED,
	domain.ReasonPaymentFailed:      Reason_PAYMENT_FAILED,
	domain.ReasonPaymentUnavailable: Reason_PAYMENT_UNAVAILABLE,
	domain.ReasonExpired:            Reason_PAYMENT_EXPIRED,
}

// ReasonOf is r on the wire; a reason the table lacks is REASON_NONE.
func ReasonOf(r domain.Reason) Reason { return reasons[r] }

// Domain is the domain reason r stands for.
func (r Reason) Domain() domain.Reason {
	for d, w := range reasons {
		if w == r {
			return d
		}
	}
	return ""
}

// refusals are the errors of package domain each refusal stands for.
var refusals = map[Refusal]error{
	Refusal_NOT_FOUND:    domain.ErrOrderNotFound,
	Refusal_BAD_CALLBACK: domain.ErrBadCallback,
	Refusal_UNAVAILABLE:  domain.ErrUnavailable,
	// The ready call failed: the order was discarded.
	Refusal_PAYMENT_NOT_STARTED: domain.ErrPaymentUnavailable,
	Refusal_PAYMENT_UNREACHABLE: domain.ErrPaymentUnreachable,
}

// Err is the domain error r stands for; nil for REFUSAL_NONE, and
// domain.ErrUnavailable for a value this node does not know.
func (r Refusal) Err() error {
	if r == Refusal_REFUSAL_NONE {
		return nil
	}
	if err, ok := refusals[r]; ok {
		return err
	}
	return domain.ErrUnavailable
}

// EncodeOrder is o as saga messages carry it.
func EncodeOrder(o domain.Order) *Order {
	m := &Order{
		Id: o.ID, UserId: o.UserID, Status: string(o.Status), Step: string(o.Step), Reason: ReasonOf(o.Reason),
		Total: int64(o.Total), Lat: o.Address.Lat, Lng: o.Address.Lng, FromCart: o.FromCart, CreatedAt: micros(o.CreatedAt),
		UpdatedAt: micros(o.UpdatedAt), ExpiresAt: micros(o.ExpiresAt), Deleted: o.Deleted,
		Tid: o.Payment.TID, PaymentStatus: string(o.Payment.Status), Amount: int64(o.Payment.Amount),
		RedirectUrl: o.Payment.RedirectURL, Nonce: o.Payment.Nonce, PgToken: o.Payment.PGToken, Refunded: int64(o.Payment.Refunded),
	}
	m.Lines = make([]*OrderLine, len(o.Lines))
	for i, l := range o.Lines {
		m.Lines[i] = &OrderLine{LineNo: int64(l.LineNo), Kind: string(l.Kind), ProductId: l.ProductID, LotId: l.LotID,
			WarehouseId: l.WarehouseID, Quantity: l.Quantity, UnitPrice: int64(l.UnitPrice)}
	}
	return m
}

// DecodeOrder reads what EncodeOrder wrote.
func DecodeOrder(m *Order) (domain.Order, error) {
	if m.GetId() == "" {
		return domain.Order{}, errors.New("order without an id")
	}
	o := domain.Order{
		ID: m.GetId(), UserID: m.GetUserId(), Status: domain.OrderStatus(m.GetStatus()), Step: domain.Step(m.GetStep()),
		Reason: m.GetReason().Domain(), Total: domain.KRW(m.GetTotal()), Address: domain.Point{Lat: m.GetLat(), Lng: m.GetLng()},
		FromCart: m.GetFromCart(), CreatedAt: fromMicros(m.GetCreatedAt()), UpdatedAt: fromMicros(m.GetUpdatedAt()),
		ExpiresAt: fromMicros(m.GetExpiresAt()), Deleted: m.GetDeleted(),
		Payment: domain.Payment{TID: m.GetTid(), Status: domain.PaymentStatus(m.GetPaymentStatus()), Amount: domain.KRW(m.GetAmount()),
			RedirectURL: m.GetRedirectUrl(), Nonce: m.GetNonce(), PGToken: m.GetPgToken(), Refunded: domain.KRW(m.GetRefunded())},
	}
	for _, l := range m.GetLines() {
		o.Lines = append(o.Lines, domain.OrderLine{LineNo: int(l.GetLineNo()), Kind: domain.LineKind(l.GetKind()), ProductID: l.GetProductId(),
			LotID: l.GetLotId(), WarehouseID: l.GetWarehouseId(), Quantity: l.GetQuantity(), UnitPrice: domain.KRW(l.GetUnitPrice())})
	}
	return o, nil
}

// Answer is the order a saga's reply carries, or the domain error its
// refusal stands for. A reply that is not refused carries the order.
func Answer(st *SagaState) (domain.Order, error) {
	if err := st.GetRefusal().Err(); err != nil {
		return domain.Order{}, err
	}
	o, err := DecodeOrder(st.GetOrder())
	if err != nil || o.ID != st.GetOrderId() {
		return domain.Order{}, errors.Join(errors.New("saga answer without its order"), domain.ErrUnavailable)
	}
	return o, nil
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
