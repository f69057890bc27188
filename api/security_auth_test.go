package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// TestSignupRefusesWeakPasswordsAndUnsafeNames: signup asks for a password
// of at least 10 characters that is not a common one, only spaces or the
// email; display names are trimmed, bounded and free of control and bidi
// characters.
func TestSignupRefusesWeakPasswordsAndUnsafeNames(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	signup := func(email, password, name string) (int, []byte) {
		b, _ := json.Marshal(map[string]string{"email": email, "password": password, "name": name})
		return ts.do("POST", "/api/v1/auth/signup", "", string(b))
	}
	refused := []struct{ name, email, password, display string }{
		{"the word password", "a1@shop.test", "password", "A"},
		{"eight spaces", "a2@shop.test", "        ", "A"},
		{"ten spaces", "a3@shop.test", "          ", "A"},
		{"nine characters", "a4@shop.test", "abcdefgh1", "A"},
		{"common password", "a5@shop.test", "password123", "A"},
		{"common password in capitals", "a6@shop.test", "QwertyUIOP", "A"},
		{"the email", "long.name@shop.test", "Long.Name@shop.test", "A"},
		{"the email's name", "long.name2@shop.test", "long.name2", "A"},
		{"longer than bcrypt reads", "a7@shop.test", strings.Repeat("x", 73), "A"},
		{"name with NUL", "a8@shop.test", "fine-password-8", "Kim\x00"},
		{"name with right-to-left override", "a9@shop.test", "fine-password-9", "\u202Eevil.exe"},
		{"name with bidi isolate", "a10@shop.test", "fine-password-10", "Kim\u2066x\u2069"},
		{"name with a line break", "a11@shop.test", "fine-password-11", "Kim\nAdmin"},
		{"name of spaces", "a12@shop.test", "fine-password-12", "   "},
		{"name too long", "a13@shop.test", "fine-password-13", strings.Repeat("가", 101)},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			status, body := signup(tt.email, tt.password, tt.display)
			if status != 400 || errorCode(t, body) != "validation_failed" {
				t.Fatalf("got %d %s, want 400 validation_failed", status, body)
			}
			if !strings.Contains(string(body), "password") && !strings.Contains(string(body), "name") {
				t.Errorf("message does not say which field: %s", body)
			}
		})
	}
	body := ts.mustDo("POST", "/api/v1/auth/signup", "",
		`{"email":"ok@shop.test","password":"tomato-basket-7","name":"  김 알뜰  "}`, 201)
	var u userResponse
	if err := json.Unmarshal(body, &u); err != nil || u.Name != "김 알뜰" {
		t.Errorf("signup answered %s (%v); want the name trimmed", body, err)
	}
}

