package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/mysqlstore/mysqltest"
	"shelflife/persistence/redisstore"
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
// revocation is the shop the token revocation tests share: two nodes (a
// and b) over one store, a clock, an admin's token and two accounts.
type revocation struct {
	a, b      *testServer
	clock     *testClock
	root      string
	boss, kim domain.User
}

func TestTokensAreRevocable(t *testing.T) {
	t.Parallel()
	store := mysqltest.New(t)
	clock := newTestClock()
	r := &revocation{clock: clock}
	r.a = newNode(t, store, Config{Now: clock.Now}, Deps{})
	r.b = newNode(t, store, Config{Now: clock.Now}, Deps{})
	mustUser(t, store, "root@shop.test", "root-password", domain.RoleAdmin)
	r.boss = mustUser(t, store, "boss@shop.test", "boss-password", domain.RoleAdmin)
	r.kim = mustUser(t, store, "kim@shop.test", "kim-password", domain.RoleShopper)
	mustUser(t, store, "lee@shop.test", "lee-password", domain.RoleShopper)
	r.root = r.a.login("root@shop.test", "root-password")
	t.Run("demotion", r.demotion)
	t.Run("deletion", r.deletion)
	t.Run("logout ends every token of the user", r.logout)
	t.Run("password change", r.passwordChange)
	t.Run("an admin keeps their own account", r.ownAccount)
}

func (r *revocation) demotion(t *testing.T) {
	bossTok := r.a.login("boss@shop.test", "boss-password")
	r.a.mustDo("GET", "/api/v1/admin/warehouses", bossTok, "", 200)
	r.b.mustDo("GET", "/api/v1/admin/warehouses", bossTok, "", 200)
	body := r.a.mustDo("PUT", fmt.Sprintf("/api/v1/admin/users/%d/role", r.boss.ID), r.root, `{"role":"shopper"}`, 200)
	if !strings.Contains(string(body), `"role":"shopper"`) {
		t.Errorf("role change answered %s", body)
	}
	status, body := r.a.do("GET", "/api/v1/admin/warehouses", bossTok, "")
	wantError(t, status, body, 401, "token_revoked")
	r.clock.Advance(accountTTL + time.Second)
	status, body = r.b.do("GET", "/api/v1/admin/warehouses", bossTok, "")
	wantError(t, status, body, 401, "token_revoked")
	again := r.b.login("boss@shop.test", "boss-password")
	status, body = r.b.do("GET", "/api/v1/admin/warehouses", again, "")
	wantError(t, status, body, 403, "forbidden")
	r.b.mustDo("GET", "/api/v1/me", again, "", 200)
}

func (r *revocation) deletion(t *testing.T) {
	kimTok := r.a.login("kim@shop.test", "kim-password")
	r.a.mustDo("GET", "/api/v1/me", kimTok, "", 200)
	r.b.mustDo("GET", "/api/v1/me", kimTok, "", 200)
	r.a.mustDo("DELETE", fmt.Sprintf("/api/v1/admin/users/%d", r.kim.ID), r.root, "", 204)
	status, body := r.a.do("GET", "/api/v1/me", kimTok, "")
	wantError(t, status, body, 401, "token_revoked")
	r.clock.Advance(accountTTL + time.Second)
	status, body = r.b.do("GET", "/api/v1/me", kimTok, "")
	wantError(t, status, body, 401, "token_revoked")
	status, body = r.a.do("DELETE", fmt.Sprintf("/api/v1/admin/users/%d", r.kim.ID), r.root, "")
	wantError(t, status, body, 404, "not_found")
}

func (r *revocation) logout(t *testing.T) {
	first := r.a.login("lee@shop.test", "lee-password")
	second := r.b.login("lee@shop.test", "lee-password")
	r.a.mustDo("POST", "/api/v1/auth/logout", first, "", 204)
	for _, tok := range []string{first, second} {
		status, body := r.a.do("GET", "/api/v1/me", tok, "")
		wantError(t, status, body, 401, "token_revoked")
	}
	r.a.mustDo("GET", "/api/v1/me", r.a.login("lee@shop.test", "lee-password"), "", 200)
}

