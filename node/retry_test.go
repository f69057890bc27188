package node

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestKeepTryingUntilItSucceeds(t *testing.T) {
	calls := 0
	var waits []time.Duration
	err := keepTrying(context.Background(), time.Millisecond, 3*time.Millisecond, func(context.Context) error {
		calls++
		if calls < 4 {
			return errors.New("mysql away")
		}
		return nil
	}, func(_ error, wait time.Duration) { waits = append(waits, wait) })
	if err != nil || calls != 4 {
		t.Fatalf("keepTrying: %v after %d tries, want success at the fourth", err, calls)
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("waits %v, want %v (doubling, capped)", waits, want)
			break
		}
	}
}

func TestKeepTryingEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := keepTrying(ctx, time.Hour, time.Hour, func(context.Context) error {
		calls++
		return errors.New("mysql away")
	}, func(error, time.Duration) { cancel() })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("keepTrying: %v after %d tries, want context.Canceled after one (not an hour's wait)", err, calls)
	}
}
