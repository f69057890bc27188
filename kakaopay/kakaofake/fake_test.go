package kakaofake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"shelflife/kakaopay"
	"shelflife/kakaopay/kakaofake"
)

func setup(t *testing.T, timeout time.Duration) (*kakaofake.Server, *kakaopay.Client) {
	t.Helper()
	fake := kakaofake.New(15 * time.Minute)
	base, stop, err := fake.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	c, err := kakaopay.New(kakaopay.Config{BaseURL: base, SecretKey: "DEV-test", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

// scan plays the shopper pressing "pay" on the QR page; it returns the
// pg_token from the redirect to approval_url.
func scan(t *testing.T, pcURL string) string {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Post(pcURL+"/approve", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("approve button: %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query().Get("pg_token")
}

func ready(t *testing.T, c *kakaopay.Client, order string, amount int64) kakaopay.ReadyResponse {
	t.Helper()
	r, err := c.Ready(context.Background(), kakaopay.ReadyRequest{PartnerOrderID: order, PartnerUserID: "u1", ItemName: "우유 외 1건",
		Quantity: 2, TotalAmount: amount, ApprovalURL: "http://shop.test/approve?order_id=" + order,
		CancelURL: "http://shop.test/cancel", FailURL: "http://shop.test/fail"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPaymentLifecycle(t *testing.T) {
	fake, c := setup(t, 2*time.Second)
	ctx := context.Background()
	r := ready(t, c, "o1", 5000)
	if r.TID == "" || r.NextRedirectPCURL == "" {
		t.Fatalf("ready = %+v", r)
	}
	if _, err := c.Approve(ctx, kakaopay.ApproveRequest{TID: r.TID, PartnerOrderID: "o1", PartnerUserID: "u1", PGToken: "guess"}); !kakaopay.IsCode(err, kakaopay.CodeBadPGToken) {
		t.Errorf("approve before the scan = %v, want -708", err)
	}
	tok := scan(t, r.NextRedirectPCURL)
	ok, err := c.Approve(ctx, kakaopay.ApproveRequest{TID: r.TID, PartnerOrderID: "o1", PartnerUserID: "u1", PGToken: tok})
	if err != nil || ok.Amount.Total != 5000 {
		t.Fatalf("approve = %+v, %v", ok, err)
	}
	if _, err := c.Approve(ctx, kakaopay.ApproveRequest{TID: r.TID, PartnerOrderID: "o1", PartnerUserID: "u1", PGToken: tok}); !kakaopay.IsCode(err, kakaopay.CodeAlreadyApproved) {
		t.Errorf("second approve = %v, want -702", err)
	}
	if _, err := c.Order(ctx, "T-nope"); !kakaopay.IsCode(err, kakaopay.CodeUnknownTID) {
		t.Errorf("status of unknown tid = %v, want -721", err)
	}
	if l := fake.Ledger(); l.Taken != 5000 || l.Refunded != 0 {
		t.Errorf("ledger = %+v", l)
	}
	cr, err := c.Cancel(ctx, r.TID, 5000)
	if err != nil || cr.Status != kakaopay.StatusCanceled {
		t.Errorf("cancel = %+v, %v", cr, err)
	}
	if l := fake.Ledger(); l.Refunded != 5000 {
		t.Errorf("refunded %d, want 5000", l.Refunded)
	}
}

func TestInjectedFailures(t *testing.T) {
	fake, c := setup(t, 300*time.Millisecond)
	ctx := context.Background()
	fake.Inject("declined", kakaofake.Injection{Mode: kakaofake.Decline})
	fake.Inject("lost", kakaofake.Injection{Mode: kakaofake.TimeoutAfterApprove})

	r := ready(t, c, "declined", 1000)
	_, err := c.Approve(ctx, kakaopay.ApproveRequest{TID: r.TID, PartnerOrderID: "declined", PartnerUserID: "u1", PGToken: scan(t, r.NextRedirectPCURL)})
	var ke *kakaopay.Error
	if !errors.As(err, &ke) || ke.Code != kakaopay.CodeApprovalFailure || ke.Message == "" {
		t.Errorf("declined approve = %v, want a typed -780", err)
	}

	r = ready(t, c, "lost", 2000)
	_, err = c.Approve(ctx, kakaopay.ApproveRequest{TID: r.TID, PartnerOrderID: "lost", PartnerUserID: "u1", PGToken: scan(t, r.NextRedirectPCURL)})
	if !errors.Is(err, kakaopay.ErrUnknownOutcome) {
		t.Fatalf("approve that times out = %v, want ErrUnknownOutcome", err)
	}
	st, err := c.Order(ctx, r.TID)
	if err != nil || st.Status != kakaopay.StatusSuccess {
		t.Errorf("status after the lost answer = %+v, %v; the money was taken", st, err)
	}
	if l := fake.Ledger(); l.Taken != 2000 {
		t.Errorf("taken %d, want 2000", l.Taken)
	}
}

// rawPost calls the fake without the client, to see its answers as sent.
func rawPost(t *testing.T, base, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "SECRET_KEY DEV-test")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

var kakaoLocalTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`)

// The fake answers as Kakao Pay documents it: Korean times without a zone,
// null for what has not happened, the whole amount object, documented
// errors with HTTP 400 and, for -780, the method's result in extras.
func TestAnswersInDocumentedShapes(t *testing.T) {
	fake := kakaofake.New(15 * time.Minute)
	base, stop, err := fake.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	readyBody := `{"cid":"TC0ONETIME","partner_order_id":"%s","partner_user_id":"u1","item_name":"우유","quantity":1,"total_amount":2200,"tax_free_amount":0,"approval_url":"http://shop.test/a","cancel_url":"http://shop.test/c","fail_url":"http://shop.test/f"}`
	status, ready := rawPost(t, base, "/online/v1/payment/ready", fmt.Sprintf(readyBody, "o1"))
	if status != 200 || !kakaoLocalTime.MatchString(fmt.Sprint(ready["created_at"])) {
		t.Fatalf("ready = %d %v; want created_at in Korean time without a zone", status, ready)
	}
	tid := ready["tid"].(string)
	_, order := rawPost(t, base, "/online/v1/payment/order", `{"cid":"TC0ONETIME","tid":"`+tid+`"}`)
	if order["approved_at"] != nil || order["canceled_at"] != nil || order["payment_method_type"] != nil || order["status"] != kakaopay.StatusReady {
		t.Errorf("order before approval = %v; want null times and method", order)
	}
	pc := ready["next_redirect_pc_url"].(string)
	status, approved := rawPost(t, base, "/online/v1/payment/approve",
		`{"cid":"TC0ONETIME","tid":"`+tid+`","partner_order_id":"o1","partner_user_id":"u1","pg_token":"`+scan(t, pc)+`"}`)
	if status != 200 || !kakaoLocalTime.MatchString(fmt.Sprint(approved["approved_at"])) {
		t.Fatalf("approve = %d %v", status, approved)
	}
	amount, _ := approved["amount"].(map[string]any)
	for _, k := range []string{"total", "tax_free", "vat", "point", "discount", "green_deposit"} {
		if _, ok := amount[k]; !ok {
			t.Errorf("approve amount lacks %s: %v", k, amount)
		}
	}
	if amount["vat"] != float64(200) {
		t.Errorf("vat of 2200 = %v, want 200", amount["vat"])
	}
	for _, k := range []string{"item_code", "payload", "card_info"} {
		if _, ok := approved[k]; !ok {
			t.Errorf("approve answer lacks %s", k)
		}
	}
	_, order = rawPost(t, base, "/online/v1/payment/order", `{"cid":"TC0ONETIME","tid":"`+tid+`"}`)
	details, _ := order["payment_action_details"].([]any)
	if len(details) != 1 || !kakaoLocalTime.MatchString(fmt.Sprint(order["approved_at"])) {
		t.Errorf("order after approval = %v", order)
	}
	_, cancel := rawPost(t, base, "/online/v1/payment/cancel", `{"cid":"TC0ONETIME","tid":"`+tid+`","cancel_amount":1000,"cancel_tax_free_amount":0}`)
	if cancel["status"] != kakaopay.StatusPartCanceled || !kakaoLocalTime.MatchString(fmt.Sprint(cancel["canceled_at"])) {
		t.Errorf("part cancel = %v", cancel)
	}

	fake.Inject("o2", kakaofake.Injection{Mode: kakaofake.Decline})
	_, ready = rawPost(t, base, "/online/v1/payment/ready", fmt.Sprintf(readyBody, "o2"))
	status, e := rawPost(t, base, "/online/v1/payment/approve",
		`{"cid":"TC0ONETIME","tid":"`+ready["tid"].(string)+`","partner_order_id":"o2","partner_user_id":"u1","pg_token":"`+scan(t, ready["next_redirect_pc_url"].(string))+`"}`)
	extras, _ := e["extras"].(map[string]any)
	if status != 400 || e["error_code"] != float64(kakaopay.CodeApprovalFailure) || extras["method_result_code"] == nil {
		t.Errorf("declined approve = %d %v; want 400, -780 and extras.method_result_code", status, e)
	}
	status, e = rawPost(t, base, "/online/v1/payment/order", `{"cid":"TC0ONETIME","tid":"T-none"}`)
	if status != 400 || e["error_code"] != float64(kakaopay.CodeUnknownTID) {
		t.Errorf("unknown tid = %d %v", status, e)
	}
}
