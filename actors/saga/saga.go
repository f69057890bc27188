// Package saga is the order saga grain: one virtual actor per order
// (identity: the order id) that runs the order's steps in order — payment
// ready, stock deducted, money approved — and the compensations when a step
// fails. Every step is persisted before the saga acts on it, so a saga
// resumes from MySQL on whichever node reactivates it; every message is
// idempotent. Money is never taken before the stock is secured.
package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"shelflife/actors/grainctx"
	pb "shelflife/actors/inventorypb"
	"shelflife/actors/lot"
	opb "shelflife/actors/orderpb"
	"shelflife/actors/warehouse"
	"shelflife/clock"
	"shelflife/domain"
)

// OrderFailedTopic carries domain.OrderFailedEvent (compensation 2).
const OrderFailedTopic = "shelflife.order-failed"

// Store is what the saga needs of MySQL.
type Store interface {
	Order(ctx context.Context, id string) (domain.Order, error)
	SetReady(ctx context.Context, id, tid, redirect string, now time.Time) error
	// BeginDeducting also records the first warehouse of regular lines
	// (line number -> warehouse id).
	BeginDeducting(ctx context.Context, id, pgToken string, now time.Time, lineWarehouses map[int]int64) error
	SetLineWarehouse(ctx context.Context, id string, lineNo int, warehouseID int64) error
	BeginApproving(ctx context.Context, id string, now time.Time) error
	MarkPaid(ctx context.Context, id, aid string, now time.Time) error
	FailOrder(ctx context.Context, id string, fromSteps []string, status, reason, paymentStatus string, now time.Time, msgs ...domain.OutboxMessage) error
	MarkRefunded(ctx context.Context, id string, amount domain.KRW, now time.Time) error
	// DiscardOrder removes an order that never got a payment page (still
	// CREATED): it never existed for the shopper. Another step is
	// domain.ErrStepChanged.
	DiscardOrder(ctx context.Context, id string) error
}

