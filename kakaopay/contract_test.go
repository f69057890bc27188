package kakaopay_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"shelflife/kakaopay"
)

// answering serves one file of testdata (answers written by hand in the
// shapes of Kakao Pay's documentation) at path with status, and records
// what the client sent.
func answering(t *testing.T, path string, status int, file string, replace ...string) *kakaopay.Client {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer(replace...).Replace(string(body))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path || r.Method != http.MethodPost {
			t.Errorf("request %s %s, want POST %s", r.Method, r.URL.Path, path)
		}
		if got := r.Header.Get("Authorization"); got != "SECRET_KEY sk-test" {
			t.Errorf("Authorization = %q", got)
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(status)
		w.Write([]byte(text))
	}))
	t.Cleanup(srv.Close)
	c, err := kakaopay.New(kakaopay.Config{BaseURL: srv.URL, SecretKey: "sk-test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func kst(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sameInstant(t *testing.T, what string, got kakaopay.Time, want string) {
	t.Helper()
	if want == "" {
		if !got.IsZero() {
			t.Errorf("%s = %v, want none", what, got.Time)
		}
		return
	}
	if w := kst(t, want); !got.Equal(w) {
		t.Errorf("%s = %v, want %v", what, got.Time, w)
	}
}

func TestReadyDecodesDocumentedAnswer(t *testing.T) {
	c := answering(t, "/online/v1/payment/ready", 200, "ready.json")
	r, err := c.Ready(context.Background(), kakaopay.ReadyRequest{PartnerOrderID: "o", PartnerUserID: "1", ItemName: "x", Quantity: 1, TotalAmount: 2200})
	if err != nil {
		t.Fatal(err)
	}
	if r.TID != "T1234567890123456789" || !strings.HasSuffix(r.NextRedirectPCURL, "/info") || !strings.HasSuffix(r.NextRedirectMobileURL, "/mInfo") ||
		!strings.HasPrefix(r.AndroidAppScheme, "kakaotalk://") {
		t.Errorf("ready = %+v", r)
	}
	// 21:18:22 in Korea is 12:18:22 UTC.
	sameInstant(t, "created_at", r.CreatedAt, "2016-11-15T12:18:22Z")
}

func TestApproveDecodesDocumentedAnswers(t *testing.T) {
	for _, tc := range []struct {
		file, method   string
		amount         kakaopay.Amount
		createdAt, apt string
	}{
		{"approve_money.json", "MONEY", kakaopay.Amount{Total: 2200, VAT: 200}, "2016-11-15T21:18:22+09:00", "2016-11-15T21:20:47+09:00"},
		{"approve_card.json", "CARD", kakaopay.Amount{Total: 2200, VAT: 200, Point: 100, Discount: 50, GreenDeposit: 10}, "2016-11-15T21:18:22+09:00", "2016-11-15T21:20:47+09:00"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := answering(t, "/online/v1/payment/approve", 200, tc.file)
			r, err := c.Approve(context.Background(), kakaopay.ApproveRequest{TID: "T1", PartnerOrderID: "o", PartnerUserID: "1", PGToken: "pg"})
			if err != nil {
				t.Fatal(err)
			}
			if r.AID == "" || r.TID == "" || r.CID != kakaopay.TestCID || r.PaymentMethodType != tc.method || r.Quantity != 1 || r.ItemName != "초코파이" {
				t.Errorf("approve = %+v", r)
			}
			if r.Amount != tc.amount {
				t.Errorf("amount = %+v, want %+v", r.Amount, tc.amount)
			}
			sameInstant(t, "created_at", r.CreatedAt, tc.createdAt)
			sameInstant(t, "approved_at", r.ApprovedAt, tc.apt)
		})
	}
}

