package ordering_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/ordering"
	"shelflife/stockview"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

type fakeStore struct {
	mu      sync.Mutex
	created []domain.Order
	bounds  domain.OrderBounds
	err     error
	// storing counts each shopper's CreateOrder calls under way; overlap
	// is set when one shopper had two at once.
	storing  map[int64]int
	overlap  bool
	listedAt time.Time
}

// CreateOrder stores o unless the shopper's orders (the fake's never get
// paid) would pass b.MaxUnpaid, as MySQL's store does in its insert.
func (s *fakeStore) CreateOrder(_ context.Context, o domain.Order, b domain.OrderBounds) error {
	s.mu.Lock()
	if s.storing == nil {
		s.storing = map[int64]int{}
	}
	if s.storing[o.UserID]++; s.storing[o.UserID] > 1 {
		s.overlap = true
	}
	s.mu.Unlock()
	time.Sleep(time.Millisecond) // a store takes a while: overlapping calls meet
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storing[o.UserID]--
	if s.err != nil {
		return s.err
	}
	s.bounds = b
	unpaid := 0
	for _, c := range s.created {
		if c.UserID == o.UserID {
			unpaid++
		}
	}
	if b.MaxUnpaid > 0 && unpaid >= b.MaxUnpaid {
		return domain.ErrTooManyUnpaid
	}
	s.created = append(s.created, o)
	return nil
}

func (s *fakeStore) Order(context.Context, string) (domain.Order, error) { return domain.Order{}, nil }

func (s *fakeStore) Orders(_ context.Context, _ domain.OrderFilter, now time.Time) ([]domain.Order, error) {
	s.listedAt = now
	return nil, nil
}

func (s *fakeStore) Reconcile(context.Context) (domain.Reconciliation, error) {
	return domain.Reconciliation{PaidOrders: 3}, nil
}

// stock: lot 9 (warehouse 2) is a deal of product 3 at 2,100 won with 2 left; product 4
// costs 3,000 won with 5 near the address.
type stock struct{}

func (stock) DealNear(_ domain.Point, lotID int64) (stockview.Deal, bool) {
	return stockview.Deal{LotID: 9, ProductID: 3, WarehouseID: 2, DealPrice: 2100, Available: 2}, lotID == 9
}

func (stock) Product(id int64) (domain.Product, bool) {
	return domain.Product{ID: id, Price: 3000}, id == 4
}

func (stock) ProductAvailable(domain.Point, int64) int64 { return 5 }

type fakeSagas struct {
	mu       sync.Mutex
	started  *domain.Order
	answer   domain.Order
	err      error
	aborted  domain.Reason
	approved int
}

func (s *fakeSagas) Start(_ context.Context, _ string, o *domain.Order) (domain.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = o
	return *o, s.err
}

func (s *fakeSagas) Approve(context.Context, string, string, string) (domain.Order, error) {
	s.approved++
	return s.answer, s.err
}

func (s *fakeSagas) Abort(_ context.Context, _ string, r domain.Reason, _ string) (domain.Order, error) {
	s.aborted = r
	return s.answer, s.err
}

// holds records what Place held and released; err refuses every hold.
type holds struct {
	mu                      sync.Mutex
	err                     error
	held                    int
	regularUntil, dealUntil time.Time
	released                []string
}

func (h *holds) Hold(_ context.Context, o *domain.Order, regularUntil, dealUntil time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	h.held++
	h.regularUntil, h.dealUntil = regularUntil, dealUntil
	for i := range o.Lines {
		if o.Lines[i].Kind == domain.LineRegular {
			o.Lines[i].WarehouseID = 5
		}
	}
	return nil
}

func (h *holds) Release(_ context.Context, o domain.Order) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.released = append(h.released, o.ID)
	return nil
}

type carts struct {
	cleared []int64
	// live and bounded say whether the last Clear's context had not ended
	// and had a deadline.
	live, bounded bool
}

func (c *carts) Clear(ctx context.Context, userID int64) error {
	c.cleared = append(c.cleared, userID)
	_, c.bounded = ctx.Deadline()
	c.live = ctx.Err() == nil
	return nil
}

func newService(store *fakeStore, sagas *fakeSagas, c *carts) *ordering.Service {
	return newServiceHolding(store, sagas, &holds{}, c)
}

func newServiceHolding(store *fakeStore, sagas *fakeSagas, h *holds, c *carts) *ordering.Service {
	return ordering.New(ordering.Config{PaymentValidity: 15 * time.Minute, Deals: 3, Admission: 2,
		Nonce: func(id string) string { return "nonce-" + id }, Now: func() time.Time { return t0 }},
		store, stock{}, sagas, h, c)
}