// Payment errors the saga tells apart; any other error is a definite
// refusal.
var (
	// ErrOutcomeUnknown: the call may or may not have taken effect.
	ErrOutcomeUnknown = errors.New("payment outcome unknown")
	// ErrAlreadyApproved: the payment was approved before.
	ErrAlreadyApproved = errors.New("payment already approved")
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

// Places says which warehouses serve an address.
type Places interface {
	Serving(addr domain.Point) []domain.Warehouse
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
	// DEDUCTING, APPROVING) and after the money is taken (APPROVED). Crash
	// tests use it to stop the process exactly there.
	AfterStep func(orderID, step string)
}

// Stock takes and gives back the stock of order lines.
type Stock interface {
	Allocate(ctx context.Context, warehouseID int64, key string, productID, qty int64) (pb.Reason, error)
	Release(ctx context.Context, warehouseID int64, key string, productID int64) error
	DeductDeal(ctx context.Context, lotID int64, key string, qty int64) (pb.Reason, error)
	RestoreDeal(ctx context.Context, lotID int64, key string) error
}

// Kind is the cluster kind of saga grains.
func Kind(d Deps) *cluster.Kind {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.StepTimeout <= 0 {
		d.StepTimeout = 30 * time.Second
	}
	if d.IdleTimeout <= 0 {
		d.IdleTimeout = 2 * time.Minute
	}
	deps := d
	return opb.NewOrderSagaKind(func() opb.OrderSaga { return &grain{deps: &deps} }, deps.IdleTimeout)
}

// ClusterStock is Stock over the lot and warehouse grains.
type ClusterStock struct {
	Lots       *lot.Client
	Warehouses *warehouse.Client
}

// Allocate takes a regular line from a warehouse.
func (s ClusterStock) Allocate(ctx context.Context, w int64, key string, product, qty int64) (pb.Reason, error) {
	r, err := s.Warehouses.Allocate(ctx, w, key, product, qty)
	if err != nil {
		return pb.Reason_UNAVAILABLE, err
	}
	return r.GetReason(), nil
}

// Release gives a regular line back to a warehouse.
func (s ClusterStock) Release(ctx context.Context, w int64, key string, product int64) error {
	r, err := s.Warehouses.Release(ctx, w, key, product)
	if err != nil {
		return err
	}
	if r.GetReason() != pb.Reason_OK {
		return fmt.Errorf("release at warehouse %d: %s", w, r.GetReason())
	}
	return nil
}

// DeductDeal takes a deal line from its lot.
func (s ClusterStock) DeductDeal(ctx context.Context, lotID int64, key string, qty int64) (pb.Reason, error) {
	r, err := s.Lots.Deduct(ctx, lotID, key, qty, pb.Channel_DEAL)
	if err != nil {
		return pb.Reason_UNAVAILABLE, err
	}
	return r.GetReason(), nil
}

// RestoreDeal gives a deal line back to its lot.
func (s ClusterStock) RestoreDeal(ctx context.Context, lotID int64, key string) error {
	r, err := s.Lots.Restore(ctx, lotID, key)
	if err != nil {
		return err
	}
	if r.GetReason() != pb.Reason_OK {
		return fmt.Errorf("restore lot %d: %s", lotID, r.GetReason())
	}
	return nil
}

type grain struct {
	deps  *Deps
	id    string
	stock Stock
	log   *slog.Logger
	// known is the order as this activation last read or wrote it, so that
	// a step costs no read. Every step's write is conditional on the step
	// it came from: a stale copy (another activation moved the order) makes
	// the write fail with ErrStepChanged, and the saga reads MySQL again.
	known *domain.Order
}

var _ opb.OrderSaga = (*grain)(nil)

func (g *grain) Init(ctx cluster.GrainContext) {
	g.id = ctx.Identity()
	g.log = g.deps.Logger.With("order", g.id)
	g.stock = g.deps.Stock
	if g.stock == nil {
		g.stock = ClusterStock{Lots: lot.NewClient(ctx.Cluster()), Warehouses: warehouse.NewClient(ctx.Cluster())}
	}
}

func (g *grain) Terminate(cluster.GrainContext)      {}
func (g *grain) ReceiveDefault(cluster.GrainContext) {}

func (g *grain) now() time.Time { return g.deps.Clock.Now() }

func (g *grain) after(step string) {
	if g.deps.AfterStep != nil {
		g.deps.AfterStep(g.id, step)
	}
}

// guard runs one message's work with a deadline and never lets a panic
// reset the grain silently.
func (g *grain) guard(work func(ctx context.Context) (*opb.SagaState, error)) (st *opb.SagaState, err error) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("saga panic", "panic", fmt.Sprint(r))
			st, err = g.unavailable(), nil
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), g.deps.StepTimeout)
	defer cancel()
	return work(ctx)
}

// order is the order as this activation knows it, read from MySQL when it
// knows nothing. The copy is the caller's to change.
func (g *grain) order(ctx context.Context) (domain.Order, error) {
	if g.known == nil {
		o, err := g.deps.Store.Order(ctx, g.id)
		if err != nil {
			return o, err
		}
		g.remember(o)
	}
	return copyOrder(*g.known), nil
}

func (g *grain) remember(o domain.Order) {
	c := copyOrder(o)
	g.known = &c
}

func copyOrder(o domain.Order) domain.Order {
	o.Lines = append([]domain.OrderLine(nil), o.Lines...)
	return o
}

// state reads the order from MySQL (what this activation knew may be
// stale) and answers it.
func (g *grain) state(ctx context.Context, errCode string) (*opb.SagaState, error) {
	g.known = nil
	o, err := g.order(ctx)
	if errors.Is(err, domain.ErrOrderNotFound) {
		return &opb.SagaState{OrderId: g.id, Error: "not_found"}, nil
	}
	if err != nil {
		g.log.Error("read order", "error", err.Error())
		return &opb.SagaState{OrderId: g.id, Error: "unavailable"}, nil
	}
	st := &opb.SagaState{OrderId: o.ID, Status: o.Status, Reason: o.Reason, Step: o.Step, Error: errCode}
	if errCode == "" {
		st.Order = EncodeOrder(o)
	}
	return st, nil
}

