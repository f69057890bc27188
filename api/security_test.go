package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"shelflife/domain"
	"shelflife/persistence/mysqlstore/mysqltest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// dialAdminSocket opens the admin stock socket of base with token.
func dialAdminSocket(t *testing.T, base, token string) (*fws.Conn, *http.Response, error) {
	t.Helper()
	u := strings.Replace(base, "http://", "ws://", 1) + "/api/v1/admin/ws/stock?token=" + url.QueryEscape(token)
	d := fws.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial(u, nil)
}

// A client sends nothing but control frames: a message over the limit is refused
// with 1009 before it is read into memory.
func TestSocketRefusesLargeMessages(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	base := ts.serve()
	conn, _, err := dialAdminSocket(t, base, ts.admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The header of a masked 1 MiB text frame, and no payload: the server
	// must refuse on the length alone, before reading (or buffering) any of
	// it. Sending the payload too would race the server's close.
	header := []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4}
	if _, err := conn.UnderlyingConn().Write(header); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err = conn.ReadMessage()
		if err != nil {
			break
		}
	}
	var ce *fws.CloseError
	if !errors.As(err, &ce) || ce.Code != fws.CloseMessageTooBig {
		t.Errorf("after the header of a 1 MiB message: %v, want close 1009", err)
	}
}

// One address holds at most SocketsPerAddress sockets; a socket that ends
// gives its place back. Of three sockets opened at once, one is refused:
// with 429 before the upgrade, or with 1008 right after it when the three
// passed the check before any was counted (then it may be any of them).
func TestSocketsPerAddressAreBounded(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *Config) { c.SocketsPerAddress = 2 })
	base := ts.serve()
	var open []*fws.Conn
	refused := 0
	for i := 0; i < 3; i++ {
		conn, resp, err := dialAdminSocket(t, base, ts.admin)
		switch {
		case err == nil:
			open = append(open, conn)
		case resp != nil && resp.StatusCode == http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("socket %d: %v", i+1, err)
		}
	}
	var kept []*fws.Conn
	for _, conn := range open {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _, err := conn.ReadMessage()
		var ce *fws.CloseError
		switch {
		case errors.As(err, &ce) && ce.Code == fws.ClosePolicyViolation:
			refused++
			conn.Close()
		case errors.Is(err, os.ErrDeadlineExceeded):
			kept = append(kept, conn) // open and quiet, as it should be
		default:
			t.Fatalf("an open socket read %v", err)
		}
	}
	if refused != 1 || len(kept) != 2 {
		t.Fatalf("three sockets with room for two: %d refused, %d kept", refused, len(kept))
	}
	kept[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, _, err := dialAdminSocket(t, base, ts.admin)
		if err == nil {
			conn.SetReadDeadline(time.Now().Add(time.Second))
			_, _, rerr := conn.ReadMessage()
			conn.Close()
			if errors.Is(rerr, os.ErrDeadlineExceeded) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed socket did not give its place back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	kept[1].Close()
}

// Label values outlive the request: mixed methods on reused connections
// must leave /metrics servable, with each method counted under its name.
func TestMetricsAfterMixedMethods(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	base := ts.serve()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	for i := 0; i < 50; i++ {
		for _, m := range []string{"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"} {
			req, _ := http.NewRequest(m, base+"/api/v1/products/"+strings.Repeat("x", i%7), strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics after mixed methods = %d: %.300s", resp.StatusCode, body)
	}
	for _, m := range []string{`method="GET"`, `method="POST"`, `method="DELETE"`} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if strings.Contains(string(body), `method="POS"`) || strings.Contains(string(body), `/api/v1/products/x`) {
		t.Errorf("/metrics has a torn method or a raw path as a label")
	}
}

// recordingOrders counts what reaches ordering.
type recordingOrders struct {
	Orders
	calls atomic.Int64
}

func (r *recordingOrders) Approve(context.Context, string, string, string) (domain.Order, error) {
	r.calls.Add(1)
	return domain.Order{}, domain.ErrOrderNotFound
}

func (r *recordingOrders) Abort(context.Context, string, domain.Reason, string) (domain.Order, error) {
	r.calls.Add(1)
	return domain.Order{}, domain.ErrOrderNotFound
}

type signedBy string

func (k signedBy) Valid(orderID, nonce string) bool { return nonce == string(k)+orderID }

// A forged callback is refused in memory: ordering (and so any grain or
// query) never hears of it; a genuine one goes through.
func TestForgedCallbacksNeverReachOrdering(t *testing.T) {
	t.Parallel()
	orders := &recordingOrders{}
	srv, err := New(Config{JWTSecret: testSecret, BcryptCost: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Deps{Orders: orders, Callbacks: signedBy("k:")})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/api/v1/payments/kakao/approve?order_id=o123&nonce=guess&pg_token=x",
		"/api/v1/payments/kakao/cancel?order_id=o123&nonce=guess",
		"/api/v1/payments/kakao/fail?order_id=o124&nonce=k:o123",
		"/api/v1/payments/kakao/approve?order_id=" + strings.Repeat("o", 41) + "&nonce=k:&pg_token=x",
	} {
		resp, err := srv.App().Test(httptest.NewRequest("GET", path, nil), 5000)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s = %d, want 403 or 400", path, resp.StatusCode)
		}
	}
	if n := orders.calls.Load(); n != 0 {
		t.Fatalf("forged callbacks reached ordering %d times", n)
	}
	resp, err := srv.App().Test(httptest.NewRequest("GET", "/api/v1/payments/kakao/approve?order_id=o123&nonce=k:o123&pg_token=x", nil), 5000)
	if err != nil {
		t.Fatal(err)
	}
	if orders.calls.Load() != 1 || resp.StatusCode != http.StatusNotFound {
		t.Errorf("a genuine callback: status %d, %d calls; want it passed to ordering", resp.StatusCode, orders.calls.Load())
	}
}

// Bad input that once went through is refused with a clear code.
func TestHostileInputIsRefused(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	line := `{"product_id":1,"quantity":99}`
	for _, tc := range []struct {
		name, method, path, token, ctype, body string
		status                                 int
		code                                   string
	}{
		{"form body", "POST", "/api/v1/auth/login", "", "application/x-www-form-urlencoded", "email=a%40b.test&password=x", 415, "unsupported_media_type"},
		{"text/plain body", "POST", "/api/v1/auth/signup", "", "text/plain", `{"email":"x@y.test","password":"long-password-1","name":"X"}`, 415, "unsupported_media_type"},
		{"price past the bound", "POST", "/api/v1/admin/products", ts.admin, "application/json", `{"sku":"BIG","name":"Big","category":"C","price":4611686018427387905}`, 400, "validation_failed"},
		{"radius 1e308", "POST", "/api/v1/admin/warehouses", ts.admin, "application/json", `{"name":"Far","region":"R","lat":37.5,"lng":127,"radius_km":1e308}`, 400, "validation_failed"},
		{"expiry in year 9999", "POST", "/api/v1/admin/lots", ts.admin, "application/json", `{"product_id":1,"warehouse_id":1,"quantity":5,"expires_at":"9999-01-01T00:00:00Z"}`, 400, "validation_failed"},
		{"99-unit lines merged past 99", "POST", "/api/v1/orders", ts.shopper, "application/json", `{"items":[` + line + `,` + line + `,` + line + `]}`, 400, "validation_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := ts.srv.App().Test(req, 5000)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || errorCode(t, body) != tc.code {
				t.Errorf("%s = %d %s, want %d %s", tc.name, resp.StatusCode, body, tc.status, tc.code)
			}
		})
	}
}