func TestPlacePricesAndRefuses(t *testing.T) {
	tests := []struct {
		name    string
		items   []domain.OrderItem
		storeEr error
		want    error
		total   domain.KRW
	}{
		{"a deal and a product", []domain.OrderItem{{LotID: 9, Quantity: 2}, {ProductID: 4, Quantity: 1}}, nil, nil, 2*2100 + 3000},
		{"no items", nil, nil, domain.ErrEmptyOrder, 0},
		{"a lot not on sale here", []domain.OrderItem{{LotID: 8, Quantity: 1}}, nil, domain.ErrNotADeal, 0},
		{"more of a deal than the limit", []domain.OrderItem{{LotID: 9, Quantity: 4}}, nil, domain.ErrDealLimit, 0},
		{"more of a deal than is left", []domain.OrderItem{{LotID: 9, Quantity: 3}}, nil, domain.ErrSoldOut, 0},
		{"an unknown product", []domain.OrderItem{{ProductID: 5, Quantity: 1}}, nil, domain.ErrUnknownProduct, 0},
		{"more of a product than is near", []domain.OrderItem{{ProductID: 4, Quantity: 6}}, nil, domain.ErrSoldOut, 0},
		{"the store refuses (the shopper's deal limit)", []domain.OrderItem{{LotID: 9, Quantity: 1}}, domain.ErrDealLimit, domain.ErrDealLimit, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, sagas, h := &fakeStore{err: tc.storeEr}, &fakeSagas{}, &holds{}
			o, err := newServiceHolding(store, sagas, h, &carts{}).Place(context.Background(), 7, domain.Point{}, tc.items, true)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Place = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				if sagas.started != nil {
					t.Error("a refused order reached its saga")
				}
				if tc.storeEr == nil && h.held > 0 {
					t.Error("an order refused before its holds was held")
				}
				if tc.storeEr != nil && len(h.released) != h.held {
					t.Errorf("held %d, released %v: an order not stored keeps its holds", h.held, h.released)
				}
				return
			}
			if o.Payment.Nonce != "nonce-"+o.ID {
				t.Errorf("nonce %q, want the one signed for %s", o.Payment.Nonce, o.ID)
			}
			// A deal line is held 10 minutes, the order waits that long.
			if o.Total != tc.total || o.Step != domain.StepCreated || o.Status != domain.StatusCreated || !o.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
				t.Errorf("placed %+v, want total %d, CREATED, expiring in 10 min", o, tc.total)
			}
			if !h.dealUntil.Equal(t0.Add(10*time.Minute)) || !h.regularUntil.Equal(t0.Add(10*time.Minute)) {
				t.Errorf("held until %s (deal) and %s (regular), want both 10 min on", h.dealUntil, h.regularUntil)
			}
			if w := store.created[0].Lines; w[0].WarehouseID != 2 || w[1].WarehouseID != 5 {
				t.Errorf("stored lines %+v, want the deal's lot's warehouse and the regular line's holding warehouse", w)
			}
			if len(store.created) != 1 || store.bounds.DealUnits != 3 || sagas.started == nil || sagas.started.ID != store.created[0].ID {
				t.Errorf("stored %d orders with limit %d; saga started with %v", len(store.created), store.bounds.DealUnits, sagas.started)
			}
			if o.Lines[0].Kind != domain.LineDeal || o.Lines[0].ProductID != 3 || o.Lines[1].Kind != domain.LineRegular || o.Lines[1].LineNo != 2 {
				t.Errorf("lines %+v", o.Lines)
			}
		})
	}
}

// What cannot be held refuses the placement before anything is stored or
// any payment started, and says how many units are left.
func TestPlaceSoldOutStoresNothing(t *testing.T) {
	store, sagas := &fakeStore{}, &fakeSagas{}
	h := &holds{err: &domain.SoldOutError{LotID: 9, ProductID: 3, Available: 1}}
	_, err := newServiceHolding(store, sagas, h, &carts{}).Place(context.Background(), 7, domain.Point{},
		[]domain.OrderItem{{LotID: 9, Quantity: 2}}, false)
	var so *domain.SoldOutError
	if !errors.As(err, &so) || !errors.Is(err, domain.ErrSoldOut) || so.Available != 1 {
		t.Fatalf("Place = %v, want sold out with 1 available", err)
	}
	if len(store.created) != 0 || sagas.started != nil {
		t.Errorf("stored %d orders, saga started %v; want none", len(store.created), sagas.started)
	}
	// A regular order alone is held for the payment's validity.
	h = &holds{}
	o, err := newServiceHolding(&fakeStore{}, &fakeSagas{}, h, &carts{}).Place(context.Background(), 7, domain.Point{},
		[]domain.OrderItem{{ProductID: 4, Quantity: 1}}, false)
	if err != nil || !o.ExpiresAt.Equal(t0.Add(15*time.Minute)) || !h.regularUntil.Equal(t0.Add(15*time.Minute)) {
		t.Errorf("regular order: %v, expires %s, held until %s; want 15 min", err, o.ExpiresAt, h.regularUntil)
	}
}

