package domain

import (
	"testing"
	"time"
)

func TestSuggestAction(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name   string
		state  LotState
		left   time.Duration
		unsold float64
		want   RiskAction
	}{
		{"closing soon, sells out", ClosingSoon, 20 * h, 0, NoAction},
		{"closing soon, under a unit left", ClosingSoon, 20 * h, 0.99, NoAction},
		{"closing soon, one unit left", ClosingSoon, 20 * h, 1, MarkDownNow},
		{"closing soon, last minutes", ClosingSoon, time.Minute, 5, MarkDownNow},
		{"regular at 72 h", Regular, 72 * h, 3, MoveToDealsEarly},
		{"regular at 50 h", Regular, 50 * h, 3, MoveToDealsEarly},
		{"regular just over 72 h", Regular, 72*h + time.Second, 3, NoAction},
		{"regular far out", Regular, 10 * 24 * h, 100, NoAction},
		{"regular at 60 h, sells out", Regular, 60 * h, 0.5, NoAction},
		{"expired", Expired, 0, 5, NoAction},
		{"past expiry, state not moved yet", ClosingSoon, -time.Minute, 5, NoAction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SuggestAction(tt.state, tt.left, tt.unsold); got != tt.want {
				t.Errorf("SuggestAction(%s, %v, %v) = %s, want %s", tt.state, tt.left, tt.unsold, got, tt.want)
			}
		})
	}
}
