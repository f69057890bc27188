package loadtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestClientSendsJSONAndReadsTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Quantity int }
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/api/v1/orders":
			http.Error(w, "wrong route "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		case r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Accept") != "application/json" ||
			r.Header.Get("Content-Type") != "application/json":
			http.Error(w, "headers", http.StatusBadRequest)
		case json.NewDecoder(r.Body).Decode(&in) != nil || in.Quantity == 0:
			http.Error(w, "body", http.StatusBadRequest)
		case in.Quantity > 1:
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error":{"code":"sold_out","message":"1 left"}}`))
		default:
			w.Write([]byte(`{"order_id":"o-1","status":"PAYMENT_PENDING"}`))
		}
	}))
	defer srv.Close()
	c := NewClient([]string{srv.URL}, 4)
	ctx := context.Background()

	var out struct {
		OrderID string `json:"order_id"`
		Status  string
	}
	if err := c.Do(ctx, "POST", c.Target()+"/api/v1/orders", "tok", map[string]int{"quantity": 1}, &out); err != nil {
		t.Fatal(err)
	}
	if out.OrderID != "o-1" || out.Status != "PAYMENT_PENDING" {
		t.Fatalf("decoded %+v", out)
	}
	err := c.Do(ctx, "POST", c.Target()+"/api/v1/orders", "tok", map[string]int{"quantity": 2}, &out)
	if Code(err) != "sold_out" {
		t.Fatalf("a 409 sold_out answer: %v (code %q)", err, Code(err))
	}
	if ae, ok := err.(*APIError); !ok || ae.Status != http.StatusConflict || ae.Body == "" {
		t.Fatalf("the API error keeps status and body: %#v", err)
	}
	err = c.Do(ctx, "GET", c.Target()+"/nowhere", "tok", nil, nil)
	if Code(err) != "http_404" {
		t.Fatalf("an answer without a code is named by its status: %v (code %q)", err, Code(err))
	}
}

func TestClientReadsRedirectsWithoutFollowingThem(t *testing.T) {
	const loc = "http://127.0.0.1:1/api/v1/payments/kakao/approve?order_id=o%2F1&nonce=n&pg_token=t"
	followed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/pay/tid-1/approve":
			if r.Method != http.MethodPost {
				http.Error(w, "method", http.StatusMethodNotAllowed)
				return
			}
			http.Redirect(w, r, loc, http.StatusFound)
		case "/forged":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/elsewhere":
			followed = true
		default:
			http.Error(w, "no", http.StatusForbidden)
		}
	}))
	defer srv.Close()
	c := NewClient([]string{srv.URL}, 4)
	ctx := context.Background()

	got, err := c.PressButton(ctx, srv.URL+"/pay/tid-1", "approve")
	if err != nil || got != loc {
		t.Fatalf("PressButton = %q, %v; want %q", got, err, loc)
	}
	if _, err := c.PressButton(ctx, srv.URL+"/pay/tid-1", "decline"); Code(err) != "http_403" {
		t.Fatalf("a page that does not redirect: %v", err)
	}
	if st, err := c.Status(ctx, srv.URL+"/forged"); err != nil || st != http.StatusFound || followed {
		t.Fatalf("Status = %d, %v, followed %v; want 302 unfollowed", st, err, followed)
	}
	if st, err := c.Status(ctx, srv.URL+"/x?order_id=a"); err != nil || st != http.StatusForbidden {
		t.Fatalf("Status = %d, %v; want 403", st, err)
	}
}

func TestClientRequestEndsAtTheContextDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	c := NewClient([]string{srv.URL}, 4)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := c.Do(ctx, "GET", srv.URL+"/slow", "", nil, nil)
	if Code(err) != "timeout" {
		t.Fatalf("a request past its deadline: %v (code %q)", err, Code(err))
	}
	if took := time.Since(t0); took > 10*time.Second {
		t.Fatalf("the request outlived its context by far: %v", took)
	}
	if err := c.Do(ctx, "GET", srv.URL+"/slow", "", nil, nil); Code(err) != "timeout" {
		t.Fatalf("a request on an ended context: %v", err)
	}
}
