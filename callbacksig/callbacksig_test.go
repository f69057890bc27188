package callbacksig_test

import (
	"bytes"
	"strings"
	"testing"

	"shelflife/callbacksig"
)

func TestNonces(t *testing.T) {
	a, err := callbacksig.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := callbacksig.New(bytes.Repeat([]byte{2}, 32))
	n := a.Nonce("o1")
	if len(n) != 32 || n == a.Nonce("o2") || n != a.Nonce("o1") {
		t.Fatalf("nonces: %q %q", n, a.Nonce("o2"))
	}
	for _, tc := range []struct {
		order, nonce string
		want         bool
	}{
		{"o1", n, true},
		{"o2", n, false},
		{"o1", b.Nonce("o1"), false},
		{"o1", strings.ToUpper(n), true}, // hex is read case-blind
		{"o1", n[:30], false},
		{"o1", n + "00", false},
		{"o1", "zz" + n[2:], false},
		{"o1", "", false},
	} {
		if got := a.Valid(tc.order, tc.nonce); got != tc.want {
			t.Errorf("Valid(%q, %q) = %v, want %v", tc.order, tc.nonce, got, tc.want)
		}
	}
	if _, err := callbacksig.New(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}
