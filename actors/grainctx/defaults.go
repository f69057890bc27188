package grainctx

import (
	"log/slog"
	"time"

	"shelflife/clock"
)

// Common fills what every grain kind's Deps may leave unset, in one place:
// the wall clock, slog's default logger, and the idle timeout after which
// an activation passivates.
func Common(clk *clock.Clock, log **slog.Logger, idle *time.Duration, defaultIdle time.Duration) {
	if *clk == nil {
		*clk = clock.Real{}
	}
	if *log == nil {
		*log = slog.Default()
	}
	Positive(idle, defaultIdle)
}

// Positive sets d to def unless it is positive.
func Positive(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}
