package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	opb "shelflife/actors/orderpb"
	"shelflife/actors/saga"
	"shelflife/api"
	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/redisstore"
	"shelflife/stockview"
)

// orderService places orders and passes payment callbacks to their sagas.
type orderService struct {
	store     *mysqlstore.Store
	view      *stockview.View
	sagas     func() *saga.Client
	carts     *redisstore.Carts
	now       func() time.Time
	validity  time.Duration
	dealLimit int64
	admit     admission
	// nonce signs an order's callback URLs (callbacksig).
	nonce func(orderID string) string
}

var _ api.Orders = (*orderService)(nil)

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Place prices the items for addr, checks what can be checked before the
// money (stock near the address, deal limits), stores the order and has its
// saga make the payment ready.
func (s *orderService) Place(ctx context.Context, userID int64, addr domain.Point, items []api.OrderItem, fromCart bool) (domain.Order, error) {
	if len(items) == 0 {
		return domain.Order{}, domain.ErrEmptyOrder
	}
	now := s.now()
	o := domain.Order{
		ID: fmt.Sprintf("o%x%s", now.UnixMilli(), randomHex(5)), UserID: userID, Address: addr, FromCart: fromCart,
		CreatedAt: now, ExpiresAt: now.Add(s.validity),
	}
	o.Payment.Nonce = s.nonce(o.ID)
	for i, it := range items {
		line := domain.OrderLine{LineNo: i + 1, ProductID: it.ProductID, LotID: it.LotID, Quantity: it.Quantity}
		if it.LotID > 0 {
			d, ok := s.view.DealNear(addr, it.LotID)
			if !ok {
				return domain.Order{}, fmt.Errorf("lot %d: %w", it.LotID, domain.ErrNotADeal)
			}
			if it.Quantity > s.dealLimit {
				return domain.Order{}, fmt.Errorf("lot %d: %w", it.LotID, domain.ErrDealLimit)
			}
			if d.Available < it.Quantity {
				return domain.Order{}, fmt.Errorf("lot %d: %w", it.LotID, domain.ErrInsufficientStock)
			}
			line.Kind, line.ProductID, line.UnitPrice = domain.LineDeal, d.ProductID, d.DealPrice
		} else {
			p, ok := s.view.Product(it.ProductID)
			if !ok {
				return domain.Order{}, fmt.Errorf("product %d: %w", it.ProductID, domain.ErrUnknownProduct)
			}
			if s.view.ProductAvailable(addr, it.ProductID) < it.Quantity {
				return domain.Order{}, fmt.Errorf("product %d: %w", it.ProductID, domain.ErrInsufficientStock)
			}
			line.Kind, line.UnitPrice = domain.LineRegular, p.Price
		}
		total, err := domain.AddLine(o.Total, line.UnitPrice, line.Quantity)
		if err != nil {
			return domain.Order{}, fmt.Errorf("line %d: %w", line.LineNo, err)
		}
		o.Lines = append(o.Lines, line)
		o.Total = total
	}
	if err := s.admit.enter(ctx); err != nil {
		return domain.Order{}, err
	}
	defer s.admit.leave()
	if err := s.store.CreateOrder(ctx, o, s.dealLimit); err != nil {
		return domain.Order{}, err
	}
	o.Step, o.Status, o.Payment.Status = domain.StepCreated, domain.StatusCreated, domain.PaymentNone
	o.Payment.Amount, o.UpdatedAt = o.Total, o.CreatedAt
	st, err := s.sagas().Start(ctx, o.ID, &o)
	if err != nil {
		// The saga may still finish; the sweep fails orders stuck before
		// their payment was ready.
		return domain.Order{}, fmt.Errorf("start order %s: %v: %w", o.ID, err, domain.ErrUnavailable)
	}
	return s.answer(ctx, st)
}

// answer is the order as the saga's answer carries it, or as MySQL has it
// when the answer carries none.
func (s *orderService) answer(ctx context.Context, st *opb.SagaState) (domain.Order, error) {
	if err := sagaError(st.GetError()); err != nil {
		return domain.Order{}, err
	}
	if st.GetOrder() != nil {
		if o, err := saga.DecodeOrder(st.GetOrder()); err == nil && o.ID == st.GetOrderId() {
			return o, nil
		}
	}
	return s.store.Order(ctx, st.GetOrderId())
}

func (s *orderService) Order(ctx context.Context, id string) (domain.Order, error) {
	return s.store.Order(ctx, id)
}

func (s *orderService) List(ctx context.Context, f api.OrderFilter) ([]domain.Order, error) {
	mf := mysqlstore.OrderFilter{UserID: f.UserID, Status: f.Status, Limit: f.Limit}
	if f.StuckFor > 0 {
		mf.StuckBefore = s.now().Add(-f.StuckFor)
	}
	return s.store.Orders(ctx, mf)
}

// Approve runs the saga to its end; a paid order from the cart then has its
// cart emptied, a separate step outside the saga.
func (s *orderService) Approve(ctx context.Context, id, pgToken, nonce string) (domain.Order, error) {
	st, err := s.sagas().Approve(ctx, id, pgToken, nonce)
	if err != nil {
		return domain.Order{}, fmt.Errorf("approve order %s: %v: %w", id, err, domain.ErrUnavailable)
	}
	o, err := s.answer(ctx, st)
	if err == nil && o.Status == domain.StatusPaid && o.FromCart {
		if cerr := s.carts.Clear(context.WithoutCancel(ctx), o.UserID); cerr != nil {
			return o, nil // the order is paid; a full cart is only untidy
		}
	}
	return o, err
}

func (s *orderService) Abort(ctx context.Context, id, reason, nonce string) (domain.Order, error) {
	st, err := s.sagas().Abort(ctx, id, reason, nonce)
	if err != nil {
		return domain.Order{}, fmt.Errorf("abort order %s: %v: %w", id, err, domain.ErrUnavailable)
	}
	return s.answer(ctx, st)
}

func (s *orderService) Reconcile(ctx context.Context) (any, error) {
	return s.store.Reconcile(ctx)
}

func sagaError(code string) error {
	switch code {
	case "":
		return nil
	case "not_found":
		return domain.ErrOrderNotFound
	case "bad_callback":
		return domain.ErrBadCallback
	case "payment_unavailable":
		return domain.ErrPaymentUnavailable
	case "payment_unreachable":
		return domain.ErrPaymentUnreachable
	default:
		return domain.ErrUnavailable
	}
}
