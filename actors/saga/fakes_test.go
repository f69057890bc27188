package saga

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	pb "shelflife/actors/inventorypb"
	"shelflife/domain"
)

// fakeStore keeps orders in memory with the store's rule: a step's write
// is refused (domain.ErrStepChanged) unless the order is at the step it
// comes from.
type fakeStore struct {
	mu     sync.Mutex
	orders map[string]domain.Order
	outbox []domain.OutboxMessage
	// fail makes the named method fail with the error.
	fail map[string]error
}

func newFakeStore(orders ...domain.Order) *fakeStore {
	s := &fakeStore{orders: map[string]domain.Order{}, fail: map[string]error{}}
	for _, o := range orders {
		s.orders[o.ID] = o
	}
	return s
}

func (s *fakeStore) get(id string) domain.Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyOrder(s.orders[id])
}

// move checks method's injected failure and the order's step, then
// applies change.
func (s *fakeStore) move(method, id string, from []domain.Step, change func(*domain.Order)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail[method]; err != nil {
		return err
	}
	o, ok := s.orders[id]
	if !ok || !slices.Contains(from, o.Step) {
		return domain.ErrStepChanged
	}
	change(&o)
	s.orders[id] = o
	return nil
}

func (s *fakeStore) Order(_ context.Context, id string) (domain.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail["Order"]; err != nil {
		return domain.Order{}, err
	}
	o, ok := s.orders[id]
	if !ok {
		return domain.Order{}, domain.ErrOrderNotFound
	}
	return copyOrder(o), nil
}

func (s *fakeStore) SetReady(_ context.Context, id, tid, redirect string, _ time.Time) error {
	return s.move("SetReady", id, []domain.Step{domain.StepCreated}, func(o *domain.Order) {
		o.Step, o.Status = domain.StepReady, domain.StatusPaymentReady
		o.Payment.TID, o.Payment.RedirectURL, o.Payment.Status = tid, redirect, domain.PaymentReady
	})
}

func (s *fakeStore) BeginDeducting(ctx context.Context, id, pgToken string, _ time.Time, first map[int]int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.move("BeginDeducting", id, []domain.Step{domain.StepReady}, func(o *domain.Order) {
		o.Step, o.Status, o.Payment.PGToken = domain.StepDeducting, domain.StatusProcessing, pgToken
		for i, l := range o.Lines {
			if w, ok := first[l.LineNo]; ok {
				o.Lines[i].WarehouseID = w
			}
		}
	})
}

func (s *fakeStore) SetLineWarehouse(_ context.Context, id string, lineNo int, w int64) error {
	return s.move("SetLineWarehouse", id, []domain.Step{domain.StepDeducting}, func(o *domain.Order) {
		for i := range o.Lines {
			if o.Lines[i].LineNo == lineNo {
				o.Lines[i].WarehouseID = w
			}
		}
	})
}

func (s *fakeStore) BeginApproving(_ context.Context, id string, _ time.Time) error {
	return s.move("BeginApproving", id, []domain.Step{domain.StepDeducting}, func(o *domain.Order) {
		o.Step = domain.StepApproving
	})
}

func (s *fakeStore) BeginApprovingHeld(ctx context.Context, id, pgToken string, _ time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.move("BeginApprovingHeld", id, []domain.Step{domain.StepReady}, func(o *domain.Order) {
		o.Step, o.Status, o.Payment.PGToken = domain.StepApproving, domain.StatusProcessing, pgToken
	})
}

func (s *fakeStore) SetPGToken(_ context.Context, id, pgToken string, _ time.Time) error {
	return s.move("SetPGToken", id, []domain.Step{domain.StepApproving}, func(o *domain.Order) {
		o.Payment.PGToken = pgToken
	})
}

func (s *fakeStore) MarkPaid(_ context.Context, id, _ string, _ time.Time) error {
	return s.move("MarkPaid", id, []domain.Step{domain.StepApproving}, func(o *domain.Order) {
		o.Step, o.Status, o.Payment.Status = domain.StepDone, domain.StatusPaid, domain.PaymentApproved
	})
}

func (s *fakeStore) FailOrder(_ context.Context, id string, from []domain.Step, f domain.Failure, _ time.Time, msgs ...domain.OutboxMessage) error {
	return s.move("FailOrder", id, from, func(o *domain.Order) {
		o.Step, o.Status, o.Reason, o.Payment.Status, o.Deleted = domain.StepDone, f.Status, f.Reason, f.Payment, true
		s.outbox = append(s.outbox, msgs...)
	})
}

func (s *fakeStore) DiscardOrder(_ context.Context, id string, msgs ...domain.OutboxMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail["DiscardOrder"]; err != nil {
		return err
	}
	if o, ok := s.orders[id]; !ok || o.Step != domain.StepCreated {
		return domain.ErrStepChanged
	}
	delete(s.orders, id)
	s.outbox = append(s.outbox, msgs...)
	return nil
}

// fakePayments answers as told and records the calls.
type fakePayments struct {
	mu         sync.Mutex
	readyErr   error
	approveErr error
	status     PaymentOutcome
	statusErr  error
	cancelled  []string
	approvals  int
	// needToken, when set, is the only pg_token approved: any other is
	// refused as Kakao Pay refuses a wrong one.
	needToken string
}

func (p *fakePayments) Ready(_ context.Context, r ReadyRequest) (string, string, error) {
	if p.readyErr != nil {
		return "", "", p.readyErr
	}
	return "T-" + r.OrderID, "https://pay.test/" + r.OrderID, nil
}

func (p *fakePayments) Approve(_ context.Context, _, _ string, _ int64, pgToken string, _ domain.KRW) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.approvals++
	if p.approveErr != nil {
		return "", p.approveErr
	}
	if p.needToken != "" && pgToken != p.needToken {
		return "", errors.Join(ErrBadPGToken, errors.New("wrong pg_token"))
	}
	return "A1", nil
}

