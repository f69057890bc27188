package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/mysqlstore/mysqltest"
)

var testSecret = []byte("api-test-secret-0123456789")

type testServer struct {
	t       testing.TB
	srv     *Server
	admin   string
	shopper string
}

// newTestServer starts a server on its own database with an admin and a
// shopper signed in.
func newTestServer(t testing.TB, configure ...func(*Config)) *testServer {
	t.Helper()
	return newTestServerOn(t, mysqltest.New(t), Deps{}, configure...)
}

// newTestServerOn is newTestServer over store, with deps added to the
// users and catalog the store serves.
func newTestServerOn(t testing.TB, store *mysqlstore.Store, deps Deps, configure ...func(*Config)) *testServer {
	t.Helper()
	cfg := Config{
		JWTSecret:  testSecret,
		BcryptCost: 4,
		BodyLimit:  4 << 10,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range configure {
		f(&cfg)
	}
	deps.Users, deps.Catalog = store, store
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, srv: srv}
	hash, _ := HashPassword("admin-password", 4)
	if _, err := store.EnsureUser(t.Context(), domain.User{Email: "root@shop.test", Name: "Root", Role: domain.RoleAdmin, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	ts.admin = ts.login("root@shop.test", "admin-password")
	ts.mustDo("POST", "/api/v1/auth/signup", "", `{"email":"kim@shop.test","password":"kim-password","name":"Kim"}`, 201)
	ts.shopper = ts.login("kim@shop.test", "kim-password")
	return ts
}

func (ts *testServer) login(email, password string) string {
	ts.t.Helper()
	var out loginResponse
	body := ts.mustDo("POST", "/api/v1/auth/login", "", `{"email":"`+email+`","password":"`+password+`"}`, 200)
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		ts.t.Fatalf("login %s: %s", email, body)
	}
	return out.Token
}

// rawAuthorization before a token sends the rest as the whole header.
const rawAuthorization = "raw:"

// do sends a request through the Fiber app and returns status and body.
func (ts *testServer) do(method, path, token, body string) (int, []byte) {
	ts.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if raw, ok := strings.CutPrefix(token, rawAuthorization); ok {
		req.Header.Set("Authorization", raw)
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.srv.App().Test(req, int((10 * time.Second).Milliseconds()))
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (ts *testServer) mustDo(method, path, token, body string, want int) []byte {
	ts.t.Helper()
	got, b := ts.do(method, path, token, body)
	if got != want {
		ts.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, got, want, b)
	}
	return b
}

// errorCode reads the code of an error body, failing on any other shape.
func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not an error body: %s", body)
	}
	return e.Error.Code
}
