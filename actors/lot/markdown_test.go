package lot

import (
	"math"
	"testing"
	"time"

	pb "shelflife/actors/inventorypb"
	"shelflife/domain"
)

func adaptiveHarness(t *testing.T, st State) *harness {
	h := newHarness(t, st, nil)
	h.c.setMarkdown(Markdown{Mode: domain.AdaptiveMarkdown})
	return h
}

// tick moves time on by d and runs what the grain's timer runs: due
// transitions and a due evaluation. It reports whether the product's rate
// was asked for.
func (h *harness) tick(d time.Duration) bool {
	h.now = h.now.Add(d)
	h.c.advance(h.now)
	fetch := false
	if h.c.evaluationDue(h.now) {
		fetch = h.c.evaluate(h.now)
	}
	h.settle()
	return fetch
}

func TestAdaptiveFastLotKeepsASmallerMarkdown(t *testing.T) {
	// Two closing-soon lots with 30 units and 40 h left: one sells about
	// 1.5 units an hour (list-price units; it remembers 13 units, enough
	// to go by), the other sold one unit a day ago.
	fast := adaptiveHarness(t, testState(30, 40*time.Hour))
	fast.c.st.SellRate = domain.SellRate{PerHour: 1.5, At: c0.Add(-time.Minute)}
	idle := adaptiveHarness(t, testState(30, 40*time.Hour))
	idle.c.st.SellRate = domain.SellRate{}.Observe(1, c0.Add(-24*time.Hour), 0)
	// The product sells 0.05 list units an hour in an average warehouse:
	// the idle lot, remembering little of its own, prices by that.
	fast.c.productRate(c0, 0.05)
	idle.c.productRate(c0, 0.05)
	fast.tick(0)
	idle.tick(0)
	f, i := fast.c.durable.MarkdownPercent, idle.c.durable.MarkdownPercent
	if f != 30 {
		t.Errorf("fast lot: %d %% off, want the ladder's 30", f)
	}
	if i <= f {
		t.Errorf("idle lot: %d %% off, want more than the fast lot's %d", i, f)
	}
	// The deal is sold at the markdown in force, and the ledger keeps it.
	idle.do(step{op: "deduct", key: "o1", qty: 1, channel: pb.Channel_DEAL})
	e := idle.commits[len(idle.commits)-1].Entries[0]
	if e.DiscountPercent != i || e.UnitPrice != domain.Discounted(10000, i) {
		t.Errorf("ledger entry %+v, want %d %% off", e, i)
	}
	if got := idle.c.event(idle.commits[len(idle.commits)-1], idle.now).DiscountPercent; got != i {
		t.Errorf("event discount %d, want %d", got, i)
	}
}

func TestAdaptiveEvaluatesEveryHalfHourAndAtRungs(t *testing.T) {
	h := adaptiveHarness(t, testState(30, 24*time.Hour+50*time.Minute))
	h.c.st.SellRate = domain.SellRate{PerHour: 1, At: c0}
	h.tick(0)
	if got := h.c.durable.MarkdownDueAt; !got.Equal(c0.Add(30 * time.Minute)) {
		t.Fatalf("first due %s, want 30 min later", got)
	}
	if next, _ := h.c.nextTransition(); !next.Equal(c0.Add(30 * time.Minute)) {
		t.Errorf("timer at %s, want the evaluation", next)
	}
	// 24h20m left: the next rung (24 h) comes before another half hour.
	h.tick(30 * time.Minute)
	if got := h.c.durable.MarkdownDueAt; !got.Equal(c0.Add(50 * time.Minute)) {
		t.Fatalf("due %s, want the 24 h rung at +50 min", got)
	}
	// Not due: a tick in between changes nothing.
	before := len(h.commits)
	h.tick(10 * time.Minute)
	if len(h.commits) != before {
		t.Error("an evaluation ran before it was due")
	}
	// At the rung the floor is 50 % and the evaluation follows it.
	h.tick(10 * time.Minute)
	if got := h.c.durable.MarkdownPercent; got < 50 {
		t.Errorf("after the 24 h rung: %d %%, below the ladder's 50", got)
	}
	if got := h.c.percentAt(h.now); got < 50 {
		t.Errorf("price in force %d %%, below the ladder's 50", got)
	}
}

