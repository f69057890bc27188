package mysqlstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"shelflife/domain"
)

// setStep is one order's step as the set-based write needs it: the order
// moves from one step to another, its updated_at (and its payment's, when
// payment is set) becomes now, and payment ("p.a = ?, p.b = ?") is set
// to values.
type setStep struct {
	id       string
	from, to domain.Step
	status   domain.OrderStatus
	now      time.Time
	payment  string
	values   []any
}

// errSetMismatch: the batch cannot be written set-based; it goes one
// statement per order.
var errSetMismatch = errors.New("the steps cannot be written set-based")

// setMismatch names the kinds of step whose set-based statement matched
// fewer rows than it had orders (an order had moved on meanwhile).
type setMismatch struct{ kinds map[string]bool }

func (e *setMismatch) Error() string { return "an order of a set-based step was not at its step" }

// setBased writes batch with one statement per kind of step (the same
// from, to, status and payment columns) instead of one per order: MariaDB
// parses, plans and locks tables once for all of them. Steps that cannot
// be combined keep their own statement. Each statement's matched rows are
// checked before the commit: when a set-based one matched fewer rows than
// it has orders (an order moved on meanwhile), the transaction is rolled
// back and the batch written again with that kind one statement per order,
// so that the order fails alone. It answers each request's row count; on
// an error the caller writes the batch one statement per order.
func (w *steps) setBased(ctx context.Context, batch []*stepReq) ([]int64, error) {
	rows, err := w.trySetBased(ctx, batch, nil)
	var m *setMismatch
	if errors.As(err, &m) {
		rows, err = w.trySetBased(ctx, batch, m.kinds)
	}
	return rows, err
}

// trySetBased is one attempt of setBased; the kinds in split are written
// one statement per order.
func (w *steps) trySetBased(ctx context.Context, batch []*stepReq, split map[string]bool) ([]int64, error) {
	type group struct {
		kind string
		reqs []int
	}
	var groups []*group
	byKind := map[string]*group{}
	seen := map[string]bool{}
	combined := false
	var single []int
	var orders []*newOrder
	for i, r := range batch {
		if r.create != nil {
			orders = append(orders, r.create)
			continue
		}
		if r.set == nil || !r.set.combinable() {
			single = append(single, i)
			continue
		}
		if seen[r.set.id] {
			// Two steps of one order in one batch keep their order only
			// one statement at a time.
			return nil, errSetMismatch
		}
		seen[r.set.id] = true
		k := string(r.set.from) + "|" + string(r.set.to) + "|" + string(r.set.status) + "|" + r.set.payment
		if split[k] {
			single = append(single, i)
			continue
		}
		g := byKind[k]
		if g == nil {
			g = &group{kind: k}
			byKind[k] = g
			groups = append(groups, g)
		}
		g.reqs = append(g.reqs, i)
		combined = combined || len(g.reqs) > 1
	}
	if !combined && len(orders) < 2 {
		return nil, errSetMismatch
	}
	var stmts []statement
	var want []int64
	if len(orders) > 0 {
		// New orders first: their rows in multi-row INSERTs, whose
		// counts need no check (a refused row fails its statement).
		stmts = orderStatements(orders)
		for range stmts {
			want = append(want, -1)
		}
	}
	firstStep := len(stmts)
	sets := 0
	// want[i]: the rows statement i must match (-1: a single statement,
	// which answers its own count); kinds[i], its kind of step.
	kinds := make([]string, firstStep)
	for _, g := range groups {
		if len(g.reqs) == 1 {
			single = append(single, g.reqs[0])
			continue
		}
		steps := make([]*setStep, len(g.reqs))
		for j, i := range g.reqs {
			steps[j] = batch[i].set
		}
		st, rows := setStatement(steps)
		sets++
		stmts = append(stmts, st)
		want = append(want, rows)
		kinds = append(kinds, g.kind)
	}
	for _, i := range single {
		stmts = append(stmts, batch[i].st)
		want = append(want, -1)
	}
	conn, err := w.s.batch.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	counts, err := execOneTrip(ctx, conn, stmts, false)
	if err == nil {
		var m *setMismatch
		for i, n := range counts {
			if want[i] >= 0 && n != want[i] {
				if m == nil {
					m = &setMismatch{kinds: map[string]bool{}}
				}
				m.kinds[kinds[i]] = true
			}
		}
		if m != nil {
			err = m
		}
	}
	if err == nil {
		_, err = conn.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		rollback(conn)
		return nil, err
	}
	w.setStatements.Add(int64(sets))
	if len(orders) > 1 {
		w.sharedOrders.Add(int64(len(orders)))
	}
	rows := make([]int64, len(batch))
	for i, r := range batch {
		if r.create != nil {
			rows[i] = 1
		}
	}
	next := firstStep
	for _, g := range groups {
		if len(g.reqs) == 1 {
			continue
		}
		for _, i := range g.reqs {
			rows[i] = 1
		}
		next++
	}
	for _, i := range single {
		rows[i] = counts[next]
		next++
	}
	return rows, nil
}

// combinable reports whether the step's payment assignments are plain
// "column = ?" pairs, one per value.
func (s *setStep) combinable() bool {
	cols := paymentColumns(s.payment)
	return s.payment == "" && len(s.values) == 0 ||
		strings.Count(s.payment, "?") == len(cols) && len(cols) == len(s.values)
}

// setStatement is one UPDATE that moves every order of steps (all the same
// kind of step) and answers the rows it must match: one per order, two
// when the payment changes too.
func setStatement(steps []*setStep) (statement, int64) {
	first := steps[0]
	var st statement
	var q strings.Builder
	perOrder := int64(1)
	if first.payment == "" {
		q.WriteString("UPDATE orders o SET o.step = ?, o.status = ?, o.updated_at = ")
	} else {
		perOrder = 2
		q.WriteString("UPDATE orders o JOIN payments p ON p.order_id = o.id SET o.step = ?, o.status = ?, o.updated_at = ")
	}
	st.add(first.to, first.status)
	byID := func(value func(*setStep) []any) {
		q.WriteString("CASE o.id")
		for _, s := range steps {
			q.WriteString(" WHEN ? THEN ?")
			st.add(s.id)
			st.add(value(s)...)
		}
		q.WriteString(" END")
	}
	now := func(s *setStep) []any { return []any{s.now} }
	byID(now)
	if first.payment != "" {
		q.WriteString(", p.updated_at = ")
		byID(now)
		for c, col := range paymentColumns(first.payment) {
			q.WriteString(", " + col + " = ")
			byID(func(s *setStep) []any { return s.values[c : c+1] })
		}
	}
	q.WriteString(" WHERE o.step = ? AND o.id IN (")
	st.add(first.from)
	for i, s := range steps {
		if i > 0 {
			q.WriteString(",")
		}
		q.WriteString("?")
		st.add(s.id)
	}
	q.WriteString(")")
	st.query = q.String()
	return st, perOrder * int64(len(steps))
}

// paymentColumns are the columns of a payment assignment list
// ("p.a = ?, p.b = ?"): each takes one argument, in order.
func paymentColumns(set string) []string {
	var cols []string
	for _, part := range strings.Split(set, ",") {
		col, _, _ := strings.Cut(part, "=")
		cols = append(cols, strings.TrimSpace(col))
	}
	return cols
}