func (p *fakePayments) Status(context.Context, string) (PaymentOutcome, error) {
	return p.status, p.statusErr
}

func (p *fakePayments) Cancel(_ context.Context, tid string, _ domain.KRW) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cancelled = append(p.cancelled, tid)
	return nil
}

// fakeStock holds units per lot (deal lines) and per warehouse and product
// (regular lines), and records what was held, taken and given back.
type fakeStock struct {
	mu          sync.Mutex
	lots        map[int64]int64
	warehouses  map[[2]int64]int64
	unavailable bool
	held        map[string]int64
	taken       map[string]int64
	restored    []string
	// lapse, when set, makes every hold end before its commit.
	lapse bool
	// superseded, when set, answers as lots whose grain has another
	// activation on another member (while a cluster's members disagree on
	// who owns them): a commit meets the activation that never saw the
	// hold (NO_HOLD), a warehouse's allocation or hold the one whose write
	// is fenced off (STALE_OWNER, passed on by the warehouse).
	superseded bool
	// slow, when set, makes every commit wait for its caller's deadline
	// and then answer UNAVAILABLE, as a lot that does not answer does.
	slow bool
}

func newFakeStock() *fakeStock {
	return &fakeStock{lots: map[int64]int64{}, warehouses: map[[2]int64]int64{}, held: map[string]int64{}, taken: map[string]int64{}}
}

func (s *fakeStock) take(have *int64, key string, qty int64, into map[string]int64) (pb.Reason, error) {
	switch {
	case s.unavailable:
		return pb.Reason_UNAVAILABLE, errors.New("lot grain unreachable")
	case s.taken[key] > 0 || s.held[key] > 0:
		return pb.Reason_OK, nil
	case *have < qty:
		return pb.Reason_INSUFFICIENT_STOCK, nil
	}
	*have -= qty
	into[key] = qty
	return pb.Reason_OK, nil
}

func (s *fakeStock) Allocate(_ context.Context, w int64, key string, product, qty int64) (pb.Reason, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.superseded {
		return pb.Reason_STALE_OWNER, nil
	}
	have := s.warehouses[[2]int64{w, product}]
	r, err := s.take(&have, key, qty, s.taken)
	s.warehouses[[2]int64{w, product}] = have
	return r, err
}

func (s *fakeStock) DeductDeal(_ context.Context, lot int64, key string, qty int64) (pb.Reason, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.superseded {
		return pb.Reason_STALE_OWNER, nil
	}
	have := s.lots[lot]
	r, err := s.take(&have, key, qty, s.taken)
	s.lots[lot] = have
	return r, err
}

func (s *fakeStock) HoldRegular(_ context.Context, w int64, key string, product, qty int64, _ time.Time) (pb.Reason, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.superseded {
		return pb.Reason_STALE_OWNER, 0, nil
	}
	have := s.warehouses[[2]int64{w, product}]
	r, err := s.take(&have, key, qty, s.held)
	s.warehouses[[2]int64{w, product}] = have
	return r, have, err
}

func (s *fakeStock) HoldDeal(_ context.Context, lot int64, key string, qty int64, _ time.Time) (pb.Reason, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	have := s.lots[lot]
	r, err := s.take(&have, key, qty, s.held)
	s.lots[lot] = have
	return r, have, err
}

func (s *fakeStock) commit(key string, giveBack func(int64)) (pb.Reason, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.unavailable:
		return pb.Reason_UNAVAILABLE, errors.New("lot grain unreachable")
	case s.taken[key] > 0:
		return pb.Reason_OK, nil
	case s.held[key] == 0 || s.superseded:
		return pb.Reason_NO_HOLD, nil
	case s.lapse:
		giveBack(s.held[key])
		delete(s.held, key)
		return pb.Reason_HOLD_EXPIRED, nil
	}
	s.taken[key] = s.held[key]
	delete(s.held, key)
	return pb.Reason_OK, nil
}

func (s *fakeStock) CommitRegular(_ context.Context, w int64, key string, product int64) (pb.Reason, error) {
	return s.commit(key, func(q int64) { s.warehouses[[2]int64{w, product}] += q })
}

func (s *fakeStock) CommitDeal(ctx context.Context, lot int64, key string) (pb.Reason, error) {
	if s.slow {
		<-ctx.Done()
		return pb.Reason_UNAVAILABLE, ctx.Err()
	}
	return s.commit(key, func(q int64) { s.lots[lot] += q })
}

// giveBack returns what key held or took. mu held.
func (s *fakeStock) giveBack(key string) int64 {
	q := s.taken[key] + s.held[key]
	delete(s.taken, key)
	delete(s.held, key)
	s.restored = append(s.restored, key)
	return q
}

func (s *fakeStock) Release(_ context.Context, w int64, key string, product int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unavailable {
		return errors.New("warehouse grain unreachable")
	}
	s.warehouses[[2]int64{w, product}] += s.giveBack(key)
	return nil
}

func (s *fakeStock) RestoreDeal(_ context.Context, lot int64, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unavailable {
		return errors.New("lot grain unreachable")
	}
	s.lots[lot] += s.giveBack(key)
	return nil
}

// places serves every address from the given warehouses.
type places []domain.Warehouse

func (p places) Serving(domain.Point) []domain.Warehouse {
	return append([]domain.Warehouse(nil), p...)
}

type urls struct{}

func (urls) Approval(id, nonce string) string { return "/approve?" + id + nonce }
func (urls) Cancel(id, nonce string) string   { return "/cancel?" + id + nonce }
func (urls) Fail(id, nonce string) string     { return "/fail?" + id + nonce }