func (r *revocation) passwordChange(t *testing.T) {
	old := r.a.login("lee@shop.test", "lee-password")
	status, body := r.a.do("PUT", "/api/v1/me/password", old, `{"current_password":"not-it-at-all","new_password":"radish-garden-42"}`)
	wantError(t, status, body, 400, "validation_failed")
	status, body = r.a.do("PUT", "/api/v1/me/password", old, `{"current_password":"lee-password","new_password":"short"}`)
	wantError(t, status, body, 400, "validation_failed")
	body = r.a.mustDo("PUT", "/api/v1/me/password", old, `{"current_password":"lee-password","new_password":"radish-garden-42"}`, 200)
	var fresh loginResponse
	if err := json.Unmarshal(body, &fresh); err != nil || fresh.Token == "" {
		t.Fatalf("password change answered %s", body)
	}
	status, body = r.a.do("GET", "/api/v1/me", old, "")
	wantError(t, status, body, 401, "token_revoked")
	r.a.mustDo("GET", "/api/v1/me", fresh.Token, "", 200)
	status, body = r.a.do("POST", "/api/v1/auth/login", "", `{"email":"lee@shop.test","password":"lee-password"}`)
	wantError(t, status, body, 401, "invalid_credentials")
	r.a.login("lee@shop.test", "radish-garden-42")
}

func (r *revocation) ownAccount(t *testing.T) {
	me := r.a.mustDo("GET", "/api/v1/me", r.root, "", 200)
	var u userResponse
	json.Unmarshal(me, &u)
	status, body := r.a.do("PUT", fmt.Sprintf("/api/v1/admin/users/%d/role", u.ID), r.root, `{"role":"shopper"}`)
	wantError(t, status, body, 409, "own_account")
	status, body = r.a.do("DELETE", fmt.Sprintf("/api/v1/admin/users/%d", u.ID), r.root, "")
	wantError(t, status, body, 409, "own_account")
	status, body = r.a.do("PUT", fmt.Sprintf("/api/v1/admin/users/%d/role", r.boss.ID), r.root, `{"role":"r.root"}`)
	wantError(t, status, body, 400, "validation_failed")
}

// throttled is a server whose limits are kept in the shared Redis under a
// key prefix of its own.
func throttled(t *testing.T, store *mysqlstore.Store, cfg Config, logs io.Writer) *testServer {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	prefix := fmt.Sprintf("shelflife-sec-test-%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		defer rdb.Close()
		// The limiter's keys start with "rate:", the others with prefix.
		for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
			keys, _ := rdb.Keys(context.Background(), pattern).Result()
			if len(keys) > 0 {
				rdb.Del(context.Background(), keys...)
			}
		}
	})
	ts := newNode(t, store, cfg, Deps{Throttle: redisstore.NewThrottle(rdb, prefix)})
	if logs != nil {
		ts.srv.log = slog.New(slog.NewTextHandler(logs, nil))
	}
	return ts
}

