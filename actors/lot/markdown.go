package lot

import (
	"cmp"
	"slices"
	"time"

	"shelflife/domain"
)

// Markdown configures how a closing-soon lot is priced. The zero value is
// the ladder alone.
type Markdown struct {
	Mode  domain.MarkdownMode
	Steps domain.MarkdownSteps
	// Elasticity is the price elasticity assumed to carry a rate seen at one
	// price to another (positive; 0: domain.DefaultElasticity).
	Elasticity float64
	// RateHalfLife is the half-life of the sell rate's memory (0:
	// domain.DefaultRateHalfLife).
	RateHalfLife time.Duration
	// Every is how often an adaptive lot re-evaluates its markdown besides
	// at each of the ladder's rungs (0: 30 minutes).
	Every time.Duration
}

// DefaultEvaluationInterval is how often an adaptive lot re-evaluates.
const DefaultEvaluationInterval = 30 * time.Minute

// fallbackRefresh is how long a product rate fetched for a lot with few or
// no sales of its own is used before it is asked again.
const fallbackRefresh = time.Hour

func (m Markdown) withDefaults() Markdown {
	if m.Mode == "" {
		m.Mode = domain.LadderMarkdown
	}
	if len(m.Steps) == 0 {
		m.Steps = domain.DefaultMarkdownSteps()
	}
	if m.Elasticity <= 0 {
		m.Elasticity = domain.DefaultElasticity
	}
	if m.RateHalfLife <= 0 {
		m.RateHalfLife = domain.DefaultRateHalfLife
	}
	if m.Every <= 0 {
		m.Every = DefaultEvaluationInterval
	}
	return m
}

func (m Markdown) adaptive() bool { return m.Mode == domain.AdaptiveMarkdown }

// setMarkdown configures the core's pricing. Under the ladder a markdown
// an earlier adaptive configuration left on the lot no longer applies.
func (c *core) setMarkdown(m Markdown) {
	c.md = m.withDefaults()
	if !c.md.adaptive() && (c.st.MarkdownPercent != 0 || !c.st.MarkdownDueAt.IsZero()) {
		c.st.MarkdownPercent, c.st.MarkdownDueAt = 0, time.Time{}
		c.pending.dirty = true
	}
}

// observe adds a sale of qty units at pct off to the lot's sell rate, in
// list-price units.
func (c *core) observe(now time.Time, qty int64, pct int32) {
	units := domain.ListEquivalent(float64(qty), int(pct), c.md.Elasticity)
	c.st.SellRate = c.st.SellRate.ObserveWeighted(units, now, c.md.RateHalfLife)
}

// percentAt is the markdown in force at now: the ladder's for the time
// left, or the adaptive one when it is deeper.
func (c *core) percentAt(now time.Time) int {
	pct := c.ladder.DiscountPercent(c.st.ExpiresAt.Sub(now))
	if c.md.adaptive() {
		pct = max(pct, c.st.MarkdownPercent)
	}
	return pct
}

// dealPercent is the markdown a deal of this lot is sold at, at now: 0
// unless the lot is closing soon by the clock.
func (c *core) dealPercent(now time.Time) int {
	if domain.StateAt(c.st.ExpiresAt, now) != domain.ClosingSoon {
		return 0
	}
	return c.percentAt(now)
}

// evaluationDue reports whether an adaptive closing-soon lot should
// re-evaluate its markdown at now.
func (c *core) evaluationDue(now time.Time) bool {
	return c.md.adaptive() && c.st.State == domain.ClosingSoon &&
		(c.st.MarkdownDueAt.IsZero() || !now.Before(c.st.MarkdownDueAt))
}

// evaluate sets the adaptive markdown for now, one change at most, and
// when the next evaluation is due: Every later or at the ladder's next rung,
// whichever comes first.
//
// With the siblings read (withSiblings), the lot is priced jointly with the
// other closing-soon lots of its product in its warehouse
// (domain.JointPercents), by the product's rate there: the lots' rates
// summed. Then, so that an older lot is never dearer than a younger one
// while their evaluations catch up with each other, it goes no deeper than
// an older sibling with stock is now and no shallower than a younger one
// is. Without them it is priced alone by its own rate.
//
// A rate that remembers fewer than domain.MinEvidence units is blended with
// the product's rate across warehouses (domain.EstimateRate); until that is
// known (fetch reports it must be asked) the lot stays at the ladder's
// floor.
func (c *core) evaluate(now time.Time) (fetch bool) {
	if !c.md.adaptive() || c.st.State != domain.ClosingSoon {
		return false
	}
	left := c.st.ExpiresAt.Sub(now)
	floor := c.ladder.DiscountPercent(left)
	own, hl := c.pooledRate(now), c.md.RateHalfLife
	rate, known := own.Rate(now, hl), true
	if own.Remembered(now, hl) < domain.MinEvidence {
		fetch = c.fallbackAt.IsZero() || now.Sub(c.fallbackAt) >= fallbackRefresh
		known = !c.fallbackAt.IsZero()
		rate = domain.EstimateRate(own, c.fallback, now, hl)
	}
	target := floor
	switch {
	case known && c.siblings != nil:
		target = c.jointPercent(now, rate)
	case known:
		target = domain.AdaptivePercent(domain.MarkdownInput{Left: left, OnHand: c.st.OnHand, ListRate: rate,
			Ladder: c.ladder, Steps: c.md.Steps, Elasticity: c.md.Elasticity})
	}
	c.st.MarkdownPercent = target
	c.st.MarkdownDueAt = c.nextEvaluation(c.st.ExpiresAt, now)
	c.pending.dirty = true
	return fetch
}