func TestAdaptiveLotWithoutSalesUsesTheProductRate(t *testing.T) {
	h := adaptiveHarness(t, testState(30, 40*time.Hour))
	if !h.tick(0) {
		t.Fatal("a lot without sales did not ask for the product's rate")
	}
	if got := h.c.durable.MarkdownPercent; got != 30 {
		t.Errorf("before the product's rate: %d %%, want the ladder's 30", got)
	}
	// The product sells 0.25 list units an hour per warehouse: 30 units in
	// 40 h need 0.75/h; 30 % off gives 0.51/h, 40 % 0.69/h, 50 % 1/h.
	h.c.productRate(h.now, 0.25)
	h.c.evaluate(h.now)
	h.settle()
	if got := h.c.durable.MarkdownPercent; got != 50 {
		t.Errorf("with the product's rate: %d %%, want 50", got)
	}
	// Asked again only after an hour.
	if h.tick(30 * time.Minute) {
		t.Error("asked for the product's rate again within the hour")
	}
	if !h.tick(30 * time.Minute) {
		t.Error("did not ask for the product's rate again after an hour")
	}
}

func TestSalesFeedTheRateInListUnits(t *testing.T) {
	// A regular lot sells 4 units at the list price, then, closing soon, 4
	// at 50 % off (under the ladder): the rate counts 4 + 4 × 0.25 = 5
	// list units.
	h := newHarness(t, testState(20, 50*time.Hour), nil)
	h.do(step{op: "deduct", key: "a", qty: 4, channel: pb.Channel_REGULAR})
	h.do(step{op: "clock", until: 2*time.Hour + 10*time.Minute + 24*time.Hour})
	h.do(step{op: "reserve", key: "b", qty: 4, channel: pb.Channel_DEAL})
	if h.c.st.SellRate.At.After(c0) {
		t.Error("a hold counted as a sale")
	}
	h.do(step{op: "commit", key: "b"})
	hl := domain.DefaultRateHalfLife
	want := domain.SellRate{}.Observe(4, c0, hl).ObserveWeighted(1, h.now, hl)
	got := h.commits[len(h.commits)-1].Pricing.SellRate
	if !got.At.Equal(want.At) || math.Abs(got.PerHour-want.PerHour) > 1e-9 {
		t.Errorf("rate %+v, want %+v", got, want)
	}
	// Under the ladder nothing is evaluated and the price follows the
	// ladder alone.
	if h.c.evaluationDue(h.now) || h.c.durable.MarkdownPercent != 0 {
		t.Error("a ladder lot evaluates an adaptive markdown")
	}
	if got := h.c.percentAt(h.now); got != 50 {
		t.Errorf("ladder price %d %%, want 50", got)
	}
}

// siblingState is a closing-soon lot of the test product and warehouse.
func siblingState(id, onHand int64, expiresIn time.Duration) State {
	st := testState(onHand, expiresIn)
	st.ID = id
	return st
}

