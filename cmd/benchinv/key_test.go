package main

import (
	"fmt"
	"testing"
)

// The keys are mode and the number in 16 hex digits, as fmt writes them.
func TestNextKey(t *testing.T) {
	keySeq.Store(0x0ffffffffffffffe)
	for _, mode := range []string{"a", "b", "x"} {
		want := fmt.Sprintf("%s%016x", mode, keySeq.Load()+1)
		if got := nextKey(mode); got != want {
			t.Errorf("nextKey(%q) = %q, want %q", mode, got, want)
		}
	}
	keySeq.Store(0)
	if got := nextKey("a"); got != "a0000000000000001" {
		t.Errorf("first key %q", got)
	}
}