// pooledRate is the rate to price by at now: the lot's own, or with its
// siblings read, the sum of every sibling's rate and its own (the
// product's rate in the warehouse), as of now.
func (c *core) pooledRate(now time.Time) domain.SellRate {
	if c.siblings == nil {
		return c.st.SellRate
	}
	hl := c.md.RateHalfLife
	sum := c.st.SellRate.Rate(now, hl)
	for _, s := range c.siblings {
		if s.ID != c.st.ID {
			sum += s.SellRate.Rate(now, hl)
		}
	}
	if sum <= 0 {
		return domain.SellRate{}
	}
	return domain.SellRate{PerHour: sum, At: now}
}

// jointPercent is the lot's markdown when its product's closing-soon lots
// in the warehouse are priced together at listRate, kept between its
// siblings' markdowns in force.
func (c *core) jointPercent(now time.Time, listRate float64) int {
	type queued struct {
		id        int64
		expiresAt time.Time
		onHand    int64
	}
	queue := []queued{{c.st.ID, c.st.ExpiresAt, c.st.OnHand}}
	for _, s := range c.siblings {
		if s.ID != c.st.ID && domain.StateAt(s.ExpiresAt, now) == domain.ClosingSoon && s.OnHand > 0 {
			queue = append(queue, queued{s.ID, s.ExpiresAt, s.OnHand})
		}
	}
	slices.SortFunc(queue, func(a, b queued) int {
		if d := a.expiresAt.Compare(b.expiresAt); d != 0 {
			return d
		}
		return cmp.Compare(a.id, b.id)
	})
	in := domain.JointInput{ListRate: listRate, Ladder: c.ladder, Steps: c.md.Steps, Elasticity: c.md.Elasticity}
	self := 0
	for i, q := range queue {
		if q.id == c.st.ID {
			self = i
		}
		in.Lots = append(in.Lots, domain.QueuedLot{Left: q.expiresAt.Sub(now), OnHand: q.onHand})
	}
	plan := domain.JointPercents(in)
	pct := plan[self]
	if c.st.OnHand <= 0 {
		return pct
	}
	// The siblings' markdowns in force, until they evaluate again. A
	// sibling due now, or whose row shows it evaluated now, counts at the
	// plan's markdown: its row may be read before or after its own
	// evaluation, and the answer must not depend on which.
	inForce := map[int64]int{}
	for i, q := range queue {
		inForce[q.id] = plan[i]
	}
	for _, s := range c.siblings {
		if s.MarkdownDueAt.After(now) && !s.MarkdownDueAt.Equal(c.nextEvaluation(s.ExpiresAt, now)) {
			inForce[s.ID] = max(c.ladder.DiscountPercent(s.ExpiresAt.Sub(now)), s.MarkdownPercent)
		}
	}
	for i, q := range queue {
		switch {
		case i < self:
			pct = min(pct, c.md.Steps.Below(inForce[q.id]))
		case i > self:
			pct = max(pct, c.md.Steps.Above(inForce[q.id]))
		}
	}
	return max(pct, c.ladder.DiscountPercent(c.st.ExpiresAt.Sub(now)))
}

// nextEvaluation is when a lot expiring at expiresAt that evaluates at now
// evaluates next: Every after now, or the ladder's next rung or the expiry
// when sooner.
func (c *core) nextEvaluation(expiresAt, now time.Time) time.Time {
	next := now.Add(c.md.Every)
	for _, m := range c.ladder {
		if at := expiresAt.Add(-m.Within); at.After(now) && at.Before(next) {
			next = at
		}
	}
	if expiresAt.Before(next) {
		next = expiresAt
	}
	return next
}

// productRate takes the product's rate fetched for a lot with few or no
// sales of its own, at now.
func (c *core) productRate(now time.Time, perHour float64) {
	c.fallback, c.fallbackAt = max(perHour, 0), now
}
