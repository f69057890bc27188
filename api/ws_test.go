package api

import "testing"

func TestSlowSubscriberIsDropped(t *testing.T) {
	kicked := 0
	s := &subscriber{out: make(chan []byte, 2), kick: func() { kicked++ }}
	for i := 0; i < 5; i++ {
		s.send([]byte("m")) // nobody reads: the third send finds the queue full
	}
	if kicked != 1 {
		t.Errorf("kicked %d times, want once", kicked)
	}
	if len(s.out) != 2 || !s.closed.Load() {
		t.Errorf("queue %d, closed %v", len(s.out), s.closed.Load())
	}
}
