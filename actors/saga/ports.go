package saga

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"shelflife/actors/dispatch"
	"shelflife/actors/grainctx"
	pb "shelflife/actors/inventorypb"
	opb "shelflife/actors/orderpb"
	"shelflife/clock"
	"shelflife/domain"
)

// OrderFailedTopic carries domain.OrderFailedEvent (compensation 2).
const OrderFailedTopic = "shelflife.order-failed"

// StepApproved is the moment, after APPROVING, when the money is taken but
// the order not yet recorded as paid; Deps.AfterStep hears it.
const StepApproved domain.Step = "APPROVED"

// StepHeld is the moment a stored order (CREATED, its lines held) starts
// on its payment. StepHoldsTaken is the moment the payer's callback has
// committed every hold of a held order, before its pg_token and APPROVING
// are written (the order is still READY). StepCommitted is the same moment
// for an order carried on from DEDUCTING (placed before holds, or resumed
// after a lot did not answer): every line's stock taken, APPROVING not yet
// recorded. Deps.AfterStep hears all three.
const (
	StepHeld       domain.Step = "HELD"
	StepCommitted  domain.Step = "COMMITTED"
	StepHoldsTaken domain.Step = "HOLDS_TAKEN"
)

// Store is what the saga needs of MySQL. Every step's write is conditional
// on the step it comes from and is domain.ErrStepChanged when the order is
// no longer there.
type Store interface {
	Order(ctx context.Context, id string) (domain.Order, error)
	SetReady(ctx context.Context, id, tid, redirect string, now time.Time) error
	// BeginDeducting also records the first warehouse of regular lines
	// (line number -> warehouse id).
	BeginDeducting(ctx context.Context, id, pgToken string, now time.Time, lineWarehouses map[int]int64) error
	SetLineWarehouse(ctx context.Context, id string, lineNo int, warehouseID int64) error
	BeginApproving(ctx context.Context, id string, now time.Time) error
	// BeginApprovingHeld records the payer's pg_token and moves a READY
	// order whose holds were committed straight to APPROVING.
	BeginApprovingHeld(ctx context.Context, id, pgToken string, now time.Time) error
	// SetPGToken replaces the pg_token of an order at APPROVING whose
	// approval was refused for its token (another step: ErrStepChanged).
	SetPGToken(ctx context.Context, id, pgToken string, now time.Time) error
	MarkPaid(ctx context.Context, id, aid string, now time.Time) error
	FailOrder(ctx context.Context, id string, from []domain.Step, f domain.Failure, now time.Time, msgs ...domain.OutboxMessage) error
	// DiscardOrder removes an order that never got a payment page (still
	// CREATED): it never existed for the shopper. Another step is
	// domain.ErrStepChanged. msgs go to the outbox in the same transaction.
	DiscardOrder(ctx context.Context, id string, msgs ...domain.OutboxMessage) error
}

// Payment errors the saga tells apart; any other error is a definite
// refusal.
var (
	// ErrOutcomeUnknown: the call may or may not have taken effect.
	ErrOutcomeUnknown = errors.New("payment outcome unknown")
	// ErrAlreadyApproved: the payment was approved before.
	ErrAlreadyApproved = errors.New("payment already approved")
	// ErrBadPGToken: the approval was refused for its pg_token. Nothing
	// was taken, and the payer's genuine redirect can still bring the
	// right one, so the order waits for it until its payment expires.
	ErrBadPGToken = errors.New("payment approval refused for its pg_token")
	// ErrPaymentUnreachable: the provider did not answer at all; the
	// shopper may try again shortly.
	ErrPaymentUnreachable = errors.New("payment provider unreachable")
)

// PaymentOutcome is what a payment's status at the provider means for
// the money, as Payments.Status reports it.
type PaymentOutcome int

const (
	// PaymentUnknown: a status the adapter does not know; ask again later.
	PaymentUnknown PaymentOutcome = iota
	// PaymentPending: not approved (yet); no money taken.
	PaymentPending
	// PaymentTaken: approved; the money is taken.
	PaymentTaken
	// PaymentNotTaken: ended without money taken, or refunded in full.
	PaymentNotTaken
)