// Every documented status decodes and maps to what it means for the money.
func TestOrderStatusEveryDocumentedStatus(t *testing.T) {
	for _, tc := range []struct {
		status, file string
		want         kakaopay.Outcome
		approvedAt   string
		canceledAt   string
		actions      int
	}{
		{kakaopay.StatusReady, "order_ready.json", kakaopay.OutcomePending, "", "", 0},
		{kakaopay.StatusSendTMS, "order_ready.json", kakaopay.OutcomePending, "", "", 0},
		{kakaopay.StatusOpenPayment, "order_ready.json", kakaopay.OutcomePending, "", "", 0},
		{kakaopay.StatusSelectMethod, "order_ready.json", kakaopay.OutcomePending, "", "", 0},
		{kakaopay.StatusARSWaiting, "order_ready.json", kakaopay.OutcomePending, "", "", 0},
		{kakaopay.StatusAuthPassword, "order_ready.json", kakaopay.OutcomePending, "", "", 0},
		{kakaopay.StatusIssuedSID, "order_ready.json", kakaopay.OutcomePending, "", "", 0},
		{kakaopay.StatusSuccess, "order_success_payment.json", kakaopay.OutcomeTaken, "2016-11-15T21:20:48+09:00", "", 1},
		{kakaopay.StatusPartCanceled, "order_part_cancel_payment.json", kakaopay.OutcomeTaken, "2016-11-15T21:20:48+09:00", "2016-11-15T21:30:12+09:00", 2},
		{kakaopay.StatusCanceled, "order_cancel_payment.json", kakaopay.OutcomeNotTaken, "2016-11-15T21:20:48+09:00", "2016-11-15T21:35:01+09:00", 2},
		{kakaopay.StatusFailAuthPassword, "order_fail_payment.json", kakaopay.OutcomeNotTaken, "", "", 0},
		{kakaopay.StatusQuit, "order_fail_payment.json", kakaopay.OutcomeNotTaken, "", "", 0},
		{kakaopay.StatusFail, "order_fail_payment.json", kakaopay.OutcomeNotTaken, "", "", 0},
	} {
		t.Run(tc.status, func(t *testing.T) {
			// Files are written for one status each; the statuses that share
			// a shape are served with their own name in it.
			shape := map[string]string{"order_ready.json": "READY", "order_fail_payment.json": "FAIL_PAYMENT"}[tc.file]
			var repl []string
			if shape != "" {
				repl = []string{`"status": "` + shape + `"`, `"status": "` + tc.status + `"`}
			}
			c := answering(t, "/online/v1/payment/order", 200, tc.file, repl...)
			r, err := c.Order(context.Background(), "T1234567890123456789")
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.status || r.TID != "T1234567890123456789" || r.Amount.Total != 2200 || r.Amount.VAT != 200 {
				t.Errorf("order = %+v", r)
			}
			if got := r.Outcome(); got != tc.want {
				t.Errorf("outcome of %s = %v, want %v", tc.status, got, tc.want)
			}
			sameInstant(t, "created_at", r.CreatedAt, "2016-11-15T21:18:22+09:00")
			sameInstant(t, "approved_at", r.ApprovedAt, tc.approvedAt)
			sameInstant(t, "canceled_at", r.CanceledAt, tc.canceledAt)
			if len(r.PaymentActionDetails) != tc.actions {
				t.Errorf("payment_action_details = %+v, want %d", r.PaymentActionDetails, tc.actions)
			}
		})
	}
	if got := kakaopay.OutcomeOf("SOMETHING_NEW"); got != kakaopay.OutcomeUnknown {
		t.Errorf("an undocumented status = %v, want unknown", got)
	}
}

func TestOrderStatusAmountsAndActions(t *testing.T) {
	c := answering(t, "/online/v1/payment/order", 200, "order_part_cancel_payment.json")
	r, err := c.Order(context.Background(), "T1")
	if err != nil {
		t.Fatal(err)
	}
	if r.CanceledAmount.Total != 1100 || r.CancelAvailableAmount.Total != 1100 || r.Quantity != 2 {
		t.Errorf("amounts = canceled %+v available %+v", r.CanceledAmount, r.CancelAvailableAmount)
	}
	a := r.PaymentActionDetails
	if a[0].PaymentActionType != "PAYMENT" || a[0].Amount != 2200 || a[1].PaymentActionType != "CANCEL" || a[1].Amount != -1100 {
		t.Errorf("actions = %+v", a)
	}
	sameInstant(t, "cancel approved_at", a[1].ApprovedAt, "2016-11-15T21:30:12+09:00")
}