// testClock is a clock a test moves by hand.
type testClock struct{ nanos atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.nanos.Store(time.Now().UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.nanos.Load()) }
func (c *testClock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// newNode is one more server ("node") on store, as newTestServer's.
func newNode(t testing.TB, store *mysqlstore.Store, cfg Config, deps Deps) *testServer {
	t.Helper()
	cfg.JWTSecret, cfg.BcryptCost, cfg.BodyLimit = testSecret, 4, 4<<10
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	deps.Users, deps.Catalog = store, store
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{t: t, srv: srv}
}

func mustUser(t testing.TB, store *mysqlstore.Store, email, password string, role domain.Role) domain.User {
	t.Helper()
	hash, _ := HashPassword(password, 4)
	u, err := store.CreateUser(t.Context(), domain.User{Email: email, Name: "N", Role: role, PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func wantError(t testing.TB, status int, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || errorCode(t, body) != wantCode {
		t.Fatalf("got %d %s, want %d %s", status, body, wantStatus, wantCode)
	}
}

// TestTokensAreRevocable: a token is checked against its user on every
// request, so logout, a password change, a demotion and a deletion end it:
// at once on the node that made the change, within 30 s on another.
func TestTokensAreRevocable(t *testing.T) {
	t.Parallel()
	store := mysqltest.New(t)
	clock := newTestClock()
	a := newNode(t, store, Config{Now: clock.Now}, Deps{})
	b := newNode(t, store, Config{Now: clock.Now}, Deps{})
	mustUser(t, store, "root@shop.test", "root-password", domain.RoleAdmin)
	boss := mustUser(t, store, "boss@shop.test", "boss-password", domain.RoleAdmin)
	kim := mustUser(t, store, "kim@shop.test", "kim-password", domain.RoleShopper)
	mustUser(t, store, "lee@shop.test", "lee-password", domain.RoleShopper)
	root := a.login("root@shop.test", "root-password")

	t.Run("demotion", func(t *testing.T) {
		bossTok := a.login("boss@shop.test", "boss-password")
		a.mustDo("GET", "/api/v1/admin/warehouses", bossTok, "", 200)
		b.mustDo("GET", "/api/v1/admin/warehouses", bossTok, "", 200)
		body := a.mustDo("PUT", fmt.Sprintf("/api/v1/admin/users/%d/role", boss.ID), root, `{"role":"shopper"}`, 200)
		if !strings.Contains(string(body), `"role":"shopper"`) {
			t.Errorf("role change answered %s", body)
		}
		status, body := a.do("GET", "/api/v1/admin/warehouses", bossTok, "")
		wantError(t, status, body, 401, "token_revoked")
		clock.Advance(accountTTL + time.Second)
		status, body = b.do("GET", "/api/v1/admin/warehouses", bossTok, "")
		wantError(t, status, body, 401, "token_revoked")
		again := b.login("boss@shop.test", "boss-password")
		status, body = b.do("GET", "/api/v1/admin/warehouses", again, "")
		wantError(t, status, body, 403, "forbidden")
		b.mustDo("GET", "/api/v1/me", again, "", 200)
	})

	t.Run("deletion", func(t *testing.T) {
		kimTok := a.login("kim@shop.test", "kim-password")
		a.mustDo("GET", "/api/v1/me", kimTok, "", 200)
		b.mustDo("GET", "/api/v1/me", kimTok, "", 200)
		a.mustDo("DELETE", fmt.Sprintf("/api/v1/admin/users/%d", kim.ID), root, "", 204)
		status, body := a.do("GET", "/api/v1/me", kimTok, "")
		wantError(t, status, body, 401, "token_revoked")
		clock.Advance(accountTTL + time.Second)
		status, body = b.do("GET", "/api/v1/me", kimTok, "")
		wantError(t, status, body, 401, "token_revoked")
		status, body = a.do("DELETE", fmt.Sprintf("/api/v1/admin/users/%d", kim.ID), root, "")
		wantError(t, status, body, 404, "not_found")
	})

	t.Run("logout ends every token of the user", func(t *testing.T) {
		first := a.login("lee@shop.test", "lee-password")
		second := b.login("lee@shop.test", "lee-password")
		a.mustDo("POST", "/api/v1/auth/logout", first, "", 204)
		for _, tok := range []string{first, second} {
			status, body := a.do("GET", "/api/v1/me", tok, "")
			wantError(t, status, body, 401, "token_revoked")
		}
		a.mustDo("GET", "/api/v1/me", a.login("lee@shop.test", "lee-password"), "", 200)
	})

	t.Run("password change", func(t *testing.T) {
		old := a.login("lee@shop.test", "lee-password")
		status, body := a.do("PUT", "/api/v1/me/password", old, `{"current_password":"not-it-at-all","new_password":"radish-garden-42"}`)
		wantError(t, status, body, 400, "validation_failed")
		status, body = a.do("PUT", "/api/v1/me/password", old, `{"current_password":"lee-password","new_password":"short"}`)
		wantError(t, status, body, 400, "validation_failed")
		body = a.mustDo("PUT", "/api/v1/me/password", old, `{"current_password":"lee-password","new_password":"radish-garden-42"}`, 200)
		var fresh loginResponse
		if err := json.Unmarshal(body, &fresh); err != nil || fresh.Token == "" {
			t.Fatalf("password change answered %s", body)
		}
		status, body = a.do("GET", "/api/v1/me", old, "")
		wantError(t, status, body, 401, "token_revoked")
		a.mustDo("GET", "/api/v1/me", fresh.Token, "", 200)
		status, body = a.do("POST", "/api/v1/auth/login", "", `{"email":"lee@shop.test","password":"lee-password"}`)
		wantError(t, status, body, 401, "invalid_credentials")
		a.login("lee@shop.test", "radish-garden-42")
	})

	t.Run("an admin keeps their own account", func(t *testing.T) {
		me := a.mustDo("GET", "/api/v1/me", root, "", 200)
		var u userResponse
		json.Unmarshal(me, &u)
		status, body := a.do("PUT", fmt.Sprintf("/api/v1/admin/users/%d/role", u.ID), root, `{"role":"shopper"}`)
		wantError(t, status, body, 409, "own_account")
		status, body = a.do("DELETE", fmt.Sprintf("/api/v1/admin/users/%d", u.ID), root, "")
		wantError(t, status, body, 409, "own_account")
		status, body = a.do("PUT", fmt.Sprintf("/api/v1/admin/users/%d/role", boss.ID), root, `{"role":"root"}`)
		wantError(t, status, body, 400, "validation_failed")
	})
}