// The inversion joint pricing prevents: alone, a younger lot with much
// stock would go deeper (70 %) than its older sibling (the ladder's 50 %)
// and take its shoppers. Jointly the older lot goes a step past the
// younger, and the younger stays a step short of the older lot's markdown
// in force.
func TestJointMarkdownYoungerNeverDeeperThanOlder(t *testing.T) {
	rate := domain.SellRate{PerHour: 0.5, At: c0}
	young := adaptiveHarness(t, siblingState(8, 200, 40*time.Hour))
	young.c.st.SellRate = rate
	old := adaptiveHarness(t, siblingState(7, 10, 20*time.Hour))
	old.c.st.SellRate = rate
	row := func(h *harness) Sibling {
		st := h.c.durable
		return Sibling{ID: st.ID, ExpiresAt: st.ExpiresAt, OnHand: st.OnHand, MarkdownPercent: st.MarkdownPercent,
			MarkdownDueAt: st.MarkdownDueAt, SellRate: st.SellRate}
	}
	// Priced alone, by its own rate (0.5/h: 200 units in 40 h), the
	// younger lot goes to 70 %, past the older one's 50 %.
	alone := adaptiveHarness(t, siblingState(8, 200, 40*time.Hour))
	alone.c.st.SellRate = rate
	alone.tick(0)
	if got := alone.c.durable.MarkdownPercent; got != 70 {
		t.Fatalf("alone: %d %%, want 70", got)
	}
	// Jointly, by the product's rate in the warehouse (1/h), the plan is
	// 70 % for the older lot and 60 % for the younger. The older lot
	// evaluated ten minutes ago at the ladder's 50 % and is next due in
	// twenty: until then the younger stays a step short of it.
	earlier := row(old)
	earlier.MarkdownPercent, earlier.MarkdownDueAt = 50, c0.Add(20*time.Minute)
	young.c.siblings = []Sibling{earlier, row(young)}
	young.tick(0)
	if got := young.c.durable.MarkdownPercent; got != 40 {
		t.Errorf("younger lot: %d %%, want 40, a step short of the older lot's 50", got)
	}
	old.c.siblings = []Sibling{row(old), row(young)}
	old.tick(0)
	if got := old.c.durable.MarkdownPercent; got != 70 {
		t.Errorf("older lot: %d %%, want the plan's 70", got)
	}
	// Half an hour on both evaluate again: the younger catches up.
	young.c.siblings = []Sibling{row(old), row(young)}
	old.c.siblings = []Sibling{row(old), row(young)}
	young.tick(30 * time.Minute)
	old.tick(30 * time.Minute)
	if y, o := young.c.durable.MarkdownPercent, old.c.durable.MarkdownPercent; y != 60 || o != 70 {
		t.Errorf("after the next evaluation: younger %d %%, older %d %%, want 60 and 70", y, o)
	}
	// A younger sibling deeper in force keeps the older lot a step past
	// it, though the plan would let it go shallower; a sold-out younger
	// lot does not.
	deep := row(young)
	deep.MarkdownPercent, deep.MarkdownDueAt = 80, old.now.Add(40*time.Minute)
	old.c.siblings = []Sibling{row(old), deep}
	old.tick(30 * time.Minute)
	if got := old.c.durable.MarkdownPercent; got != 90 {
		t.Errorf("older lot beside an 80 %% younger sibling: %d %%, want 90", got)
	}
	deep.OnHand = 0
	old.c.siblings = []Sibling{row(old), deep}
	old.tick(30 * time.Minute)
	if got := old.c.durable.MarkdownPercent; got != 50 {
		t.Errorf("older lot beside a sold-out younger one: %d %%, want 50 (10 units, 18.5 h, 1/h)", got)
	}
}

// Siblings evaluating at the same instant read each other's rows before or
// after the other's evaluation, as it happens; the answer is the same
// either way: a sibling due now, or that evaluated now, counts at the plan.
func TestJointMarkdownDoesNotDependOnASiblingsRace(t *testing.T) {
	rate := domain.SellRate{PerHour: 0.5, At: c0}
	old := adaptiveHarness(t, siblingState(7, 10, 20*time.Hour))
	old.c.st.SellRate = rate
	before := Sibling{ID: 7, ExpiresAt: old.c.st.ExpiresAt, OnHand: 10, MarkdownPercent: 50, MarkdownDueAt: c0, SellRate: rate}
	old.c.siblings = []Sibling{before}
	old.tick(0)
	after := before
	after.MarkdownPercent, after.MarkdownDueAt = old.c.durable.MarkdownPercent, old.c.durable.MarkdownDueAt
	var got []int
	for _, sib := range []Sibling{before, after} {
		young := adaptiveHarness(t, siblingState(8, 200, 40*time.Hour))
		young.c.st.SellRate = rate
		young.c.siblings = []Sibling{sib}
		young.tick(0)
		got = append(got, young.c.durable.MarkdownPercent)
	}
	if got[0] != got[1] || got[0] != 60 {
		t.Errorf("younger lot with the older row before and after its evaluation: %v, want 60 both times", got)
	}
}
