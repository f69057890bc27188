package mysqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// orderStore is a store of its own for a parallel test, a context ending
// after timeout and the test's clock reading.
func orderStore(t *testing.T, timeout time.Duration) (*mysqlstore.Store, context.Context, time.Time) {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return mysqltest.New(t), ctx, time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
}

// Each saga step is one conditional statement over the order and its
// payment: it moves the order only from the step it names, and a refused
// step changes nothing.
// stepsStore is a store with one shopper and one product; mk creates an
// order of n one-unit lines at CREATED.
func stepsStore(t *testing.T) (s *mysqlstore.Store, ctx context.Context, at time.Time, mk func(id string, n int) domain.Order) {
	s, ctx, at = orderStore(t, 30*time.Second)
	u, err := s.CreateUser(ctx, domain.User{Email: "steps@shelflife.test", Name: "S", Role: domain.RoleShopper, PasswordHash: "x", CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.CreateProduct(ctx, domain.Product{SKU: "STEP", Name: "P", Category: "C", Price: 1000})
	mk = func(id string, n int) domain.Order {
		o := domain.Order{ID: id, UserID: u.ID, Total: domain.KRW(1000 * n), CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute),
			Payment: domain.Payment{Nonce: "n-" + id}}
		for i := 1; i <= n; i++ {
			o.Lines = append(o.Lines, domain.OrderLine{LineNo: i, Kind: domain.LineRegular, ProductID: p.ID, Quantity: 1, UnitPrice: 1000})
		}
		if err := s.CreateOrder(ctx, o, domain.OrderBounds{DealUnits: 5}); err != nil {
			t.Fatal(err)
		}
		return o
	}
	return s, ctx, at, mk
}

func TestOrderStepsAreConditional(t *testing.T) {
	s, ctx, at, mk := stepsStore(t)
	mk("o-steps", 1)
	if err := s.BeginDeducting(ctx, "o-steps", "pg", at, map[int]int64{1: 41}); !errors.Is(err, domain.ErrStepChanged) {
		t.Errorf("deducting before ready = %v, want ErrStepChanged", err)
	}
	if err := s.SetReady(ctx, "o-steps", "T1", "http://kakao/T1", at); err != nil {
		t.Fatal(err)
	}
	if err := s.SetReady(ctx, "o-steps", "T2", "http://kakao/T2", at); !errors.Is(err, domain.ErrStepChanged) {
		t.Errorf("second ready = %v, want ErrStepChanged", err)
	}
	o, _ := s.Order(ctx, "o-steps")
	if o.Step != domain.StepReady || o.Status != domain.StatusPaymentReady || o.Payment.TID != "T1" ||
		o.Payment.RedirectURL != "http://kakao/T1" || o.Payment.Status != domain.PaymentReady {
		t.Errorf("after ready: %+v", o)
	}
	for _, step := range []func() error{
		func() error { return s.BeginDeducting(ctx, "o-steps", "pg-token", at, map[int]int64{1: 42}) },
		func() error { return s.BeginApproving(ctx, "o-steps", at) },
		func() error { return s.MarkPaid(ctx, "o-steps", "A1", at) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		if err := step(); !errors.Is(err, domain.ErrStepChanged) {
			t.Errorf("a step repeated = %v, want ErrStepChanged", err)
		}
	}
	o, _ = s.Order(ctx, "o-steps")
	if o.Status != domain.StatusPaid || o.Step != domain.StepDone || o.Payment.PGToken != "pg-token" || o.Payment.Status != domain.PaymentApproved {
		t.Errorf("after paid: %+v", o)
	}
	// The line's first warehouse came with the deducting step, not with
	// the refused one.
	if len(o.Lines) != 1 || o.Lines[0].WarehouseID != 42 {
		t.Errorf("lines after deducting: %+v", o.Lines)
	}
}

// An order whose lines were held goes from READY straight to APPROVING
// with the payer's pg_token, once, and from no other step; its status
// and its lines' warehouses stay as they were.
func TestBeginApprovingHeld(t *testing.T) {
	s, ctx, at, mk := stepsStore(t)
	mk("o-held", 1)
	if err := s.BeginApprovingHeld(ctx, "o-held", "pg", at); !errors.Is(err, domain.ErrStepChanged) {
		t.Errorf("approving before ready = %v, want ErrStepChanged", err)
	}
	if err := s.SetReady(ctx, "o-held", "T1", "http://kakao/T1", at); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginApprovingHeld(ctx, "o-held", "pg-token", at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginApprovingHeld(ctx, "o-held", "pg-other", at); !errors.Is(err, domain.ErrStepChanged) {
		t.Errorf("approving twice = %v, want ErrStepChanged", err)
	}
	o, _ := s.Order(ctx, "o-held")
	if o.Step != domain.StepApproving || o.Status != domain.StatusProcessing || o.Payment.PGToken != "pg-token" ||
		o.Payment.Status != domain.PaymentReady || !o.UpdatedAt.Equal(at.Add(time.Second)) {
		t.Errorf("after approving: step %s status %s token %q payment %s updated %v", o.Step, o.Status, o.Payment.PGToken, o.Payment.Status, o.UpdatedAt)
	}
	if err := s.MarkPaid(ctx, "o-held", "A1", at); err != nil {
		t.Fatal(err)
	}
	if o, _ = s.Order(ctx, "o-held"); o.Status != domain.StatusPaid || o.Payment.PGToken != "pg-token" {
		t.Errorf("after paid: %+v", o)
	}
}

// Several lines, each with its own warehouse; a line not named keeps none.
func TestBeginDeductingRecordsEachLinesWarehouse(t *testing.T) {
	s, ctx, at, mk := stepsStore(t)
	mk("o-two", 3)
	s.SetReady(ctx, "o-two", "T9", "http://kakao/T9", at)
	if err := s.BeginDeducting(ctx, "o-two", "pg", at, map[int]int64{1: 7, 2: 8}); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.Order(ctx, "o-two"); o.Step != domain.StepDeducting || len(o.Lines) != 3 ||
		o.Lines[0].WarehouseID != 7 || o.Lines[1].WarehouseID != 8 || o.Lines[2].WarehouseID != 0 {
		t.Errorf("two warehouses: %+v", o)
	}
}

func TestFailOrder(t *testing.T) {
	s, ctx, at, mk := stepsStore(t)
	failed := domain.Failure{Status: domain.StatusFailed, Reason: domain.ReasonInsufficientStock, Payment: domain.PaymentCancelled}
	// An order past the steps named cannot be failed, with or without an
	// outbox message, and a refused failure writes no message.
	mk("o-paying", 1)
	s.SetReady(ctx, "o-paying", "T1", "http://kakao/T1", at)
	s.BeginDeducting(ctx, "o-paying", "pg", at, nil)
	if err := s.FailOrder(ctx, "o-paying", []domain.Step{domain.StepReady}, failed, at,
		domain.OutboxMessage{Topic: "t", Key: "k", Payload: []byte("{}")}); !errors.Is(err, domain.ErrStepChanged) {
		t.Errorf("fail an order being deducted = %v", err)
	}
	if err := s.FailOrder(ctx, "o-paying", []domain.Step{domain.StepReady}, failed, at); !errors.Is(err, domain.ErrStepChanged) {
		t.Errorf("fail an order being deducted without a message = %v", err)
	}
	if msgs, _ := s.PendingOutbox(ctx, 10); len(msgs) != 0 {
		t.Errorf("a refused failure wrote %d outbox messages", len(msgs))
	}
	// Failing soft-deletes the order, its lines and sets the payment, with
	// the outbox message in the same transaction.
	mk("o-fail", 1)
	if err := s.FailOrder(ctx, "o-fail", []domain.Step{domain.StepCreated, domain.StepReady}, failed, at,
		domain.OutboxMessage{Topic: "t", Key: "o-fail", Payload: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	o, _ := s.Order(ctx, "o-fail")
	var liveLines int
	s.DB().QueryRow("SELECT COUNT(*) FROM order_lines WHERE order_id = 'o-fail' AND deleted_at IS NULL").Scan(&liveLines)
	if !o.Deleted || o.Status != domain.StatusFailed || o.Reason != domain.ReasonInsufficientStock || o.Payment.Status != domain.PaymentCancelled || liveLines != 0 {
		t.Errorf("after fail: %+v, %d lines not deleted", o, liveLines)
	}
	if msgs, _ := s.PendingOutbox(ctx, 10); len(msgs) != 1 || msgs[0].Key != "o-fail" {
		t.Errorf("outbox = %+v", msgs)
	}
}

// The deal limit counts one shopper's live orders of the lot, however many
// other shoppers bought it.
func TestDealLimitPerShopper(t *testing.T) {
	s, ctx, at := orderStore(t, 30*time.Second)
	w, _ := s.CreateWarehouse(ctx, domain.Warehouse{Name: "W", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	p, _ := s.CreateProduct(ctx, domain.Product{SKU: "DEAL", Name: "P", Category: "C", Price: 1000})
	l, _ := s.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, ExpiresAt: at.Add(30 * time.Hour), Received: 100}, at)
	order := func(user int64, id string, qty int64) error {
		return s.CreateOrder(ctx, domain.Order{ID: id, UserID: user, Total: 500, CreatedAt: at, ExpiresAt: at.Add(time.Hour),
			Lines: []domain.OrderLine{{LineNo: 1, Kind: domain.LineDeal, ProductID: p.ID, LotID: l.ID, Quantity: qty, UnitPrice: 500}}}, domain.OrderBounds{DealUnits: 5})
	}
	var users []int64
	for i := range 4 {
		u, err := s.CreateUser(ctx, domain.User{Email: "deal" + string(rune('a'+i)) + "@shelflife.test", Name: "D", Role: domain.RoleShopper, PasswordHash: "x", CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u.ID)
	}
	for i, u := range users[1:3] {
		if err := order(u, "o-other-"+string(rune('a'+i)), 5); err != nil {
			t.Fatal(err)
		}
	}
	if err := order(users[0], "o-first", 3); err != nil {
		t.Fatal(err)
	}
	if err := order(users[0], "o-over", 3); !errors.Is(err, domain.ErrDealLimit) {
		t.Errorf("3 more after 3 = %v, want ErrDealLimit", err)
	}
	if err := order(users[0], "o-fits", 2); err != nil {
		t.Errorf("2 more after 3 = %v", err)
	}
	// A failed order no longer counts.
	if err := s.FailOrder(ctx, "o-first", []domain.Step{domain.StepCreated}, domain.Failure{Status: domain.StatusFailed, Reason: "x", Payment: domain.PaymentCancelled}, at); err != nil {
		t.Fatal(err)
	}
	if err := order(users[0], "o-after-fail", 3); err != nil {
		t.Errorf("3 after a failed order = %v", err)
	}
	if err := order(999999, "o-nobody", 1); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("order of an unknown shopper = %v, want ErrNotFound", err)
	}
	var n int
	s.DB().QueryRow("SELECT (SELECT COUNT(*) FROM orders WHERE id IN ('o-over', 'o-nobody')) + (SELECT COUNT(*) FROM order_lines WHERE order_id IN ('o-over', 'o-nobody')) + (SELECT COUNT(*) FROM payments WHERE order_id IN ('o-over', 'o-nobody'))").Scan(&n)
	if n != 0 {
		t.Errorf("refused orders left %d rows", n)
	}
	// Ten orders of one shopper at once, one unit each. users[1] already
	// holds 5 of the lot from above: none may pass; of a shopper with none,
	// exactly five pass.
	if passed := race(t, order, users[1], "o-race-"); passed != 0 {
		t.Errorf("%d racing orders passed a full limit", passed)
	}
	if passed := race(t, order, users[3], "o-race2-"); passed != 5 {
		t.Errorf("%d of 10 racing orders passed a limit of 5", passed)
	}
}

// The bound on a shopper's unpaid orders is checked in the insert that
// stores the order: at the bound an order is refused with no row left,
// whether it shares its commit with other shoppers' orders or not; an
// order that ended (paid, failed) no longer counts; an order with a deal
// line at the bound says it is the unpaid bound, under it the deal limit.
func TestUnpaidBoundInTheInsert(t *testing.T) {
	s, ctx, at := orderStore(t, 60*time.Second)
	w, _ := s.CreateWarehouse(ctx, domain.Warehouse{Name: "W", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	p, _ := s.CreateProduct(ctx, domain.Product{SKU: "UNPAID", Name: "P", Category: "C", Price: 1000})
	l, _ := s.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, ExpiresAt: at.Add(30 * time.Hour), Received: 1000}, at)
	bounds := domain.OrderBounds{DealUnits: 2, MaxUnpaid: 3}
	order := func(user int64, id string, deal int64) error {
		o := domain.Order{ID: id, UserID: user, Total: 1000, CreatedAt: at, ExpiresAt: at.Add(time.Hour),
			Lines:   []domain.OrderLine{{LineNo: 1, Kind: domain.LineRegular, ProductID: p.ID, WarehouseID: w.ID, Quantity: 1, UnitPrice: 1000}},
			Payment: domain.Payment{Nonce: "n-" + id}}
		if deal > 0 {
			o.Lines = append(o.Lines, domain.OrderLine{LineNo: 2, Kind: domain.LineDeal, ProductID: p.ID, LotID: l.ID, WarehouseID: w.ID, Quantity: deal, UnitPrice: 500})
		}
		return s.CreateOrder(ctx, o, bounds)
	}
	const n = 40
	users := make([]int64, n)
	for i := range users {
		u, err := s.CreateUser(ctx, domain.User{Email: fmt.Sprintf("unpaid-%d@shelflife.test", i), Name: "U", Role: domain.RoleShopper, PasswordHash: "x", CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		users[i] = u.ID
	}
	// Round by round every shopper orders at once, so that their orders
	// share commits: three rounds pass, the fourth is refused for all.
	for round := range 4 {
		errs := concurrently(n, func(i int) error { return order(users[i], fmt.Sprintf("o-unpaid-%d-%d", round, i), 0) })
		for i, err := range errs {
			switch {
			case round < 3 && err != nil:
				t.Errorf("round %d, shopper %d: %v", round, i, err)
			case round == 3 && !errors.Is(err, domain.ErrTooManyUnpaid):
				t.Errorf("round %d, shopper %d: %v, want ErrTooManyUnpaid", round, i, err)
			}
		}
	}
	var rows int
	s.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM orders WHERE id LIKE 'o-unpaid-3-%') + (SELECT COUNT(*) FROM order_lines WHERE order_id LIKE 'o-unpaid-3-%')
		+ (SELECT COUNT(*) FROM payments WHERE order_id LIKE 'o-unpaid-3-%')`).Scan(&rows)
	if rows != 0 {
		t.Errorf("refused orders left %d rows", rows)
	}
	// With a deal line: at the unpaid bound that is the refusal.
	if err := order(users[0], "o-unpaid-deal", 1); !errors.Is(err, domain.ErrTooManyUnpaid) {
		t.Errorf("a deal order at the unpaid bound: %v, want ErrTooManyUnpaid", err)
	}
	// An order that failed makes room; the deal limit still applies.
	if err := s.FailOrder(ctx, "o-unpaid-0-0", []domain.Step{domain.StepCreated}, domain.Failure{Status: domain.StatusFailed, Reason: "x", Payment: domain.PaymentCancelled}, at); err != nil {
		t.Fatal(err)
	}
	if err := order(users[0], "o-unpaid-over", 3); !errors.Is(err, domain.ErrDealLimit) {
		t.Errorf("3 deal units under the unpaid bound: %v, want ErrDealLimit", err)
	}
	if err := order(users[0], "o-unpaid-room", 2); err != nil {
		t.Errorf("an order after one failed: %v", err)
	}
	if err := order(users[0], "o-unpaid-again", 0); !errors.Is(err, domain.ErrTooManyUnpaid) {
		t.Errorf("the bound reached again: %v, want ErrTooManyUnpaid", err)
	}
	// No bound: a shopper at three may order a fourth.
	bounds.MaxUnpaid = 0
	if err := order(users[1], "o-unpaid-nobound", 0); err != nil {
		t.Errorf("no bound: %v", err)
	}
}

// Orders of many shoppers placed at once share multi-row INSERTs; an
// order refused among them (an unknown shopper, a shopper over the deal
// limit) is refused alone and leaves no row, and every other lands whole.
func TestConcurrentOrdersShareInserts(t *testing.T) {
	s, ctx, at := orderStore(t, 30*time.Second)
	w, _ := s.CreateWarehouse(ctx, domain.Warehouse{Name: "W", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	p, _ := s.CreateProduct(ctx, domain.Product{SKU: "MANY", Name: "P", Category: "C", Price: 1000})
	l, _ := s.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, ExpiresAt: at.Add(30 * time.Hour), Received: 1000}, at)
	const n = 200
	users := make([]int64, n)
	for i := range users {
		u, err := s.CreateUser(ctx, domain.User{Email: fmt.Sprintf("many-%d@shelflife.test", i), Name: "M", Role: domain.RoleShopper, PasswordHash: "x", CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		users[i] = u.ID
	}
	// First every order good (they share inserts), then, once those are
	// stored, one in ten refused among them (each refused alone). The
	// second half waits for the first rather than a fixed time: on a
	// loaded machine a late good order could otherwise meet a refused one
	// in every batch, and none would be stored in a shared insert.
	place := func(i int) error {
		user, qty := users[i], int64(1)
		switch {
		case i < n/2:
		case i%20 == 7:
			user = 99999999 // unknown
		case i%20 == 13:
			qty = 6 // over the deal limit of 5
		}
		o := domain.Order{ID: fmt.Sprintf("o-many-%03d", i), UserID: user, Total: domain.KRW(500*qty + 1000), CreatedAt: at, ExpiresAt: at.Add(time.Hour),
			Lines: []domain.OrderLine{
				{LineNo: 1, Kind: domain.LineDeal, ProductID: p.ID, LotID: l.ID, WarehouseID: w.ID, Quantity: qty, UnitPrice: 500},
				{LineNo: 2, Kind: domain.LineRegular, ProductID: p.ID, WarehouseID: w.ID, Quantity: 1, UnitPrice: 1000},
			},
			Payment: domain.Payment{Nonce: fmt.Sprint("n", i)}}
		return s.CreateOrder(ctx, o, domain.OrderBounds{DealUnits: 5})
	}
	errs := concurrently(n/2, place)
	if s.SharedOrders() == 0 {
		t.Error("no orders were stored in a shared multi-row insert")
	}
	errs = append(errs, concurrently(n-n/2, func(i int) error { return place(n/2 + i) })...)
	good := 0
	for i, err := range errs {
		switch {
		case i >= n/2 && i%20 == 7:
			if !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("order %d of an unknown shopper: %v, want ErrNotFound", i, err)
			}
		case i >= n/2 && i%20 == 13:
			if !errors.Is(err, domain.ErrDealLimit) {
				t.Errorf("order %d over the limit: %v, want ErrDealLimit", i, err)
			}
		default:
			if err != nil {
				t.Errorf("order %d: %v", i, err)
			}
			good++
		}
	}
	var orders, lines, payments int
	s.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM orders WHERE id LIKE 'o-many-%'), (SELECT COUNT(*) FROM order_lines WHERE order_id LIKE 'o-many-%'),
		(SELECT COUNT(*) FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.order_id LIKE 'o-many-%' AND p.nonce = CONCAT('n', CAST(SUBSTRING(o.id, 8) AS UNSIGNED)))`).
		Scan(&orders, &lines, &payments)
	if orders != good || lines != 2*good || payments != good {
		t.Errorf("%d orders, %d lines, %d payments with their own nonce stored; want %d, %d, %d", orders, lines, payments, good, 2*good, good)
	}
	if o, err := s.Order(ctx, "o-many-001"); err != nil || len(o.Lines) != 2 || o.Lines[0].WarehouseID != w.ID || o.Payment.Amount != 1500 {
		t.Errorf("stored order: %+v (%v)", o, err)
	}
}

// concurrently runs f(0) … f(n-1) at once and answers their errors.
func concurrently(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errs
}

// race places ten one-unit orders of user at once and counts those that
// pass; any refusal but the deal limit is an error.
func race(t *testing.T, order func(user int64, id string, qty int64) error, user int64, prefix string) int64 {
	var wg sync.WaitGroup
	var passed atomic.Int64
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := order(user, fmt.Sprintf("%s%d", prefix, i), 1)
			if err == nil {
				passed.Add(1)
			} else if !errors.Is(err, domain.ErrDealLimit) {
				t.Errorf("racing order: %v", err)
			}
		}()
	}
	wg.Wait()
	return passed.Load()
}

// createOrders stores n orders o-000, o-001, … of one shopper, each
// followed by then when it is not nil.
func createOrders(t *testing.T, s *mysqlstore.Store, at time.Time, n int, then func(id string) error) {
	t.Helper()
	ctx := t.Context()
	u, err := s.CreateUser(ctx, domain.User{Email: "many@shelflife.test", Name: "S", Role: domain.RoleShopper, PasswordHash: "x", CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		o := domain.Order{ID: fmt.Sprintf("o-%03d", i), UserID: u.ID, Total: 1000, CreatedAt: at, ExpiresAt: at.Add(time.Hour),
			Lines:   []domain.OrderLine{{LineNo: 1, Kind: domain.LineRegular, ProductID: 1, Quantity: 1, UnitPrice: 1000}},
			Payment: domain.Payment{Nonce: "n"}}
		if err := s.CreateOrder(ctx, o, domain.OrderBounds{DealUnits: 5}); err != nil {
			t.Fatal(err)
		}
		if then != nil {
			if err := then(o.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Steps of many orders at once share commits, yet each keeps its own
// answer: an order not at its step fails alone, and a statement that fails
// makes its batch go again one statement at a time.
func TestConcurrentStepsShareCommits(t *testing.T) {
	s, ctx, at := orderStore(t, time.Minute)
	const n = 200
	createOrders(t, s, at, n, nil)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("o-%03d", i)
			if i%10 == 0 {
				// Not at READY: must fail alone.
				errs[i] = s.BeginDeducting(ctx, id, "pg", at, nil)
				return
			}
			errs[i] = s.SetReady(ctx, id, "T"+id, "http://kakao/"+id, at)
		}()
	}
	wg.Wait()
	ready := 0
	for i, err := range errs {
		switch {
		case i%10 == 0:
			if !errors.Is(err, domain.ErrStepChanged) {
				t.Errorf("order %d not at READY: %v", i, err)
			}
		case err != nil:
			t.Errorf("order %d: %v", i, err)
		default:
			ready++
		}
	}
	var inDB int
	s.DB().QueryRow("SELECT COUNT(*) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.step = 'READY' AND p.tid = CONCAT('T', o.id)").Scan(&inDB)
	if inDB != ready || ready != n-n/10 {
		t.Errorf("%d orders answered READY, %d are READY in MySQL, want %d", ready, inDB, n-n/10)
	}
	if s.SharedStepCommits() == 0 {
		t.Error("no steps were committed together")
	}
	if s.SetStepStatements() == 0 {
		t.Error("no set-based statement wrote the steps of several orders")
	}
	// Broken statements among good ones: the good ones still land.
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%10 == 0 {
				_, errs[i] = s.ExecStep(ctx, "UPDATE no_such_table SET x = 1")
				return
			}
			errs[i] = s.BeginDeducting(ctx, fmt.Sprintf("o-%03d", i), "pg", at, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%10 == 0) != (err != nil) {
			t.Errorf("statement %d: %v", i, err)
		}
	}
	s.DB().QueryRow("SELECT COUNT(*) FROM orders WHERE step = 'DEDUCTING'").Scan(&inDB)
	if inDB != n-n/10 {
		t.Errorf("%d orders DEDUCTING, want %d", inDB, n-n/10)
	}
}

// Many orders taking the same step share one set-based statement; when
// some of them are no longer at the step it comes from, the batch goes
// again one statement per order, so that those fail alone and the others
// land with their own values.
func TestSetBasedStepsFailAlone(t *testing.T) {
	s, ctx, at := orderStore(t, time.Minute)
	const n = 300
	createOrders(t, s, at, n, func(id string) error { return s.SetReady(ctx, id, "T"+id, "http://kakao/"+id, at) })
	// Every tenth order has already moved on: its step must fail alone.
	for i := 0; i < n; i += 10 {
		if err := s.BeginDeducting(ctx, fmt.Sprintf("o-%03d", i), "pg-first", at, nil); err != nil {
			t.Fatal(err)
		}
	}
	run := func(step func(i int, id string) error) []error {
		return concurrently(n, func(i int) error { return step(i, fmt.Sprintf("o-%03d", i)) })
	}
	errs := run(func(i int, id string) error {
		return s.BeginDeducting(ctx, id, "pg-"+id, at.Add(time.Duration(i)*time.Microsecond), nil)
	})
	for i, err := range errs {
		if (i%10 == 0) != errors.Is(err, domain.ErrStepChanged) || (i%10 != 0 && err != nil) {
			t.Errorf("order %d: %v", i, err)
		}
	}
	for _, step := range []func(i int, id string) error{
		func(_ int, id string) error { return s.BeginApproving(ctx, id, at.Add(time.Second)) },
		func(_ int, id string) error { return s.MarkPaid(ctx, id, "A"+id, at.Add(2*time.Second)) },
	} {
		for i, err := range run(step) {
			if err != nil {
				t.Errorf("order %d: %v", i, err)
			}
		}
	}
	var right int
	s.DB().QueryRow(`SELECT COUNT(*) FROM orders o JOIN payments p ON p.order_id = o.id
		WHERE o.step = 'DONE' AND o.status = 'PAID' AND p.status = 'APPROVED' AND p.aid = CONCAT('A', o.id)
		AND p.pg_token = IF(RIGHT(o.id, 1) = '0', 'pg-first', CONCAT('pg-', o.id))`).Scan(&right)
	if right != n {
		t.Errorf("%d of %d orders paid with their own pg_token and approval id", right, n)
	}
	if s.SetStepStatements() == 0 {
		t.Error("no set-based statement wrote the steps of several orders")
	}
}

// An order whose payment was never made ready goes with its lines and
// payment; one that has moved on is kept.
func TestDiscardOrderOnlyBeforeReady(t *testing.T) {
	s, ctx, at := orderStore(t, 30*time.Second)
	u, err := s.CreateUser(ctx, domain.User{Email: "discard@shelflife.test", Name: "D", Role: domain.RoleShopper, PasswordHash: "x", CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.CreateProduct(ctx, domain.Product{SKU: "DISC", Name: "P", Category: "C", Price: 1000})
	for _, id := range []string{"o-gone", "o-kept"} {
		o := domain.Order{ID: id, UserID: u.ID, Total: 1000, CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute),
			Lines:   []domain.OrderLine{{LineNo: 1, Kind: domain.LineRegular, ProductID: p.ID, Quantity: 1, UnitPrice: 1000}},
			Payment: domain.Payment{Nonce: "n-" + id}}
		if err := s.CreateOrder(ctx, o, domain.OrderBounds{DealUnits: 5}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetReady(ctx, "o-kept", "T1", "http://kakao/T1", at); err != nil {
		t.Fatal(err)
	}
	event := func(id string) domain.OutboxMessage {
		return domain.OutboxMessage{Topic: "shelflife.order-failed", Key: id, Payload: []byte(`{"order_id":"` + id + `"}`)}
	}
	if err := s.DiscardOrder(ctx, "o-gone", event("o-gone")); err != nil {
		t.Fatal(err)
	}
	if err := s.DiscardOrder(ctx, "o-kept", event("o-kept")); !errors.Is(err, domain.ErrStepChanged) {
		t.Errorf("discard of a ready order = %v, want ErrStepChanged", err)
	}
	if err := s.DiscardOrder(ctx, "o-gone"); !errors.Is(err, domain.ErrStepChanged) {
		t.Errorf("second discard = %v, want ErrStepChanged", err)
	}
	for table, want := range map[string]int{"orders": 1, "order_lines": 1, "payments": 1} {
		var n int
		s.DB().QueryRow("SELECT COUNT(*) FROM " + table + " WHERE order_id = 'o-gone' OR order_id = 'o-kept'").Scan(&n)
		if table == "orders" {
			s.DB().QueryRow("SELECT COUNT(*) FROM orders WHERE id IN ('o-gone', 'o-kept')").Scan(&n)
		}
		if n != want {
			t.Errorf("%s rows = %d, want %d (the ready order's)", table, n, want)
		}
	}
	if _, err := s.Order(ctx, "o-gone"); !errors.Is(err, domain.ErrOrderNotFound) {
		t.Errorf("discarded order read = %v, want not found", err)
	}
	// The discard's event is written with it; the refused one's is not.
	var keys []string
	rows, err := s.DB().Query("SELECT msg_key FROM outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		rows.Scan(&k)
		keys = append(keys, k)
	}
	if len(keys) != 1 || keys[0] != "o-gone" {
		t.Errorf("outbox keys %v, want the discarded order's event alone", keys)
	}
}

// Orders pages by a (created_at, id) cursor: pages neither skip nor repeat
// an order, even when several share one creation instant.
func TestOrdersPageByCursor(t *testing.T) {
	s, ctx, at := orderStore(t, 30*time.Second)
	u, err := s.CreateUser(ctx, domain.User{Email: "pages@shelflife.test", Name: "P", Role: domain.RoleShopper, PasswordHash: "x", CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.CreateProduct(ctx, domain.Product{SKU: "PAGE", Name: "P", Category: "C", Price: 1000})
	const n = 23
	for i := range n {
		created := at.Add(time.Duration(i/3) * time.Second) // three orders per instant
		o := domain.Order{ID: fmt.Sprintf("o-page-%02d", i), UserID: u.ID, Total: 1000, CreatedAt: created, ExpiresAt: created.Add(15 * time.Minute),
			Lines:   []domain.OrderLine{{LineNo: 1, Kind: domain.LineRegular, ProductID: p.ID, Quantity: 1, UnitPrice: 1000}},
			Payment: domain.Payment{Nonce: fmt.Sprintf("n-page-%d", i)}}
		if err := s.CreateOrder(ctx, o, domain.OrderBounds{DealUnits: 5}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	f := domain.OrderFilter{UserID: u.ID, Limit: 5}
	for page := 0; ; page++ {
		if page > n {
			t.Fatal("paging does not end")
		}
		os, err := s.Orders(ctx, f, at)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range os {
			got = append(got, o.ID)
		}
		if len(os) < f.Limit {
			break
		}
		last := os[len(os)-1]
		f.BeforeCreated, f.BeforeID = last.CreatedAt, last.ID
	}
	if len(got) != n {
		t.Fatalf("paged through %d orders, want %d: %v", len(got), n, got)
	}
	for i, id := range got {
		if want := fmt.Sprintf("o-page-%02d", n-1-i); id != want {
			t.Errorf("order %d of the listing = %s, want %s (newest first, then id descending)", i, id, want)
		}
	}
}

// An order read back is the order that was stored: its own columns, its
// payment's, and every line in line order, those without a lot or a
// warehouse included. An order that was never stored is not found.
func TestOrderReadsBackWhatWasStored(t *testing.T) {
	s, ctx, at := orderStore(t, 30*time.Second)
	w, _ := s.CreateWarehouse(ctx, domain.Warehouse{Name: "W", Region: "R", Lat: 37.5, Lng: 127, RadiusKm: 5})
	p, _ := s.CreateProduct(ctx, domain.Product{SKU: "BACK", Name: "P", Category: "C", Price: 1000})
	l, _ := s.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, ExpiresAt: at.Add(30 * time.Hour), Received: 10}, at)
	u, err := s.CreateUser(ctx, domain.User{Email: "back@shelflife.test", Name: "B", Role: domain.RoleShopper, PasswordHash: "x", CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	want := domain.Order{ID: "o-back", UserID: u.ID, Status: domain.StatusCreated, Step: domain.StepCreated, Total: 5300,
		Address: domain.Point{Lat: 37.51, Lng: 127.02}, FromCart: true, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(15 * time.Minute),
		Payment: domain.Payment{Status: domain.PaymentNone, Amount: 5300, Nonce: "n-back"},
		Lines: []domain.OrderLine{
			{LineNo: 1, Kind: domain.LineDeal, ProductID: p.ID, LotID: l.ID, WarehouseID: w.ID, Quantity: 2, UnitPrice: 650},
			{LineNo: 2, Kind: domain.LineRegular, ProductID: p.ID, WarehouseID: w.ID, Quantity: 3, UnitPrice: 1000},
			{LineNo: 3, Kind: domain.LineRegular, ProductID: p.ID, Quantity: 1, UnitPrice: 1000},
		}}
	// Lines given out of order are read back in order.
	stored := want
	stored.Lines = []domain.OrderLine{want.Lines[2], want.Lines[0], want.Lines[1]}
	if err := s.CreateOrder(ctx, stored, domain.OrderBounds{DealUnits: 5}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Order(ctx, "o-back")
	if err != nil {
		t.Fatal(err)
	}
	got.CreatedAt, got.UpdatedAt, got.ExpiresAt = got.CreatedAt.UTC(), got.UpdatedAt.UTC(), got.ExpiresAt.UTC()
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("read back:\n %+v\nwant\n %+v", got, want)
	}
	if _, err := s.Order(ctx, "o-never"); !errors.Is(err, domain.ErrOrderNotFound) {
		t.Errorf("an order never stored: %v, want ErrOrderNotFound", err)
	}
}
