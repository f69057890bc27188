package domain

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// OrderStatus is an order's status as shoppers see it.
type OrderStatus string

// Order statuses.
const (
	StatusCreated      OrderStatus = "CREATED"
	StatusPaymentReady OrderStatus = "PAYMENT_READY"
	StatusProcessing   OrderStatus = "PROCESSING"
	StatusPaid         OrderStatus = "PAID"
	StatusFailed       OrderStatus = "FAILED"
	StatusExpired      OrderStatus = "EXPIRED"
)

// Step is where an order's saga stands; every step is persisted before
// the saga acts on it.
type Step string

// Saga steps, in order.
const (
	StepCreated   Step = "CREATED"   // order and lines saved
	StepReady     Step = "READY"     // payment ready at Kakao Pay, waiting for the payer
	StepDeducting Step = "DEDUCTING" // payer approved; taking the stock
	StepApproving Step = "APPROVING" // stock taken; taking the money
	StepDone      Step = "DONE"      // terminal
)

// Reason says why an order failed; empty for an order that did not.
type Reason string

// Failure reasons.
const (
	ReasonInsufficientStock  Reason = "insufficient_stock"
	ReasonPaymentDeclined    Reason = "payment_declined"
	ReasonPaymentCancelled   Reason = "payment_cancelled"
	ReasonPaymentFailed      Reason = "payment_failed"
	ReasonPaymentUnavailable Reason = "payment_unavailable"
	ReasonExpired            Reason = "payment_expired"
)

// LineKind says where an order line's stock comes from.
type LineKind string

// Line kinds.
const (
	LineRegular LineKind = "REGULAR" // a product, allocated FEFO by a warehouse
	LineDeal    LineKind = "DEAL"    // one closing-soon lot
)

// OrderLine is one line of an order.
type OrderLine struct {
	LineNo      int      `json:"line_no"`
	Kind        LineKind `json:"kind"`
	ProductID   int64    `json:"product_id"`
	LotID       int64    `json:"lot_id,omitempty"`
	WarehouseID int64    `json:"warehouse_id,omitempty"`
	Quantity    int64    `json:"quantity"`
	UnitPrice   KRW      `json:"unit_price"`
}

// Key is the idempotency key of the line's stock deductions.
func (l OrderLine) Key(orderID string) string {
	if l.Kind == LineDeal {
		return orderID + "-l" + strconv.FormatInt(l.LotID, 10)
	}
	return orderID + "-p" + strconv.FormatInt(l.ProductID, 10)
}

// Payment is an order's payment at Kakao Pay.
type Payment struct {
	TID         string        `json:"tid"`
	Status      PaymentStatus `json:"status"`
	Amount      KRW           `json:"amount"`
	RedirectURL string        `json:"redirect_url"`
	Nonce       string        `json:"-"`
	PGToken     string        `json:"-"`
	Refunded    KRW           `json:"refunded"`
}

// PaymentStatus is where an order's payment stands, as the shop keeps it.
type PaymentStatus string

// Payment statuses.
const (
	PaymentNone      PaymentStatus = "NONE"
	PaymentReady     PaymentStatus = "READY"
	PaymentApproved  PaymentStatus = "APPROVED"
	PaymentDeclined  PaymentStatus = "DECLINED"
	PaymentCancelled PaymentStatus = "CANCELLED"
	PaymentRefunded  PaymentStatus = "REFUNDED"
)