func TestApproveEmptiesThePaidCartOnly(t *testing.T) {
	tests := []struct {
		name   string
		answer domain.Order
		err    error
		clear  bool
	}{
		{"paid from the cart", domain.Order{UserID: 7, Status: domain.StatusPaid, FromCart: true}, nil, true},
		{"paid, not from the cart", domain.Order{UserID: 7, Status: domain.StatusPaid}, nil, false},
		{"failed", domain.Order{UserID: 7, Status: domain.StatusFailed, FromCart: true}, nil, false},
		{"the saga did not answer", domain.Order{}, domain.ErrUnavailable, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &carts{}
			_, err := newService(&fakeStore{}, &fakeSagas{answer: tc.answer, err: tc.err}, c).Approve(context.Background(), "o1", "pg", "n")
			if !errors.Is(err, tc.err) {
				t.Errorf("Approve = %v, want %v", err, tc.err)
			}
			if cleared := len(c.cleared) == 1; cleared != tc.clear {
				t.Errorf("cart cleared: %v, want %v", cleared, tc.clear)
			}
		})
	}
}

// An approval whose deadline has passed still empties the cart,
// and a Redis that does not answer cannot hold the approval for long.
func TestPaidCartIsClearedAfterTheRequestEndsInBoundedTime(t *testing.T) {
	c := &carts{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	paid := domain.Order{UserID: 7, Status: domain.StatusPaid, FromCart: true}
	if _, err := newService(&fakeStore{}, &fakeSagas{answer: paid}, c).Approve(ctx, "o1", "pg", "n"); err != nil {
		t.Fatal(err)
	}
	if len(c.cleared) != 1 || !c.live || !c.bounded {
		t.Errorf("cleared %v, with a live context %v, with a deadline %v: want once, live, bounded", c.cleared, c.live, c.bounded)
	}
}

func TestAbortListAndReconcilePassThrough(t *testing.T) {
	store, sagas := &fakeStore{}, &fakeSagas{}
	s := newService(store, sagas, &carts{})
	if _, err := s.Abort(context.Background(), "o1", domain.ReasonPaymentCancelled, "n"); err != nil || sagas.aborted != domain.ReasonPaymentCancelled {
		t.Errorf("Abort: %v, saga heard %q", err, sagas.aborted)
	}
	if _, err := s.List(context.Background(), domain.OrderFilter{StuckFor: time.Minute}); err != nil || !store.listedAt.Equal(t0) {
		t.Errorf("List: %v at %v, want the service's now", err, store.listedAt)
	}
	if r, err := s.Reconcile(context.Background()); err != nil || r.(domain.Reconciliation).PaidOrders != 3 {
		t.Errorf("Reconcile = %+v, %v", r, err)
	}
	if held, places := s.Admitting(); held != 0 || places != 2 {
		t.Errorf("admission %d of %d, want 0 of 2", held, places)
	}
}

func TestUnpaidOrdersAreBounded(t *testing.T) {
	store, sagas, h := &fakeStore{}, &fakeSagas{}, &holds{}
	svc := ordering.New(ordering.Config{PaymentValidity: 15 * time.Minute, Deals: 3, MaxUnpaid: 2,
		Nonce: func(id string) string { return "nonce-" + id }, Now: func() time.Time { return t0 }},
		store, stock{}, sagas, h, &carts{})
	item := []domain.OrderItem{{ProductID: 4, Quantity: 1}}
	for i := 0; i < 2; i++ {
		if _, err := svc.Place(context.Background(), 7, domain.Point{}, item, false); err != nil {
			t.Fatalf("order %d: %v", i+1, err)
		}
	}
	if _, err := svc.Place(context.Background(), 7, domain.Point{}, item, false); !errors.Is(err, domain.ErrTooManyUnpaid) {
		t.Fatalf("a third unpaid order: %v, want ErrTooManyUnpaid", err)
	}
	if len(store.created) != 2 {
		t.Errorf("%d orders stored, want 2", len(store.created))
	}
	// The refused order's holds were taken first, and given back.
	if h.held != 3 || len(h.released) != 1 {
		t.Errorf("held %d orders, released %v; want 3 held and the refused one released", h.held, h.released)
	}
	if _, err := svc.Place(context.Background(), 8, domain.Point{}, item, false); err != nil {
		t.Errorf("another shopper: %v", err)
	}
	if store.bounds.MaxUnpaid != 2 || store.bounds.DealUnits != 3 {
		t.Errorf("stored under %+v, want the unpaid bound 2 and 3 deal units", store.bounds)
	}
}

// TestOneShopperStoresOneOrderAtATime: a shopper's burst of placements
// reaches the store one order after another (the unpaid-order bound,
// checked in the store's insert, must see each), while other shoppers'
// orders go alongside.
func TestOneShopperStoresOneOrderAtATime(t *testing.T) {
	store := &fakeStore{}
	svc := ordering.New(ordering.Config{PaymentValidity: 15 * time.Minute, Deals: 3, MaxUnpaid: 100,
		Nonce: func(id string) string { return "nonce-" + id }, Now: func() time.Time { return t0 }},
		store, stock{}, &fakeSagas{}, &holds{}, &carts{})
	item := []domain.OrderItem{{ProductID: 4, Quantity: 1}}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			if _, err := svc.Place(context.Background(), int64(1+i%2), domain.Point{}, item, false); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("place: %v", err)
	}
	if store.overlap {
		t.Error("one shopper had two orders being stored at once")
	}
	if len(store.created) != 40 {
		t.Errorf("%d orders stored, want 40", len(store.created))
	}
}