// send is ts.do with extra headers, answering the response's headers too.
func (ts *testServer) send(method, path, body string, header map[string]string) (int, http.Header, []byte) {
	ts.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := ts.srv.App().Test(req, 10_000)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func loginBody(email, password string) string {
	return `{"email":"` + email + `","password":"` + password + `"}`
}

// wantTooMany checks a 429 too_many_requests that says when to come back.
func wantTooMany(t testing.TB, status int, h http.Header, body []byte, atLeast time.Duration) {
	t.Helper()
	wantError(t, status, body, 429, "too_many_requests")
	secs, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || secs < 1 || time.Duration(secs)*time.Second < atLeast {
		t.Errorf("Retry-After %q, want at least %v", h.Get("Retry-After"), atLeast)
	}
}

// TestLoginAndSignupAreThrottled: sign-ins and signups are limited per
// client address and per account, in Redis; the client's address is the
// peer's unless the peer is a trusted proxy, whose last X-Forwarded-For hop
// counts (what the client wrote before it does not).
func TestLoginAndSignupAreThrottled(t *testing.T) {
	t.Parallel()
	store := mysqltest.New(t)
	for _, e := range []string{"a@shop.test", "b@shop.test", "c@shop.test", "d@shop.test", "e@shop.test"} {
		mustUser(t, store, e, "right-password", domain.RoleShopper)
	}

	t.Run("per account", func(t *testing.T) {
		ts := throttled(t, store, Config{Limits: Limits{LoginPerAccount: Rate{3, time.Minute}}}, nil)
		for i := 0; i < 3; i++ {
			ts.login("a@shop.test", "right-password")
		}
		status, h, body := ts.send("POST", "/api/v1/auth/login", loginBody("a@shop.test", "right-password"), nil)
		wantTooMany(t, status, h, body, time.Second)
		ts.login("b@shop.test", "right-password") // another account is not held up
	})

	t.Run("per address", func(t *testing.T) {
		ts := throttled(t, store, Config{Limits: Limits{LoginPerAddress: Rate{4, time.Minute}}}, nil)
		for _, e := range []string{"a", "b", "c", "d"} {
			ts.login(e+"@shop.test", "right-password")
		}
		// A forwarded-for header from an untrusted peer changes nothing.
		status, h, body := ts.send("POST", "/api/v1/auth/login", loginBody("e@shop.test", "right-password"),
			map[string]string{"X-Forwarded-For": "203.0.113.9"})
		wantTooMany(t, status, h, body, time.Second)
	})

	t.Run("behind a trusted proxy", func(t *testing.T) {
		// httptest requests come from 0.0.0.0: that is the proxy here.
		ts := throttled(t, store, Config{Limits: Limits{LoginPerAddress: Rate{2, time.Minute}},
			TrustedProxies: []string{"0.0.0.0/32"}}, nil)
		alice := map[string]string{"X-Forwarded-For": "198.51.100.7"}
		for i := 0; i < 2; i++ {
			if status, _, body := ts.send("POST", "/api/v1/auth/login", loginBody("a@shop.test", "right-password"), alice); status != 200 {
				t.Fatalf("login %d: %d %s", i, status, body)
			}
		}
		spoofed := map[string]string{"X-Forwarded-For": "192.0.2.1, 198.51.100.7"}
		status, h, body := ts.send("POST", "/api/v1/auth/login", loginBody("a@shop.test", "right-password"), spoofed)
		wantTooMany(t, status, h, body, time.Second)
		bob := map[string]string{"X-Forwarded-For": "198.51.100.8"}
		if status, _, body := ts.send("POST", "/api/v1/auth/login", loginBody("b@shop.test", "right-password"), bob); status != 200 {
			t.Fatalf("another client behind the proxy: %d %s", status, body)
		}
	})

	t.Run("signup", func(t *testing.T) {
		// Each signup takes from both buckets: the address's holds four.
		ts := throttled(t, store, Config{Limits: Limits{SignupPerAddress: Rate{4, time.Hour}, SignupPerAccount: Rate{2, time.Hour}}}, nil)
		signup := func(email string) (int, http.Header, []byte) {
			return ts.send("POST", "/api/v1/auth/signup", `{"email":"`+email+`","password":"tomato-basket-7","name":"N"}`, nil)
		}
		if status, _, body := signup("new1@shop.test"); status != 201 {
			t.Fatalf("signup: %d %s", status, body)
		}
		status, _, body := signup("new1@shop.test")
		wantError(t, status, body, 409, "email_taken")
		status, h, body := signup("new1@shop.test")
		wantTooMany(t, status, h, body, time.Second)
		if status, _, body := signup("new2@shop.test"); status != 201 {
			t.Fatalf("signup: %d %s", status, body)
		}
		status, h, body = signup("new3@shop.test")
		wantTooMany(t, status, h, body, time.Minute)
	})
}

// TestFailedLoginsLockTheAccount: after five wrong passwords the account
// is locked, and the right password is refused with 429 (it is not even
// checked) until the lock ends; unknown emails lock alike, so that a lock
// tells nothing of who has an account.
func TestFailedLoginsLockTheAccount(t *testing.T) {
	t.Parallel()
	store := mysqltest.New(t)
	mustUser(t, store, "kim@shop.test", "right-password", domain.RoleShopper)
	mustUser(t, store, "lee@shop.test", "right-password", domain.RoleShopper)
	ts := throttled(t, store, Config{Limits: Limits{LockoutAfter: 5, Lockout: 30 * time.Second, LockoutMax: 15 * time.Minute}}, nil)
	for _, email := range []string{"kim@shop.test", "nobody@shop.test"} {
		for i := 0; i < 5; i++ {
			status, _, body := ts.send("POST", "/api/v1/auth/login", loginBody(email, fmt.Sprintf("wrong-%d-password", i)), nil)
			wantError(t, status, body, 401, "invalid_credentials")
		}
		status, h, body := ts.send("POST", "/api/v1/auth/login", loginBody(email, "right-password"), nil)
		wantTooMany(t, status, h, body, 20*time.Second)
	}
	ts.login("lee@shop.test", "right-password") // other accounts sign in

	// A successful login forgets earlier failures.
	for i := 0; i < 4; i++ {
		ts.send("POST", "/api/v1/auth/login", loginBody("lee@shop.test", "wrong-password"), nil)
	}
	ts.login("lee@shop.test", "right-password")
	for i := 0; i < 4; i++ {
		status, _, body := ts.send("POST", "/api/v1/auth/login", loginBody("lee@shop.test", "wrong-password"), nil)
		wantError(t, status, body, 401, "invalid_credentials")
	}
}

func TestLockoutDoubles(t *testing.T) {
	lim := Limits{Lockout: 30 * time.Second, LockoutMax: 15 * time.Minute}
	for over, want := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		if got := lockoutFor(lim, int64(over)); got != want {
			t.Errorf("lockoutFor(%d) = %v, want %v", over, got, want)
		}
	}
	if got := lockoutFor(lim, 1000); got != 15*time.Minute {
		t.Errorf("lockoutFor(1000) = %v", got)
	}
}