// unavailable answers a step that could not be made durable; what this
// activation knew of the order is forgotten.
func (g *grain) unavailable() *opb.SagaState {
	g.known = nil
	return &opb.SagaState{OrderId: g.id, Error: "unavailable"}
}

// moved records in memory the step the store just made durable, tells the
// notifier, and answers it, so that a step costs no read back.
func (g *grain) moved(o *domain.Order, step, status, reason string) *opb.SagaState {
	o.Step, o.Status, o.Reason, o.UpdatedAt = step, status, reason, g.now()
	g.remember(*o)
	if g.deps.Notifier != nil {
		g.deps.Notifier.OrderChanged(*o)
	}
	return &opb.SagaState{OrderId: o.ID, Status: status, Reason: reason, Step: step, Order: EncodeOrder(*o)}
}

// EncodeOrder is o as saga messages carry it.
func EncodeOrder(o domain.Order) *opb.Order {
	m := &opb.Order{
		Id: o.ID, UserId: o.UserID, Status: o.Status, Step: o.Step, Reason: o.Reason, Total: int64(o.Total),
		Lat: o.Address.Lat, Lng: o.Address.Lng, FromCart: o.FromCart, CreatedAt: micros(o.CreatedAt),
		UpdatedAt: micros(o.UpdatedAt), ExpiresAt: micros(o.ExpiresAt), Deleted: o.Deleted,
		Tid: o.Payment.TID, PaymentStatus: o.Payment.Status, Amount: int64(o.Payment.Amount),
		RedirectUrl: o.Payment.RedirectURL, Nonce: o.Payment.Nonce, PgToken: o.Payment.PGToken, Refunded: int64(o.Payment.Refunded),
	}
	m.Lines = make([]*opb.OrderLine, len(o.Lines))
	for i, l := range o.Lines {
		m.Lines[i] = &opb.OrderLine{LineNo: int64(l.LineNo), Kind: l.Kind, ProductId: l.ProductID, LotId: l.LotID,
			WarehouseId: l.WarehouseID, Quantity: l.Quantity, UnitPrice: int64(l.UnitPrice)}
	}
	return m
}