// ReadyRequest asks the payment provider for a payment.
type ReadyRequest struct {
	OrderID     string
	UserID      int64
	ItemName    string
	Quantity    int64
	Amount      domain.KRW
	ApprovalURL string
	CancelURL   string
	FailURL     string
}

// Payments is the payment provider (Kakao Pay).
type Payments interface {
	Ready(ctx context.Context, r ReadyRequest) (tid, redirectURL string, err error)
	Approve(ctx context.Context, tid, orderID string, userID int64, pgToken string, amount domain.KRW) (aid string, err error)
	Status(ctx context.Context, tid string) (PaymentOutcome, error)
	Cancel(ctx context.Context, tid string, amount domain.KRW) error
}

// Stock holds, takes and gives back the stock of order lines. Release and
// RestoreDeal give back whatever the key took, held or deducted.
type Stock interface {
	// HoldRegular and HoldDeal put a line on hold until until; a refusal
	// says how many units could be held.
	HoldRegular(ctx context.Context, warehouseID int64, key string, productID, qty int64, until time.Time) (pb.Reason, int64, error)
	HoldDeal(ctx context.Context, lotID int64, key string, qty int64, until time.Time) (pb.Reason, int64, error)
	// CommitRegular and CommitDeal turn a line's hold into a deduction;
	// NO_HOLD when the key holds nothing there.
	CommitRegular(ctx context.Context, warehouseID int64, key string, productID int64) (pb.Reason, error)
	CommitDeal(ctx context.Context, lotID int64, key string) (pb.Reason, error)
	// Allocate and DeductDeal deduct without a hold (orders placed before
	// holds existed).
	Allocate(ctx context.Context, warehouseID int64, key string, productID, qty int64) (pb.Reason, error)
	DeductDeal(ctx context.Context, lotID int64, key string, qty int64) (pb.Reason, error)
	Returner
}

// Returner gives back what order lines took, held or deducted: all that
// Restore (compensation) needs.
type Returner interface {
	Release(ctx context.Context, warehouseID int64, key string, productID int64) error
	RestoreDeal(ctx context.Context, lotID int64, key string) error
}

// Places says which warehouses serve an address.
type Places interface {
	Serving(addr domain.Point) []domain.Warehouse
}

// Stocked, when Places has it too, says how many regular units of a
// product a warehouse holds as far as this node knows. It only orders
// the warehouses a regular line is tried at: what it says may lag behind
// the warehouse, which alone decides.
type Stocked interface {
	RegularAt(warehouseID, productID int64) int64
}

// Notifier hears every change of an order's status. It must not block.
type Notifier interface {
	OrderChanged(o domain.Order)
}

// URLs builds the addresses Kakao Pay sends the payer back to.
type URLs interface {
	Approval(orderID, nonce string) string
	Cancel(orderID, nonce string) string
	Fail(orderID, nonce string) string
}

// Deps are shared by the saga grains of a node.
type Deps struct {
	Store    Store
	Payments Payments
	Places   Places
	Notifier Notifier
	URLs     URLs
	Clock    clock.Clock
	Logger   *slog.Logger
	// StepTimeout bounds one message's work.
	StepTimeout time.Duration
	IdleTimeout time.Duration
	// Stock, when nil, calls the lot and warehouse grains of the cluster.
	Stock Stock
	// AfterStep, when set, runs after each step is persisted (READY,
	// DEDUCTING, APPROVING), before a held order's payment is made ready
	// (StepHeld), after its holds are committed (StepHoldsTaken; from
	// DEDUCTING, StepCommitted) and after the money is taken
	// (StepApproved).
	// Crash tests use it to stop the process exactly there.
	AfterStep func(orderID string, step domain.Step)
}

// withDefaults fills what d leaves unset.
func (d Deps) withDefaults() Deps {
	grainctx.Common(&d.Clock, &d.Logger, &d.IdleTimeout, 2*time.Minute)
	grainctx.Positive(&d.StepTimeout, 30*time.Second)
	return d
}

// Kind is the cluster kind of saga grains.
func Kind(d Deps) *cluster.Kind {
	deps := d.withDefaults()
	return opb.NewOrderSagaKind(func() opb.OrderSaga { return &grain{deps: &deps} }, deps.IdleTimeout, dispatch.Option())
}
