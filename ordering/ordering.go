// Package ordering places orders and passes payment callbacks to their
// sagas: it prices the items for the delivery address, checks what can be
// checked before any money moves (a deal near the address, stock, the deal
// limit, the shopper's unpaid orders), bounds the orders placed at once on
// a node (admission), stores
// the order and has its saga make the payment ready. It knows its
// collaborators only by the small ports below; package node plugs in
// MySQL, the read model, the saga grains and Redis.
package ordering

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"shelflife/domain"
	"shelflife/stockview"
)

// Store is what ordering needs of MySQL.
type Store interface {
	// CreateOrder stores a new order; a shopper over the bounds' units
	// of one deal lot is domain.ErrDealLimit, one whose unpaid orders
	// would pass the bound domain.ErrTooManyUnpaid, and then nothing is
	// stored.
	CreateOrder(ctx context.Context, o domain.Order, b domain.OrderBounds) error
	Order(ctx context.Context, id string) (domain.Order, error)
	Orders(ctx context.Context, f domain.OrderFilter, now time.Time) ([]domain.Order, error)
	Reconcile(ctx context.Context) (domain.Reconciliation, error)
}

// Stock is what ordering reads of the stock near an address.
type Stock interface {
	DealNear(addr domain.Point, lotID int64) (stockview.Deal, bool)
	Product(id int64) (domain.Product, bool)
	ProductAvailable(addr domain.Point, productID int64) int64
}

// Sagas runs orders' sagas. Each answers the order after the message, or
// a domain error (domain.ErrUnavailable when the saga did not answer).
type Sagas interface {
	Start(ctx context.Context, id string, o *domain.Order) (domain.Order, error)
	Approve(ctx context.Context, id, pgToken, nonce string) (domain.Order, error)
	Abort(ctx context.Context, id string, reason domain.Reason, nonce string) (domain.Order, error)
}

// Holds puts a new order's lines on hold before it is stored (saga.Holder).
type Holds interface {
	// Hold holds every line of o, regular lines until regularUntil and
	// deal lines until dealUntil, and records each line's warehouse in o;
	// a line that cannot be held is *domain.SoldOutError, and nothing
	// stays held.
	Hold(ctx context.Context, o *domain.Order, regularUntil, dealUntil time.Time) error
	// Release gives back what o's lines hold. It must work after ctx has
	// ended (it is what a cancelled placement leaves to do) and end in
	// bounded time on its own.
	Release(ctx context.Context, o domain.Order) error
}

// Carts empties a shopper's cart once its order is paid.
type Carts interface {
	Clear(ctx context.Context, userID int64) error
}

// Config tunes ordering.
type Config struct {
	// PaymentValidity is how long an order waits for its payer, and how
	// long its regular lines are held.
	PaymentValidity time.Duration
	// DealHold is how long a deal line is held (default 10 minutes); an
	// order with one waits for its payer only that long.
	DealHold time.Duration
	// Deals is the per-shopper limit on deal lots.
	Deals domain.DealLimit
	// Admission is how many orders are placed at once (0: no bound).
	Admission int
	// MaxUnpaid is how many orders one shopper may have waiting for
	// payment (0: no bound).
	MaxUnpaid int
	// Nonce signs an order's callback URLs (callbacksig).
	Nonce func(orderID string) string
	Now   func() time.Time
}

// Service places orders and passes payment callbacks to their sagas.
type Service struct {
	cfg   Config
	store Store
	stock Stock
	sagas Sagas
	holds Holds
	carts Carts
	admit admission
	turns *shopperTurns
}

// DefaultDealHold is how long a deal line is held when Config says not.
const DefaultDealHold = 10 * time.Minute

// New builds the service.
func New(cfg Config, store Store, stock Stock, sagas Sagas, holds Holds, carts Carts) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DealHold <= 0 {
		cfg.DealHold = DefaultDealHold
	}
	return &Service{cfg: cfg, store: store, stock: stock, sagas: sagas, holds: holds, carts: carts, admit: newAdmission(cfg.Admission),
		turns: newShopperTurns(cfg.MaxUnpaid > 0)}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Place prices the items for addr, refuses at once what the read model