// DecodeOrder reads what EncodeOrder wrote.
func DecodeOrder(m *opb.Order) (domain.Order, error) {
	if m.GetId() == "" {
		return domain.Order{}, errors.New("order without an id")
	}
	o := domain.Order{
		ID: m.GetId(), UserID: m.GetUserId(), Status: m.GetStatus(), Step: m.GetStep(), Reason: m.GetReason(),
		Total: domain.KRW(m.GetTotal()), Address: domain.Point{Lat: m.GetLat(), Lng: m.GetLng()}, FromCart: m.GetFromCart(),
		CreatedAt: fromMicros(m.GetCreatedAt()), UpdatedAt: fromMicros(m.GetUpdatedAt()), ExpiresAt: fromMicros(m.GetExpiresAt()),
		Deleted: m.GetDeleted(),
		Payment: domain.Payment{TID: m.GetTid(), Status: m.GetPaymentStatus(), Amount: domain.KRW(m.GetAmount()),
			RedirectURL: m.GetRedirectUrl(), Nonce: m.GetNonce(), PGToken: m.GetPgToken(), Refunded: domain.KRW(m.GetRefunded())},
	}
	for _, l := range m.GetLines() {
		o.Lines = append(o.Lines, domain.OrderLine{LineNo: int(l.GetLineNo()), Kind: l.GetKind(), ProductID: l.GetProductId(),
			LotID: l.GetLotId(), WarehouseID: l.GetWarehouseId(), Quantity: l.GetQuantity(), UnitPrice: domain.KRW(l.GetUnitPrice())})
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

// Start asks the payment provider for the payment (step CREATED -> READY).
//
// The request may carry the order as its caller just stored it; a fresh
// activation takes it instead of reading MySQL. Payment-ready is
// conditional on the order still being CREATED, so a stale copy cannot
// move it twice.
func (g *grain) Start(req *opb.StartRequest, _ cluster.GrainContext) (*opb.SagaState, error) {
	return g.guard(func(ctx context.Context) (*opb.SagaState, error) {
		if g.known == nil && req.GetOrder() != nil {
			if o, err := DecodeOrder(req.GetOrder()); err == nil && o.ID == g.id {
				g.remember(o)
			}
		}
		o, err := g.order(ctx)
		if err != nil {
			return g.state(ctx, "")
		}
		if o.Step != domain.StepCreated {
			return g.state(ctx, "")
		}
		tid, redirect, err := g.deps.Payments.Ready(ctx, ReadyRequest{
			OrderID: o.ID, UserID: o.UserID, ItemName: itemName(o), Quantity: totalQuantity(o), Amount: o.Total,
			ApprovalURL: g.deps.URLs.Approval(o.ID, o.Payment.Nonce), CancelURL: g.deps.URLs.Cancel(o.ID, o.Payment.Nonce),
			FailURL: g.deps.URLs.Fail(o.ID, o.Payment.Nonce),
		})
		if err != nil {
			g.log.Warn("payment ready failed", "error", err.Error())
			return g.discard(ctx, o, err)
		}
		if err := g.deps.Store.SetReady(ctx, o.ID, tid, redirect, g.now()); err != nil {
			if errors.Is(err, domain.ErrStepChanged) {
				return g.state(ctx, "")
			}
			g.log.Error("record ready payment", "error", err.Error())
			return g.unavailable(), nil
		}
		g.after(domain.StepReady)
		o.Payment.TID, o.Payment.RedirectURL, o.Payment.Status = tid, redirect, domain.PaymentReady
		return g.moved(&o, domain.StepReady, domain.StatusPaymentReady, ""), nil
	})
}

// discard removes an order whose payment could not be made ready: the
// shopper gets an error instead of an order, nothing was held or charged,
// and the order's rows go. The answer says whether Kakao Pay refused
// (payment_unavailable) or did not answer (payment_unreachable).
func (g *grain) discard(ctx context.Context, o domain.Order, cause error) (*opb.SagaState, error) {
	if err := g.deps.Store.DiscardOrder(ctx, o.ID); err != nil {
		if errors.Is(err, domain.ErrStepChanged) {
			return g.state(ctx, "")
		}
		g.log.Error("discard order without payment", "error", err.Error())
		return g.unavailable(), nil
	}
	g.known = nil
	code := "payment_unavailable"
	if errors.Is(cause, ErrPaymentUnreachable) {
		code = "payment_unreachable"
	}
	return &opb.SagaState{OrderId: g.id, Error: code}, nil
}

func itemName(o domain.Order) string {
	if len(o.Lines) <= 1 {
		return "ShelfLife 주문"
	}
	return fmt.Sprintf("ShelfLife 주문 외 %d건", len(o.Lines)-1)
}

func totalQuantity(o domain.Order) int64 {
	var q int64
	for _, l := range o.Lines {
		q += l.Quantity
	}
	return q
}

// Approve runs the saga to its end after the payer approved: deduct every
// line, then take the money.
func (g *grain) Approve(req *opb.ApproveRequest, _ cluster.GrainContext) (*opb.SagaState, error) {
	return g.guard(func(ctx context.Context) (*opb.SagaState, error) {
		o, err := g.order(ctx)
		if err != nil {
			return g.state(ctx, "")
		}
		if req.GetNonce() == "" || req.GetNonce() != o.Payment.Nonce || req.GetPgToken() == "" {
			return g.state(ctx, "bad_callback")
		}
		if o.Step == domain.StepReady {
			if g.now().After(o.ExpiresAt) {
				return g.abort(ctx, o, domain.StatusExpired, domain.ReasonExpired)
			}
			first := g.firstWarehouses(o)
			if err := g.deps.Store.BeginDeducting(ctx, o.ID, req.GetPgToken(), g.now(), first); err != nil {
				if !errors.Is(err, domain.ErrStepChanged) {
					return g.unavailable(), nil
				}
				// Another activation moved it on meanwhile: carry on from
				// MySQL.
				g.known = nil
				if o, err = g.order(ctx); err != nil {
					return g.state(ctx, "")
				}
			} else {
				g.after(domain.StepDeducting)
				o.Payment.PGToken = req.GetPgToken()
				for i, l := range o.Lines {
					if w, ok := first[l.LineNo]; ok {
						o.Lines[i].WarehouseID = w
					}
				}
				g.moved(&o, domain.StepDeducting, domain.StatusProcessing, "")
			}
		}
		return g.run(ctx, o)
	})
}

// Resume continues a saga left mid-way (a crash, an unavailable step) and
// expires one whose payment waited too long.
func (g *grain) Resume(_ *opb.ResumeRequest, _ cluster.GrainContext) (*opb.SagaState, error) {
	return g.guard(func(ctx context.Context) (*opb.SagaState, error) {
		// A sweep's resume reads MySQL: the order may have been left by
		// another activation.
		g.known = nil
		o, err := g.order(ctx)
		if err != nil {
			return g.state(ctx, "")
		}
		switch o.Step {
		case domain.StepCreated:
			// Start never finished: nobody can have paid a payment whose
			// URL never reached them, so the order goes as if never placed.
			return g.discard(ctx, o, ErrPaymentUnreachable)
		case domain.StepReady:
			if g.now().After(o.ExpiresAt) {
				return g.abort(ctx, o, domain.StatusExpired, domain.ReasonExpired)
			}
			return g.state(ctx, "")
		default:
			return g.run(ctx, o)
		}
	})
}

// Abort ends an order whose payer cancelled or failed at Kakao Pay, or
// whose payment expired. Only an order still waiting for the payer can be
// aborted; one already being approved goes on.
func (g *grain) Abort(req *opb.AbortRequest, _ cluster.GrainContext) (*opb.SagaState, error) {
	return g.guard(func(ctx context.Context) (*opb.SagaState, error) {
		o, err := g.order(ctx)
		if err != nil {
			return g.state(ctx, "")
		}
		if req.GetExpire() {
			if o.Step == domain.StepReady && g.now().After(o.ExpiresAt) {
				return g.abort(ctx, o, domain.StatusExpired, domain.ReasonExpired)
			}
			return g.state(ctx, "")
		}
		if req.GetNonce() == "" || req.GetNonce() != o.Payment.Nonce {
			return g.state(ctx, "bad_callback")
		}
		reason := req.GetReason()
		if reason != domain.ReasonPaymentCancelled && reason != domain.ReasonPaymentFailed {
			reason = domain.ReasonPaymentFailed
		}
		if o.Step != domain.StepReady {
			return g.state(ctx, "")
		}
		return g.abort(ctx, o, domain.StatusFailed, reason)
	})
}

// abort ends an order that took nothing: no stock, no money.
func (g *grain) abort(ctx context.Context, o domain.Order, status, reason string) (*opb.SagaState, error) {
	err := g.deps.Store.FailOrder(ctx, o.ID, []string{domain.StepCreated, domain.StepReady}, status, reason, domain.PaymentCancelled, g.now())
	if errors.Is(err, domain.ErrStepChanged) {
		return g.state(ctx, "")
	}
	if err != nil {
		return g.unavailable(), nil
	}
	o.Deleted, o.Payment.Status = true, domain.PaymentCancelled
	if o.Payment.TID != "" {
		// Close the payment at Kakao Pay so that it cannot be approved later.
		if err := g.deps.Payments.Cancel(ctx, o.Payment.TID, o.Total); err != nil {
			g.log.Warn("close abandoned payment", "error", err.Error())
		}
	}
	return g.moved(&o, domain.StepDone, status, reason), nil
}

// run carries the saga on from DEDUCTING or APPROVING.
func (g *grain) run(ctx context.Context, o domain.Order) (*opb.SagaState, error) {
	if o.Step == domain.StepDeducting {
		ok, reason := g.deductAll(ctx, o)
		switch {
		case reason == pb.Reason_UNAVAILABLE:
			// Left at DEDUCTING; the sweep resumes it.
			return g.state(ctx, "")
		case !ok:
			return g.compensate(ctx, o, domain.StepDeducting, domain.ReasonInsufficientStock, domain.PaymentCancelled)
		}
		if err := g.deps.Store.BeginApproving(ctx, o.ID, g.now()); err != nil {
			if errors.Is(err, domain.ErrStepChanged) {
				return g.state(ctx, "")
			}
			return g.unavailable(), nil
		}
		g.after(domain.StepApproving)
		o.Step = domain.StepApproving
		g.remember(o)
	}
	if o.Step == domain.StepApproving {
		return g.approve(ctx, o)
	}
	return g.state(ctx, "")
}

// serving lists the warehouses that serve the order's address, nearest
// first.
func (g *grain) serving(o domain.Order) []domain.Warehouse {
	serving := g.deps.Places.Serving(o.Address)
	sort.Slice(serving, func(i, j int) bool {
		return domain.DistanceKm(o.Address, serving[i].Area().Center) < domain.DistanceKm(o.Address, serving[j].Area().Center)
	})
	return serving
}

// firstWarehouses is the warehouse each regular line without one will be
// tried at first: the nearest that serves the address. Recording it with
// the step spares a write per line.
func (g *grain) firstWarehouses(o domain.Order) map[int]int64 {
	var serving []domain.Warehouse
	first := map[int]int64{}
	for _, l := range o.Lines {
		if l.Kind == domain.LineDeal || l.WarehouseID != 0 {
			continue
		}
		if serving == nil {
			if serving = g.serving(o); len(serving) == 0 {
				return nil
			}
		}
		first[l.LineNo] = serving[0].ID
	}
	return first
}

// deductAll takes every line's stock: a deal line from its lot, a regular
// line from the nearest serving warehouse that has it all (FEFO inside).
func (g *grain) deductAll(ctx context.Context, o domain.Order) (bool, pb.Reason) {
	serving := g.serving(o)
	for i, l := range o.Lines {
		key := l.Key(o.ID)
		if l.Kind == domain.LineDeal {
			r, err := g.stock.DeductDeal(ctx, l.LotID, key, l.Quantity)
			if err != nil || r == pb.Reason_UNAVAILABLE {
				g.log.Warn("deduct deal line", "lot", l.LotID, "error", fmt.Sprint(err))
				return false, pb.Reason_UNAVAILABLE
			}
			if r != pb.Reason_OK {
				return false, r
			}
			continue
		}
		// A warehouse tried before a crash goes first: its saved plan makes
		// the retry take the same lots.
		order := make([]int64, 0, len(serving))
		if l.WarehouseID != 0 {
			order = append(order, l.WarehouseID)
		}
		for _, w := range serving {
			if w.ID != l.WarehouseID {
				order = append(order, w.ID)
			}
		}
		taken := false
		for _, w := range order {
			// Recorded before asking, so that a retry after a crash asks
			// the same warehouse first.
			if o.Lines[i].WarehouseID != w {
				if err := g.deps.Store.SetLineWarehouse(ctx, o.ID, l.LineNo, w); err != nil {
					return false, pb.Reason_UNAVAILABLE
				}
				o.Lines[i].WarehouseID = w
			}
			r, err := g.stock.Allocate(ctx, w, key, l.ProductID, l.Quantity)
			if err != nil || r == pb.Reason_UNAVAILABLE {
				g.log.Warn("allocate regular line", "warehouse", w, "error", fmt.Sprint(err))
				return false, pb.Reason_UNAVAILABLE
			}
			if r == pb.Reason_OK {
				taken = true
				break
			}
		}
		if !taken {
			return false, pb.Reason_INSUFFICIENT_STOCK
		}
	}
	return true, pb.Reason_OK
}

// approve takes the money; when the answer is lost it asks for the
// payment's status before deciding.
func (g *grain) approve(ctx context.Context, o domain.Order) (*opb.SagaState, error) {
	aid, err := g.deps.Payments.Approve(ctx, o.Payment.TID, o.ID, o.UserID, o.Payment.PGToken, o.Total)
	if err == nil {
		g.after("APPROVED")
		return g.paid(ctx, o, aid)
	}
	if !errors.Is(err, ErrOutcomeUnknown) && !errors.Is(err, ErrAlreadyApproved) {
		g.log.Info("payment refused", "error", err.Error())
		return g.compensate(ctx, o, domain.StepApproving, domain.ReasonPaymentDeclined, domain.PaymentDeclined)
	}
	status, serr := g.deps.Payments.Status(ctx, o.Payment.TID)
	if serr != nil {
		// Still unknown: stay at APPROVING; the sweep asks again.
		g.log.Warn("payment status unknown", "approve", err.Error(), "status", serr.Error())
		return g.state(ctx, "")
	}
	switch status {
	case PaymentTaken:
		return g.paid(ctx, o, "")
	case PaymentPending:
		// The approval never happened; close the payment so that it cannot
		// happen later, then give the stock back.
		if cerr := g.deps.Payments.Cancel(ctx, o.Payment.TID, o.Total); cerr != nil {
			g.log.Warn("close unapproved payment", "error", cerr.Error())
			return g.state(ctx, "")
		}
		return g.compensate(ctx, o, domain.StepApproving, domain.ReasonPaymentDeclined, domain.PaymentDeclined)
	case PaymentNotTaken:
		return g.compensate(ctx, o, domain.StepApproving, domain.ReasonPaymentDeclined, domain.PaymentDeclined)
	default:
		// Nothing can be concluded: stay at APPROVING; the sweep asks again.
		g.log.Warn("payment status not understood; asking again later", "approve", err.Error())
		return g.state(ctx, "")
	}
}

func (g *grain) paid(ctx context.Context, o domain.Order, aid string) (*opb.SagaState, error) {
	if err := g.deps.Store.MarkPaid(ctx, o.ID, aid, g.now()); err != nil {
		if errors.Is(err, domain.ErrStepChanged) {
			return g.state(ctx, "")
		}
		g.log.Error("record paid order", "error", err.Error())
		return g.unavailable(), nil
	}
	o.Payment.Status = domain.PaymentApproved
	return g.moved(&o, domain.StepDone, domain.StatusPaid, ""), nil
}

// compensate fails the order and gives its stock back. The order and its
// lines are soft-deleted and the "order failed" event written to the outbox
// in one transaction; inventory consumes it and restores idempotently
// (compensation 2). For a failed deduction (compensation 1) the saga
// restores at once, so the stock is back before it answers, and writes the
// event only if that restore failed.
func (g *grain) compensate(ctx context.Context, o domain.Order, from, reason, paymentStatus string) (*opb.SagaState, error) {
	ev := domain.OrderFailedEvent{EventID: "order-failed:" + o.ID, OrderID: o.ID, Reason: reason, Lines: o.Lines, At: g.now()}
	for _, w := range g.deps.Places.Serving(o.Address) {
		ev.Warehouses = append(ev.Warehouses, w.ID)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return g.unavailable(), nil
	}
	msgs := []domain.OutboxMessage{{Topic: OrderFailedTopic, Key: o.ID, Payload: payload}}
	if from == domain.StepDeducting {
		// Compensation 1: nothing was paid; what was taken goes back now.
		// Only when that fails does the outbox event carry it on.
		if err := Restore(ctx, g.stock, ev); err != nil {
			g.log.Warn("restore after a failed deduction; the outbox event will retry", "error", err.Error())
		} else {
			msgs = nil
		}
	}
	if err := g.deps.Store.FailOrder(ctx, o.ID, []string{from}, domain.StatusFailed, reason, paymentStatus, g.now(), msgs...); err != nil {
		if errors.Is(err, domain.ErrStepChanged) {
			return g.state(ctx, "")
		}
		g.log.Error("fail order", "error", err.Error())
		return g.unavailable(), nil
	}
	o.Deleted, o.Payment.Status = true, paymentStatus
	if from == domain.StepDeducting && o.Payment.TID != "" {
		if err := g.deps.Payments.Cancel(ctx, o.Payment.TID, o.Total); err != nil {
			g.log.Warn("close payment of a failed order", "error", err.Error())
		}
	}
	return g.moved(&o, domain.StepDone, domain.StatusFailed, reason), nil
}

// Restore gives back everything a failed order may have taken: each deal
// line to its lot, each regular line to every warehouse that may have
// allocated it (a warehouse without a plan for the key gives nothing).
// Restores are idempotent, and one that arrives before its deduction leaves
// a marker that refuses the deduction.
func Restore(ctx context.Context, s Stock, ev domain.OrderFailedEvent) error {
	var errs []error
	for _, l := range ev.Lines {
		key := l.Key(ev.OrderID)
		if l.Kind == domain.LineDeal {
			if err := s.RestoreDeal(ctx, l.LotID, key); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		ws := ev.Warehouses
		if l.WarehouseID != 0 {
			ws = append([]int64{l.WarehouseID}, ws...)
		}
		seen := map[int64]bool{}
		for _, w := range ws {
			if seen[w] {
				continue
			}
			seen[w] = true
			if err := s.Release(ctx, w, key, l.ProductID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Client calls saga grains.
type Client struct {
	c *cluster.Cluster
}

// NewClient calls saga grains through c.
func NewClient(c *cluster.Cluster) *Client { return &Client{c: c} }

// call sends one message to order id's saga, within ctx.
func (c *Client) call(ctx context.Context, id string, send func(*opb.OrderSagaGrainClient, cluster.GrainCallOption) (*opb.SagaState, error)) (*opb.SagaState, error) {
	g, opt := opb.GetOrderSagaGrainClient(c.c, id), cluster.WithTimeout(grainctx.Timeout(ctx, 45*time.Second))
	return grainctx.Within(ctx, func() (*opb.SagaState, error) { return send(g, opt) })
}

// Start makes the order's payment ready. o, when it has the order's id, is
// the order as just stored, which spares the saga a read.
func (c *Client) Start(ctx context.Context, id string, o *domain.Order) (*opb.SagaState, error) {
	req := &opb.StartRequest{}
	if o != nil && o.ID == id {
		req.Order = EncodeOrder(*o)
	}
	return c.call(ctx, id, func(g *opb.OrderSagaGrainClient, opt cluster.GrainCallOption) (*opb.SagaState, error) {
		return g.Start(req, opt)
	})
}

// Approve runs the order to its end with the payer's pg_token.
func (c *Client) Approve(ctx context.Context, id, pgToken, nonce string) (*opb.SagaState, error) {
	req := &opb.ApproveRequest{PgToken: pgToken, Nonce: nonce}
	return c.call(ctx, id, func(g *opb.OrderSagaGrainClient, opt cluster.GrainCallOption) (*opb.SagaState, error) {
		return g.Approve(req, opt)
	})
}

// Abort ends an order whose payer cancelled or failed.
func (c *Client) Abort(ctx context.Context, id, reason, nonce string) (*opb.SagaState, error) {
	req := &opb.AbortRequest{Reason: reason, Nonce: nonce}
	return c.call(ctx, id, func(g *opb.OrderSagaGrainClient, opt cluster.GrainCallOption) (*opb.SagaState, error) {
		return g.Abort(req, opt)
	})
}

// Expire ends an order whose payment waited past its validity.
func (c *Client) Expire(ctx context.Context, id string) (*opb.SagaState, error) {
	req := &opb.AbortRequest{Expire: true}
	return c.call(ctx, id, func(g *opb.OrderSagaGrainClient, opt cluster.GrainCallOption) (*opb.SagaState, error) {
		return g.Abort(req, opt)
	})
}

// Resume continues an order left mid-way.
func (c *Client) Resume(ctx context.Context, id string) (*opb.SagaState, error) {
	return c.call(ctx, id, func(g *opb.OrderSagaGrainClient, opt cluster.GrainCallOption) (*opb.SagaState, error) {
		return g.Resume(&opb.ResumeRequest{}, opt)
	})
}