func TestCancelDecodesDocumentedAnswer(t *testing.T) {
	c := answering(t, "/online/v1/payment/cancel", 200, "cancel.json")
	r, err := c.Cancel(context.Background(), "T1", 2200)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != kakaopay.StatusCanceled || r.ApprovedCancelAmount.Total != 2200 || r.CanceledAmount.Total != 2200 ||
		r.CancelAvailableAmount.Total != 0 || r.AID == "" {
		t.Errorf("cancel = %+v", r)
	}
	sameInstant(t, "canceled_at", r.CanceledAt, "2016-11-15T21:35:01+09:00")
}

func TestDocumentedErrors(t *testing.T) {
	for _, tc := range []struct {
		code       int
		method     string
		methodText string
	}{
		{kakaopay.CodeAlreadyApproved, "", ""},
		{kakaopay.CodeBadPGToken, "", ""},
		{kakaopay.CodeUnknownTID, "", ""},
		{kakaopay.CodeExpired, "", ""},
		{kakaopay.CodeApprovalFailure, "USER_LOCKED", "진행중인 거래가 있습니다. 잠시 후 다시 시도해 주세요."},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			c := answering(t, "/online/v1/payment/approve", 400, "error_"+strconv.Itoa(tc.code)+".json")
			_, err := c.Approve(context.Background(), kakaopay.ApproveRequest{TID: "T1", PartnerOrderID: "o", PartnerUserID: "1", PGToken: "pg"})
			var ke *kakaopay.Error
			if !errors.As(err, &ke) {
				t.Fatalf("error = %v, want *kakaopay.Error", err)
			}
			if ke.Code != tc.code || ke.HTTPStatus != 400 || ke.Message == "" || !kakaopay.IsCode(err, tc.code) {
				t.Errorf("error = %+v", ke)
			}
			if errors.Is(err, kakaopay.ErrUnknownOutcome) {
				t.Errorf("a documented error is a known outcome, got %v", err)
			}
			if ke.MethodResultCode() != tc.method || ke.MethodResultMessage() != tc.methodText {
				t.Errorf("method result = %q %q, want %q %q", ke.MethodResultCode(), ke.MethodResultMessage(), tc.method, tc.methodText)
			}
		})
	}
}

func TestTimeReadsBothForms(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"2016-11-15T21:18:22"`, "2016-11-15T12:18:22Z"},
		{`"2016-11-15T21:18:22.123"`, "2016-11-15T12:18:22.123Z"},
		{`"2016-11-15T21:18:22+09:00"`, "2016-11-15T12:18:22Z"},
		{`"2016-11-15T12:18:22Z"`, "2016-11-15T12:18:22Z"},
		{`null`, ""},
		{`""`, ""},
	} {
		var got kakaopay.Time
		if err := got.UnmarshalJSON([]byte(tc.in)); err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if tc.want == "" {
			if !got.IsZero() {
				t.Errorf("%s = %v, want zero", tc.in, got.Time)
			}
			continue
		}
		want, _ := time.Parse(time.RFC3339Nano, tc.want)
		if !got.Equal(want) {
			t.Errorf("%s = %v, want %v", tc.in, got.Time, want)
		}
	}
	for _, bad := range []string{`"15/11/2016"`, `12345`, `"2016-11-15 21:18:22"`} {
		var got kakaopay.Time
		if err := got.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("%s accepted as %v", bad, got.Time)
		}
	}
	out, _ := kakaopay.Time{Time: time.Date(2016, 11, 15, 12, 18, 22, 0, time.UTC)}.MarshalJSON()
	if string(out) != `"2016-11-15T21:18:22"` {
		t.Errorf("marshal = %s, want Korean time without a zone", out)
	}
}
