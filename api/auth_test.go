package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"shelflife/domain"
)

func TestSignupLoginAddress(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	body := ts.mustDo("POST", "/api/v1/auth/signup", "",
		`{"email":" Lee@Shop.TEST ","password":"lee-password","name":"이알뜰","address":{"label":"잠실","lat":37.5133,"lng":127.1001}}`, 201)
	var u userResponse
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Email != "lee@shop.test" || u.Role != domain.RoleShopper || u.Address == nil || u.Address.Lat != 37.5133 {
		t.Errorf("signup answered %+v", u)
	}
	tok := ts.login("LEE@shop.test", "lee-password")
	ts.mustDo("PUT", "/api/v1/me/address", tok, `{"label":"연희동","lat":37.5667,"lng":126.93}`, 200)
	var me userResponse
	if err := json.Unmarshal(ts.mustDo("GET", "/api/v1/me", tok, "", 200), &me); err != nil {
		t.Fatal(err)
	}
	if me.Address == nil || me.Address.Label != "연희동" || me.Address.Lng != 126.93 {
		t.Errorf("address after PUT = %+v", me.Address)
	}
	status, b := ts.do("POST", "/api/v1/auth/signup", "", `{"email":"lee@shop.test","password":"another-pw","name":"Dup"}`)
	if status != 409 || errorCode(t, b) != "email_taken" {
		t.Errorf("duplicate signup: %d %s", status, b)
	}
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	forger, _ := NewTokens([]byte("some-other-secret-entirely"), time.Hour, nil)
	forged, _, _ := forger.Issue(domain.User{ID: 1, Role: domain.RoleAdmin})
	past, _ := NewTokens(testSecret, time.Hour, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	expired, _, _ := past.Issue(domain.User{ID: 1, Role: domain.RoleAdmin})
	sameKeyBadRole, _ := NewTokens(testSecret, time.Hour, nil)
	badRole, _, _ := sameKeyBadRole.Issue(domain.User{ID: 1, Role: "root"})

	tests := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"wrong password", "POST", "/api/v1/auth/login", "", `{"email":"kim@shop.test","password":"wrong-password"}`, 401, "invalid_credentials"},
		{"unknown email", "POST", "/api/v1/auth/login", "", `{"email":"nobody@shop.test","password":"whatever1"}`, 401, "invalid_credentials"},
		{"no token", "GET", "/api/v1/me", "", "", 401, "missing_token"},
		{"forged token", "GET", "/api/v1/me", forged, "", 401, "invalid_token"},
		{"expired token", "GET", "/api/v1/me", expired, "", 401, "token_expired"},
		{"garbage token", "GET", "/api/v1/me", "not.a.jwt", "", 401, "invalid_token"},
		{"unknown role in token", "GET", "/api/v1/me", badRole, "", 401, "invalid_token"},
		{"shopper on admin route", "GET", "/api/v1/admin/warehouses", ts.shopper, "", 403, "forbidden"},
		{"shopper creates product", "POST", "/api/v1/admin/products", ts.shopper, `{"sku":"X","name":"x","category":"c","price":1}`, 403, "forbidden"},
		{"anonymous on admin route", "POST", "/api/v1/admin/warehouses", "", `{}`, 401, "missing_token"},
		{"forged admin token", "GET", "/api/v1/admin/warehouses", forged, "", 401, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := ts.do(tt.method, tt.path, tt.token, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d; body %s", status, tt.status, body)
			}
			if got := errorCode(t, body); got != tt.code {
				t.Errorf("code %q, want %q", got, tt.code)
			}
		})
	}
	// A non-Bearer scheme is refused, not ignored.
	status, body := ts.do("GET", "/api/v1/me", rawAuthorization+"Basic dXNlcjpwYXNz", "")
	if status != 401 || errorCode(t, body) != "invalid_token" {
		t.Errorf("Basic auth: %d %s", status, body)
	}
}

func TestTokensRejectOtherAlgorithms(t *testing.T) {
	t.Parallel()
	tok, err := NewTokens(testSecret, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	// header {"alg":"none","typ":"JWT"}, claims for an admin
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJyb2xlIjoiYWRtaW4iLCJpc3MiOiJzaGVsZmxpZmUiLCJzdWIiOiIxIiwiZXhwIjo0MTAyNDQ0ODAwfQ."
	if _, err := tok.Parse(none); err == nil {
		t.Error("an unsigned token was accepted")
	}
	if _, err := NewTokens([]byte("short"), time.Minute, nil); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

// TestTokensRemembered: a token checked once is answered from memory after,
// as a fresh check would answer it: the same principal, refused once
// expired, and a token one character off is still checked (and refused).
func TestTokensRemembered(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	issuer, _ := NewTokens(testSecret, time.Hour, clock)
	raw, _, err := issuer.Issue(domain.User{ID: 7, Role: domain.RoleShopper, TokenVersion: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := Principal{UserID: 7, Role: domain.RoleShopper, Version: 3}
	// checker never issued it: its first Parse checks the signature.
	checker, _ := NewTokens(testSecret, time.Hour, clock)
	checker.limit = 2
	for i, tk := range []*Tokens{issuer, checker, checker} {
		if p, err := tk.Parse(raw); err != nil || p != want {
			t.Fatalf("parse %d: %+v, %v; want %+v", i, p, err, want)
		}
	}
	if _, ok := checker.verified.Load(raw); !ok {
		t.Fatal("a checked token was not remembered")
	}
	// One character off in the signature, or in the claims: refused.
	for _, bad := range []string{raw[:len(raw)-2] + flip(raw[len(raw)-2]) + raw[len(raw)-1:], flipAt(raw, strings.IndexByte(raw, '.')+3)} {
		if _, err := checker.Parse(bad); !errors.Is(err, errInvalidToken) {
			t.Errorf("a tampered token: %v, want invalid", err)
		}
	}
	// More tokens than the bound: every one still checks out.
	for id := int64(10); id < 15; id++ {
		other, _, _ := issuer.Issue(domain.User{ID: id, Role: domain.RoleShopper})
		if p, err := checker.Parse(other); err != nil || p.UserID != id {
			t.Fatalf("token of user %d past the bound: %+v, %v", id, p, err)
		}
	}
	if p, err := checker.Parse(raw); err != nil || p != want {
		t.Fatalf("after the bound: %+v, %v", p, err)
	}
	// An hour later the remembered token has expired, for both.
	now = now.Add(time.Hour)
	for i, tk := range []*Tokens{issuer, checker} {
		if _, err := tk.Parse(raw); !errors.Is(err, errExpiredToken) {
			t.Errorf("parse %d an hour later: %v, want expired", i, err)
		}
	}
	// A token for a role that does not exist is never remembered at issue.
	odd, _, _ := issuer.Issue(domain.User{ID: 8, Role: "root"})
	if _, err := issuer.Parse(odd); !errors.Is(err, errInvalidToken) {
		t.Errorf("unknown role: %v, want invalid", err)
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func flipAt(s string, i int) string { return s[:i] + flip(s[i]) + s[i+1:] }