// TestThrottleFailsOpen: with Redis down, sign-in and signup still work,
// unthrottled, and the node says so in its log.
func TestThrottleFailsOpen(t *testing.T) {
	t.Parallel()
	store := mysqltest.New(t)
	mustUser(t, store, "kim@shop.test", "right-password", domain.RoleShopper)
	// Nothing listens on this port (the security tests' range).
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:18599", DialTimeout: 200 * time.Millisecond, DialerRetries: 1, MaxRetries: -1})
	defer rdb.Close()
	var logs syncBuffer
	ts := newNode(t, store, Config{Limits: Limits{LoginPerAddress: Rate{1, time.Minute}, LoginPerAccount: Rate{1, time.Minute},
		SignupPerAddress: Rate{1, time.Hour}, LockoutAfter: 1, Lockout: time.Minute, LockoutMax: time.Hour}},
		Deps{Throttle: redisstore.NewThrottle(rdb, "shelflife-sec-down:")})
	ts.srv.log = slog.New(slog.NewTextHandler(&logs, nil))
	for i := 0; i < 3; i++ {
		status, _, body := ts.send("POST", "/api/v1/auth/login", loginBody("kim@shop.test", "wrong-password"), nil)
		wantError(t, status, body, 401, "invalid_credentials")
		ts.login("kim@shop.test", "right-password")
	}
	ts.mustDo("POST", "/api/v1/auth/signup", "", `{"email":"new@shop.test","password":"tomato-basket-7","name":"N"}`, 201)
	if !strings.Contains(logs.String(), "rate limits unavailable") {
		t.Errorf("nothing logged about the missing limits: %s", logs.String())
	}
}

// TestPasswordHashingIsBounded: password checks run in a bounded number of
// slots; a login that finds none free before its deadline is answered 503
// with Retry-After, and the slots are given back.
func TestPasswordHashingIsBounded(t *testing.T) {
	t.Parallel()
	store := mysqltest.New(t)
	mustUser(t, store, "kim@shop.test", "right-password", domain.RoleShopper)
	ts := newNode(t, store, Config{RequestTimeout: 200 * time.Millisecond, Limits: Limits{HashConcurrency: 1}}, Deps{})
	if cap(ts.srv.hashing) != 1 {
		t.Fatalf("%d hash slots, want 1", cap(ts.srv.hashing))
	}
	ts.srv.hashing <- struct{}{} // a long hash holds the only slot
	status, h, body := ts.send("POST", "/api/v1/auth/login", loginBody("kim@shop.test", "right-password"), nil)
	wantError(t, status, body, 503, "unavailable")
	if h.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	status, _, body = ts.send("POST", "/api/v1/auth/signup", `{"email":"new@shop.test","password":"tomato-basket-7","name":"N"}`, nil)
	wantError(t, status, body, 503, "unavailable")
	ts.mustDo("GET", "/healthz", "", "", 200) // the rest of the node answers meanwhile
	<-ts.srv.hashing
	ts.login("kim@shop.test", "right-password")
	if n := len(ts.srv.hashing); n != 0 {
		t.Errorf("%d hash slots still taken after the login", n)
	}
}

