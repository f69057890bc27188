package clock

import (
	"testing"
	"time"
)

func TestFakeRunsDueTimersInOrder(t *testing.T) {
	c := NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var got []string
	c.AfterFunc(2*time.Hour, func() { got = append(got, "two") })
	c.AfterFunc(time.Hour, func() { got = append(got, "one") })
	stopped := c.AfterFunc(90*time.Minute, func() { got = append(got, "stopped") })
	c.AfterFunc(5*time.Hour, func() { got = append(got, "five") })
	if !stopped.Stop() {
		t.Error("Stop of a pending timer = false")
	}
	c.Advance(3 * time.Hour)
	if len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("ran %v, want [one two]", got)
	}
	if c.Pending() != 1 {
		t.Errorf("pending = %d, want 1", c.Pending())
	}
	if want := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC); !c.Now().Equal(want) {
		t.Errorf("Now = %v, want %v", c.Now(), want)
	}
}