// Order is an order with its lines and payment.
type Order struct {
	ID        string      `json:"order_id"`
	UserID    int64       `json:"user_id"`
	Status    OrderStatus `json:"status"`
	Step      Step        `json:"-"`
	Reason    Reason      `json:"reason,omitempty"`
	Total     KRW         `json:"total"`
	Address   Point       `json:"address"`
	FromCart  bool        `json:"from_cart"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	ExpiresAt time.Time   `json:"expires_at"`
	Deleted   bool        `json:"-"`
	Lines     []OrderLine `json:"lines"`
	Payment   Payment     `json:"payment"`
}

// SoldOutError is a placement refused because a line could not be put on
// hold: no order was stored and no payment started. Available is how many
// units of the line could be had (from one warehouse, or the deal's lot).
type SoldOutError struct {
	ProductID int64
	LotID     int64
	Available int64
}

func (e *SoldOutError) Error() string {
	what := fmt.Sprintf("product %d", e.ProductID)
	if e.LotID > 0 {
		what = fmt.Sprintf("lot %d", e.LotID)
	}
	return fmt.Sprintf("%s: %d available: %v", what, e.Available, ErrSoldOut)
}

// Is makes errors.Is(err, ErrSoldOut) hold.
func (e *SoldOutError) Is(target error) bool { return target == ErrSoldOut }

// Terminal reports whether the order will not change any more.
func (o Order) Terminal() bool {
	return o.Status == StatusPaid || o.Status == StatusFailed || o.Status == StatusExpired
}

// Order errors.
var (
	ErrOrderNotFound     = errors.New("order not found")
	ErrInsufficientStock = errors.New("not enough stock near the delivery address")
	// ErrSoldOut: an order line could not be held; see SoldOutError.
	ErrSoldOut     = errors.New("sold out near the delivery address")
	ErrDealLimit   = errors.New("more of this deal than one shopper may buy")
	ErrNotADeal    = errors.New("this lot is not on sale near the delivery address")
	ErrEmptyOrder  = errors.New("the order has no items")
	ErrBadCallback = errors.New("this payment callback is not valid for the order")
	ErrStepChanged = errors.New("the order moved on meanwhile")
	// ErrTooManyUnpaid: the shopper has as many orders waiting for payment
	// as one may; paying, cancelling or their expiry makes room.
	ErrTooManyUnpaid = errors.New("you have too many orders waiting for payment; pay or cancel one first")
	// ErrUnavailable means a part of the shop did not answer in time; the
	// request may be repeated (every step is idempotent).
	ErrUnavailable = errors.New("the shop is busy or partly unavailable; try again shortly")
	// ErrPaymentUnavailable: Kakao Pay refused to start the payment (its
	// ready call failed). No order was kept and nothing was charged.
	ErrPaymentUnavailable = errors.New("the payment could not be started at Kakao Pay; no order was placed and nothing was charged")
	// ErrPaymentUnreachable: Kakao Pay did not answer the ready call. No
	// order was kept; the same order may be placed again shortly.
	ErrPaymentUnreachable = errors.New("the payment service (Kakao Pay) cannot be reached; no order was placed and nothing was charged; try again shortly")
)

// OutboxMessage is an event written in the same transaction as the change
// it reports, published to Kafka afterwards.
type OutboxMessage struct {
	ID      int64
	Topic   string
	Key     string
	Payload []byte
}

// OrderFailedEvent asks inventory to put back what a failed order took.
// Restores are idempotent, so the event may be handled more than once.
type OrderFailedEvent struct {
	EventID    string      `json:"event_id"`
	OrderID    string      `json:"order_id"`
	Reason     Reason      `json:"reason"`
	Warehouses []int64     `json:"warehouses"`
	Lines      []OrderLine `json:"lines"`
	At         time.Time   `json:"at"`
}

// Failure is how an order ends when it fails: its status, the reason, and
// what becomes of its payment.
type Failure struct {
	Status  OrderStatus
	Reason  Reason
	Payment PaymentStatus
}

// OrderItem is one item a shopper orders: a product (regular stock) or a
// lot (a closing-soon deal).
type OrderItem struct {
	ProductID int64 `json:"product_id,omitempty"`
	LotID     int64 `json:"lot_id,omitempty"`
	Quantity  int64 `json:"quantity"`
}

// OrderFilter selects orders for listings, newest first.
type OrderFilter struct {
	UserID int64
	Status OrderStatus
	// StuckFor lists orders whose saga is mid-way (not READY or DONE) and
	// has not moved for that long.
	StuckFor time.Duration
	Limit    int
	// BeforeCreated and BeforeID, when BeforeID is set, list only the
	// orders after that one in the listing's order (a keyset cursor):
	// created earlier, or at the same instant with a smaller id.
	BeforeCreated time.Time
	BeforeID      string
}

// Reconciliation compares what the shop's payments say with its orders.
type Reconciliation struct {
	PaidOrders         int64    `json:"paid_orders"`
	PaidTotal          KRW      `json:"paid_total"`
	ApprovedPayments   int64    `json:"approved_payments"`
	ApprovedTotal      KRW      `json:"approved_total"`
	RefundedPayments   int64    `json:"refunded_payments"`
	RefundedTotal      KRW      `json:"refunded_total"`
	ApprovedNotPaid    []string `json:"approved_not_paid"`
	FailedWithApproval []string `json:"failed_with_approval"`
}