// Every answer carries the headers that keep a browser from sniffing,
// framing or leaking the URL; a token in the query counts only for a
// WebSocket upgrade.
func TestSecurityHeadersAndQueryTokens(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	resp, err := ts.srv.App().Test(httptest.NewRequest("GET", "/api/v1/me?token="+url.QueryEscape(ts.shopper), nil), 5000)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /me with ?token= = %d, want 401", resp.StatusCode)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

// A request that runs out of time is 503 with Retry-After, not 500.
func TestDeadlineIsUnavailable(t *testing.T) {
	t.Parallel()
	ae := toError(fmt.Errorf("place order: %w", context.DeadlineExceeded))
	if ae.Status != http.StatusServiceUnavailable || ae.Code != "unavailable" {
		t.Errorf("deadline = %+v, want 503 unavailable", ae)
	}
}

// countingUsers counts reads of users by id.
type countingUsers struct {
	Users
	byID atomic.Int64
}

func (c *countingUsers) UserByID(ctx context.Context, id int64) (domain.User, error) {
	c.byID.Add(1)
	return c.Users.UserByID(ctx, id)
}

// A shopper's first requests after signing in read no user row: the login's
// read serves the token check and the address alike.
func TestLoginServesTheFirstRequests(t *testing.T) {
	t.Parallel()
	store := mysqltest.New(t)
	users := &countingUsers{Users: store}
	srv, err := New(Config{JWTSecret: testSecret, BcryptCost: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Deps{Users: users, Catalog: store, Orders: placingOrders{}})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, srv: srv}
	ts.mustDo("POST", "/api/v1/auth/signup", "", `{"email":"park@shop.test","password":"park-password-1","name":"Park","address":{"label":"잠실","lat":37.5133,"lng":127.1001}}`, 201)
	tok := ts.login("park@shop.test", "park-password-1")
	before := users.byID.Load()
	// The order needs the token checked and the shopper's address.
	ts.mustDo("POST", "/api/v1/orders", tok, `{"items":[{"product_id":1,"quantity":1}]}`, 201)
	if n := users.byID.Load() - before; n != 0 {
		t.Errorf("the first requests after login read the user %d times, want 0", n)
	}
}

// placingOrders places every order it is given, near the address it gets.
type placingOrders struct{ Orders }

func (placingOrders) Place(_ context.Context, userID int64, addr domain.Point, items []domain.OrderItem, _ bool) (domain.Order, error) {
	if addr.Lat == 0 || len(items) != 1 {
		return domain.Order{}, domain.ErrEmptyOrder
	}
	return domain.Order{ID: "o1", UserID: userID, Address: addr, Status: domain.StatusPaymentReady}, nil
}

// Dependency faults answer 503 with their code: Redis away is
// cart_unavailable, MySQL away (which the store marks unavailable) is
// unavailable.
func TestDependencyFaultsAreUnavailableWithACode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("read cart: dial tcp: connection refused: %w", domain.ErrCartUnavailable), "cart_unavailable"},
		{fmt.Errorf("create order: invalid connection: %w", domain.ErrUnavailable), "unavailable"},
	} {
		if ae := toError(tc.err); ae.Status != http.StatusServiceUnavailable || ae.Code != tc.code {
			t.Errorf("%v = %+v, want 503 %s", tc.err, ae, tc.code)
		}
	}
}