// already shows sold out (no grain is asked), holds every line, stores the
// order and has its saga make the payment ready. A line that cannot be
// held is *domain.SoldOutError: no order is stored and no payment started.
func (s *Service) Place(ctx context.Context, userID int64, addr domain.Point, items []domain.OrderItem, fromCart bool) (domain.Order, error) {
	if len(items) == 0 {
		return domain.Order{}, domain.ErrEmptyOrder
	}
	now := s.cfg.Now()
	o := domain.Order{UserID: userID, Address: addr, FromCart: fromCart, CreatedAt: now, ExpiresAt: now.Add(s.cfg.PaymentValidity)}
	hasDeal := false
	for i, it := range items {
		line, err := s.price(addr, it)
		if err != nil {
			return domain.Order{}, err
		}
		line.LineNo = i + 1
		total, err := domain.AddLine(o.Total, line.UnitPrice, line.Quantity)
		if err != nil {
			return domain.Order{}, fmt.Errorf("line %d: %w", line.LineNo, err)
		}
		o.Lines = append(o.Lines, line)
		o.Total = total
		hasDeal = hasDeal || line.Kind == domain.LineDeal
	}
	// Named and signed only once it can be had: a crowd refused from the
	// read model costs no id and no HMAC.
	o.ID = fmt.Sprintf("o%x%s", now.UnixMilli(), randomHex(5))
	o.Payment.Nonce = s.cfg.Nonce(o.ID)
	dealUntil := now.Add(s.cfg.DealHold)
	if hasDeal && dealUntil.Before(o.ExpiresAt) {
		// The order waits for its payer no longer than its holds last.
		o.ExpiresAt = dealUntil
	}
	// Holds come first, outside the bounds below: a lot answers a crowd of
	// them in a few group commits, and refuses what it cannot hold without
	// writing, so a shopper in a rush hears "sold out" at once instead of
	// after the orders queued ahead of theirs.
	if err := s.holds.Hold(ctx, &o, o.ExpiresAt, dealUntil); err != nil {
		return domain.Order{}, err
	}
	giveBack := func() {
		// Not stored: nothing will release the holds but this (or, failing
		// it, their deadline). Release outlives ctx, in bounded time.
		_ = s.holds.Release(ctx, o)
	}
	// The shopper's turn comes before a place in admission, so that one
	// shopper's burst waits on itself, not in everyone's line.
	release, err := s.turns.take(ctx, userID)
	if err != nil {
		giveBack()
		return domain.Order{}, err
	}
	if err := s.admit.enter(ctx); err != nil {
		release()
		giveBack()
		return domain.Order{}, err
	}
	defer s.admit.leave()
	err = s.store.CreateOrder(ctx, o, domain.OrderBounds{DealUnits: s.cfg.Deals.Units(), MaxUnpaid: s.cfg.MaxUnpaid})
	release()
	if err != nil {
		giveBack()
		return domain.Order{}, err
	}
	o.Step, o.Status, o.Payment.Status = domain.StepCreated, domain.StatusCreated, domain.PaymentNone
	o.Payment.Amount, o.UpdatedAt = o.Total, o.CreatedAt
	// On an error the saga may still finish; the sweep fails orders stuck
	// before their payment was ready, releasing their holds.
	return s.sagas.Start(ctx, o.ID, &o)
}

// price is the order line of one item, priced for addr, or why it cannot
// be ordered there.
func (s *Service) price(addr domain.Point, it domain.OrderItem) (domain.OrderLine, error) {
	line := domain.OrderLine{ProductID: it.ProductID, LotID: it.LotID, Quantity: it.Quantity}
	if it.LotID > 0 {
		d, ok := s.stock.DealNear(addr, it.LotID)
		if !ok {
			return line, fmt.Errorf("lot %d: %w", it.LotID, domain.ErrNotADeal)
		}
		if err := s.cfg.Deals.Check(it.Quantity); err != nil {
			return line, fmt.Errorf("lot %d: %w", it.LotID, err)
		}
		if d.Available < it.Quantity {
			// The fast "no": the read model counts held units as gone.
			return line, &domain.SoldOutError{ProductID: d.ProductID, LotID: it.LotID, Available: max(d.Available, 0)}
		}
		line.Kind, line.ProductID, line.UnitPrice = domain.LineDeal, d.ProductID, d.DealPrice
		line.WarehouseID = d.WarehouseID
		return line, nil
	}
	p, ok := s.stock.Product(it.ProductID)
	if !ok {
		return line, fmt.Errorf("product %d: %w", it.ProductID, domain.ErrUnknownProduct)
	}
	if n := s.stock.ProductAvailable(addr, it.ProductID); n < it.Quantity {
		return line, &domain.SoldOutError{ProductID: it.ProductID, Available: max(n, 0)}
	}
	line.Kind, line.UnitPrice = domain.LineRegular, p.Price
	return line, nil
}

// Order reads an order.
func (s *Service) Order(ctx context.Context, id string) (domain.Order, error) {
	return s.store.Order(ctx, id)
}

// List lists orders, newest first.
func (s *Service) List(ctx context.Context, f domain.OrderFilter) ([]domain.Order, error) {
	return s.store.Orders(ctx, f, s.cfg.Now())
}

// cartClearWithin bounds emptying a paid order's cart.
const cartClearWithin = 2 * time.Second

// Approve runs the saga to its end; a paid order from the cart then has its
// cart emptied, a separate step outside the saga.
func (s *Service) Approve(ctx context.Context, id, pgToken, nonce string) (domain.Order, error) {
	o, err := s.sagas.Approve(ctx, id, pgToken, nonce)
	if err == nil && o.Status == domain.StatusPaid && o.FromCart {
		// The order is paid; a cart left full is only untidy, so the
		// clearing does not end with ctx (an approval that used its whole
		// deadline still empties the cart) but takes at most
		// cartClearWithin.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cartClearWithin)
		_ = s.carts.Clear(cctx, o.UserID)
		cancel()
	}
	return o, err
}

// Abort ends an order whose payer cancelled or failed at Kakao Pay.
func (s *Service) Abort(ctx context.Context, id string, reason domain.Reason, nonce string) (domain.Order, error) {
	return s.sagas.Abort(ctx, id, reason, nonce)
}

// Reconcile sums paid orders against approved payments, for admins.
func (s *Service) Reconcile(ctx context.Context) (any, error) {
	return s.store.Reconcile(ctx)
}