// syncBuffer is a log sink safe for the handlers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// flakyUsers fails UserByID while down is set, as MySQL out of connections.
type flakyUsers struct {
	Users
	down atomic.Bool
}

func (f *flakyUsers) UserByID(ctx context.Context, id int64) (domain.User, error) {
	if f.down.Load() {
		return domain.User{}, errors.New("Error 1040: Too many connections")
	}
	return f.Users.UserByID(ctx, id)
}

// TestTokenCheckRidesOutAMySQLBlip: while MySQL does not answer, a token
// checked in the last 5 minutes is taken on that check; after that the
// request is answered 503, never let through unchecked.
func TestTokenCheckRidesOutAMySQLBlip(t *testing.T) {
	t.Parallel()
	store := mysqltest.New(t)
	mustUser(t, store, "root@shop.test", "root-password", domain.RoleAdmin)
	clock := newTestClock()
	ts := newNode(t, store, Config{Now: clock.Now}, Deps{})
	users := &flakyUsers{Users: store}
	ts.srv.deps.Users = users
	root := ts.login("root@shop.test", "root-password")
	ts.mustDo("GET", "/api/v1/admin/warehouses", root, "", 200)
	users.down.Store(true)
	clock.Advance(accountTTL + time.Second)
	ts.mustDo("GET", "/api/v1/admin/warehouses", root, "", 200)
	clock.Advance(accountStaleTTL)
	status, body := ts.do("GET", "/api/v1/admin/warehouses", root, "")
	wantError(t, status, body, 503, "unavailable")
	users.down.Store(false)
	ts.mustDo("GET", "/api/v1/admin/warehouses", root, "", 200)
}

// countingThrottle lets every call through and records, for the counting
// calls (Fail, Forget), whether their context was live and had a deadline.
type countingThrottle struct {
	mu            sync.Mutex
	calls         int
	live, bounded bool
}

func (c *countingThrottle) record(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	_, c.bounded = ctx.Deadline()
	c.live = ctx.Err() == nil
}

func (c *countingThrottle) Allow(context.Context, string, int, time.Duration) (time.Duration, error) {
	return 0, nil
}

func (c *countingThrottle) Fail(ctx context.Context, _ string, _ time.Duration) (int64, error) {
	c.record(ctx)
	return 1, nil
}

func (c *countingThrottle) Lock(context.Context, string, time.Duration) error { return nil }

func (c *countingThrottle) LockedFor(context.Context, string) (time.Duration, error) { return 0, nil }

func (c *countingThrottle) Forget(ctx context.Context, _ ...string) error {
	c.record(ctx)
	return nil
}

// A login's outcome is counted on a context of its own, live whatever is
// left of the request's deadline and bounded, so that a Redis
// that does not answer holds the login only a bounded time.
func TestLoginCountingIsBounded(t *testing.T) {
	t.Parallel()
	store := mysqltest.New(t)
	mustUser(t, store, "kim@shop.test", "right-password", domain.RoleShopper)
	th := &countingThrottle{}
	ts := newNode(t, store, Config{Limits: Limits{LockoutAfter: 5, Lockout: time.Minute, LockoutMax: time.Hour}}, Deps{Throttle: th})
	for _, password := range []string{"wrong-password", "right-password"} {
		th.mu.Lock()
		th.calls, th.live, th.bounded = 0, false, false
		th.mu.Unlock()
		ts.send("POST", "/api/v1/auth/login", loginBody("kim@shop.test", password), nil)
		th.mu.Lock()
		if th.calls == 0 || !th.live || !th.bounded {
			t.Errorf("%s: %d counting calls, live %v, with a deadline %v", password, th.calls, th.live, th.bounded)
		}
		th.mu.Unlock()
	}
}
