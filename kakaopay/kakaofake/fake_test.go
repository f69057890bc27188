package kakaofake_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
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
