// Package kakaofake is a stand-in for Kakao Pay's single-payment API for
// tests, demos and load tests. It follows the same paths and fields, shows a
// QR page whose buttons play the payer's phone, keeps a ledger of money
// taken and refunded, and can be told to fail: decline, time out after
// approving, or answer slowly.
package kakaofake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"shelflife/kakaopay"
)

// Failure modes.
const (
	Decline             = "decline"
	TimeoutAfterApprove = "timeout_after_approve"
	Slow                = "slow"
	// RefuseReady answers the ready call with a Kakao Pay error, as for a
	// merchant that may not take payments.
	RefuseReady = "refuse_ready"
)

// Injection makes one payment (by partner_order_id) fail or slow down.
type Injection struct {
	Mode    string `json:"mode"`
	DelayMS int    `json:"delay_ms"`
}

// Payment is one payment as the fake keeps it.
type Payment struct {
	TID            string    `json:"tid"`
	CID            string    `json:"cid"`
	PartnerOrderID string    `json:"partner_order_id"`
	PartnerUserID  string    `json:"partner_user_id"`
	ItemName       string    `json:"item_name"`
	Quantity       int64     `json:"quantity"`
	Amount         int64     `json:"amount"`
	Canceled       int64     `json:"canceled"`
	Status         string    `json:"status"`
	Approvals      int       `json:"approvals"` // successful approvals: more than 1 would be a double charge
	CreatedAt      time.Time `json:"created_at"`
	ApprovedAt     time.Time `json:"approved_at,omitzero"`
	CanceledAt     time.Time `json:"canceled_at,omitzero"`

	taxFree                         int64
	aid                             string
	actions                         []action
	approvalURL, cancelURL, failURL string
	pgToken                         string
	injection                       Injection
}

// action is one approval or cancel, for payment_action_details.
type action struct {
	aid    string
	at     time.Time
	amount int64
	kind   string // PAYMENT or CANCEL
}

// Ledger is the money the fake has taken and given back.
type Ledger struct {
	Payments []Payment `json:"payments"`
	Taken    int64     `json:"taken"`
	Refunded int64     `json:"refunded"`
}

// Server is the fake Kakao Pay.
type Server struct {
	mu          sync.Mutex
	payments    map[string]*Payment
	injections  map[string]Injection
	declineRate float64
	validity    time.Duration
	now         func() time.Time
	base        string
	hold        time.Duration
}

// New makes a fake whose payments stay approvable for validity.
func New(validity time.Duration) *Server {
	if validity <= 0 {
		validity = 15 * time.Minute
	}
	return &Server{payments: map[string]*Payment{}, injections: map[string]Injection{}, validity: validity, now: time.Now, hold: 30 * time.Second}
}

// SetBaseURL tells the fake its own address, for the redirect URLs it hands out.
func (s *Server) SetBaseURL(u string) { s.mu.Lock(); s.base = strings.TrimRight(u, "/"); s.mu.Unlock() }

// Inject sets a failure for the payment of partnerOrderID ("*" for all).
func (s *Server) Inject(partnerOrderID string, in Injection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.injections[partnerOrderID] = in
}

// SetDeclineRate declines that fraction of approvals at random.
func (s *Server) SetDeclineRate(r float64) { s.mu.Lock(); s.declineRate = r; s.mu.Unlock() }

// Ledger copies the payments and the money totals.
func (s *Server) Ledger() Ledger {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l Ledger
	for _, p := range s.payments {
		l.Payments = append(l.Payments, *p)
		if p.Status == kakaopay.StatusSuccess || p.Status == kakaopay.StatusPartCanceled || p.Status == kakaopay.StatusCanceled {
			l.Taken += p.Amount
		}
		l.Refunded += p.Canceled
	}
	return l
}

// Payment reads one payment by partner_order_id.
func (s *Server) Payment(partnerOrderID string) (Payment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.payments {
		if p.PartnerOrderID == partnerOrderID {
			return *p, true
		}
	}
	return Payment{}, false
}

// Listen serves the fake on addr (127.0.0.1:0 for any port) and returns its
// base URL and a stop function.
func (s *Server) Listen(addr string) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	base := "http://" + ln.Addr().String()
	s.SetBaseURL(base)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return base, func() { srv.Close() }, nil
}

// Handler serves the API, the QR pages and the control endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /online/v1/payment/ready", s.authed(s.ready))
	mux.HandleFunc("POST /online/v1/payment/approve", s.authed(s.approve))
	mux.HandleFunc("POST /online/v1/payment/order", s.authed(s.order))
	mux.HandleFunc("POST /online/v1/payment/cancel", s.authed(s.cancel))
	mux.HandleFunc("GET /online/v1/payment/qr/{tid}", s.qrPage)
	mux.HandleFunc("POST /online/v1/payment/qr/{tid}/{action}", s.phone)
	mux.HandleFunc("POST /fake/v1/inject", s.injectHandler)
	mux.HandleFunc("GET /fake/v1/ledger", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Ledger()) })
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers a Kakao Pay error: HTTP 400 (401 for a missing key) with
// error_code, error_message and, for -780, the payment method's own
// result in extras. The method result codes are the fake's own words.
func fail(w http.ResponseWriter, status, code int, msg string, extras ...string) {
	body := map[string]any{"error_code": code, "error_message": msg}
	if len(extras) == 2 {
		body["extras"] = map[string]any{"method_result_code": extras[0], "method_result_message": extras[1]}
	}
	writeJSON(w, status, body)
}

// kst writes a time as Kakao Pay does: Korean time without a zone, or null.
func kst(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.In(kakaopay.KST).Format("2006-01-02T15:04:05")
}

// amount is Kakao Pay's amount object for total KRW of which taxFree is
// free of tax: VAT is a tenth of the taxed price (1/11 of it with VAT).
func amount(total, taxFree int64) map[string]any {
	return map[string]any{"total": total, "tax_free": taxFree, "vat": (total - taxFree) / 11,
		"point": 0, "discount": 0, "green_deposit": 0}
}

// methodType is null until the payer chose how to pay.
func (p *Payment) methodType() any {
	if p.ApprovedAt.IsZero() {
		return nil
	}
	return "MONEY"
}

func (p *Payment) actionDetails() []map[string]any {
	out := make([]map[string]any, 0, len(p.actions))
	for _, a := range p.actions {
		out = append(out, map[string]any{"aid": a.aid, "approved_at": kst(a.at), "amount": a.amount,
			"point_amount": 0, "discount_amount": 0, "green_deposit": 0, "payment_action_type": a.kind, "payload": nil})
	}
	return out
}

func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "SECRET_KEY ") {
			fail(w, 401, -401, "Authorization: SECRET_KEY <key> is required")
			return
		}
		h(w, r)
	}
}

func newID(prefix string) string {
	var b [10]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	var req kakaopay.ReadyRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, 400, -2, "invalid request body")
		return
	}
	if req.CID == "" || req.PartnerOrderID == "" || req.PartnerUserID == "" || req.TotalAmount <= 0 ||
		req.ApprovalURL == "" || req.CancelURL == "" || req.FailURL == "" || req.ItemName == "" {
		fail(w, 400, -2, "cid, partner ids, item_name, total_amount and the three URLs are required")
		return
	}
	s.mu.Lock()
	p := &Payment{TID: newID("T"), CID: req.CID, PartnerOrderID: req.PartnerOrderID, PartnerUserID: req.PartnerUserID,
		ItemName: req.ItemName, Quantity: req.Quantity, Amount: req.TotalAmount, Status: kakaopay.StatusReady,
		CreatedAt: s.now(), taxFree: req.TaxFreeAmount, approvalURL: req.ApprovalURL, cancelURL: req.CancelURL, failURL: req.FailURL}
	if in, ok := s.injections[req.PartnerOrderID]; ok {
		p.injection = in
	} else if in, ok := s.injections["*"]; ok {
		p.injection = in
	}
	if p.injection.Mode == RefuseReady {
		s.mu.Unlock()
		fail(w, 400, -2, "the merchant may not start payments now (injected)")
		return
	}
	s.payments[p.TID] = p
	base := s.base
	s.mu.Unlock()
	pc := base + "/online/v1/payment/qr/" + p.TID
	writeJSON(w, 200, map[string]any{"tid": p.TID, "tms_result": false, "next_redirect_pc_url": pc,
		"next_redirect_mobile_url": pc + "?mobile=1", "next_redirect_app_url": pc + "?app=1",
		"android_app_scheme": "kakaotalk://kakaopay/pg?url=" + url.QueryEscape(pc),
		"ios_app_scheme":     "kakaotalk://kakaopay/pg?url=" + url.QueryEscape(pc), "created_at": kst(p.CreatedAt)})
}

// approvable finds the payment req approves, or the Kakao Pay error code
// and message that refuse it. Called with s.mu held.
func (s *Server) approvable(req kakaopay.ApproveRequest) (*Payment, int, string) {
	p, ok := s.payments[req.TID]
	switch {
	case !ok:
		return nil, kakaopay.CodeUnknownTID, "no payment with this tid"
	case p.PartnerOrderID != req.PartnerOrderID || p.PartnerUserID != req.PartnerUserID:
		return nil, kakaopay.CodeApprovalFailure, "partner_order_id or partner_user_id does not match the payment"
	case req.TotalAmount != 0 && req.TotalAmount != p.Amount:
		return nil, kakaopay.CodeApprovalFailure, "total_amount does not match the payment"
	case p.Status == kakaopay.StatusSuccess || p.Status == kakaopay.StatusPartCanceled || p.Status == kakaopay.StatusCanceled:
		return nil, kakaopay.CodeAlreadyApproved, "payment already approved"
	case p.Status != kakaopay.StatusReady:
		return nil, kakaopay.CodeApprovalFailure, "payment is " + p.Status
	case p.pgToken == "" || req.PGToken != p.pgToken:
		return nil, kakaopay.CodeBadPGToken, "invalid pg_token"
	case s.now().Sub(p.CreatedAt) > s.validity:
		p.Status = kakaopay.StatusFail
		return nil, kakaopay.CodeExpired, "payment request expired"
	}
	return p, 0, ""
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request) {
	var req kakaopay.ApproveRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, 400, -2, "invalid request body")
		return
	}
	s.mu.Lock()
	p, code, msg := s.approvable(req)
	if code != 0 {
		s.mu.Unlock()
		fail(w, 400, code, msg)
		return
	}
	in := p.injection
	if in.Mode == "" {
		// Injected after ready: look again by order.
		if got, ok := s.injections[p.PartnerOrderID]; ok {
			in = got
		}
	}
	decline := in.Mode == Decline
	if !decline && s.declineRate > 0 {
		n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
		decline = float64(n.Int64()) < s.declineRate*1_000_000
	}
	if decline {
		p.Status = kakaopay.StatusFail
		s.mu.Unlock()
		fail(w, 400, kakaopay.CodeApprovalFailure, "approval failure!", "PAYMENT_DECLINED", "결제가 거절되었습니다. The payment was declined.")
		return
	}
	p.Status = kakaopay.StatusSuccess
	p.Approvals++
	p.ApprovedAt = s.now()
	p.aid = newID("A")
	p.actions = append(p.actions, action{aid: p.aid, at: p.ApprovedAt, amount: p.Amount, kind: "PAYMENT"})
	resp := map[string]any{"aid": p.aid, "tid": p.TID, "cid": p.CID, "partner_order_id": p.PartnerOrderID,
		"partner_user_id": p.PartnerUserID, "payment_method_type": "MONEY", "amount": amount(p.Amount, p.taxFree),
		"card_info": nil, "sequential_payment_methods": nil, "item_name": p.ItemName, "item_code": "",
		"quantity": p.Quantity, "created_at": kst(p.CreatedAt), "approved_at": kst(p.ApprovedAt), "payload": ""}
	hold := s.hold
	s.mu.Unlock()
	switch in.Mode {
	case TimeoutAfterApprove:
		// The money is taken; the answer never comes in time.
		select {
		case <-r.Context().Done():
		case <-time.After(hold):
		}
		return
	case Slow:
		time.Sleep(time.Duration(in.DelayMS) * time.Millisecond)
	}
	writeJSON(w, 200, resp)
}

func (s *Server) order(w http.ResponseWriter, r *http.Request) {
	var req struct{ TID string }
	json.NewDecoder(r.Body).Decode(&req)
	s.mu.Lock()
	p, ok := s.payments[req.TID]
	var resp map[string]any
	if ok {
		resp = p.answer()
		resp["selected_card_info"] = nil
		resp["payment_action_details"] = p.actionDetails()
	}
	s.mu.Unlock()
	if !ok {
		fail(w, 400, kakaopay.CodeUnknownTID, "no payment with this tid")
		return
	}
	writeJSON(w, 200, resp)
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	var req kakaopay.CancelRequest
	json.NewDecoder(r.Body).Decode(&req)
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[req.TID]
	if !ok {
		fail(w, 400, kakaopay.CodeUnknownTID, "no payment with this tid")
		return
	}
	var refunded int64
	switch p.Status {
	case kakaopay.StatusSuccess, kakaopay.StatusPartCanceled:
		refunded = req.CancelAmount
		if refunded <= 0 || refunded > p.Amount-p.Canceled {
			refunded = p.Amount - p.Canceled
		}
		p.Canceled += refunded
		p.CanceledAt = s.now()
		p.actions = append(p.actions, action{aid: newID("A"), at: p.CanceledAt, amount: -refunded, kind: "CANCEL"})
		p.Status = kakaopay.StatusPartCanceled
		if p.Canceled >= p.Amount {
			p.Status = kakaopay.StatusCanceled
		}
	case kakaopay.StatusReady:
		p.Status = kakaopay.StatusQuit
		p.CanceledAt = s.now()
	}
	resp := p.answer()
	resp["aid"] = p.aid
	resp["approved_cancel_amount"] = amount(refunded, 0)
	resp["payload"] = nil
	writeJSON(w, 200, resp)
}

// answer is what the order status and cancel calls share.
func (p *Payment) answer() map[string]any {
	return map[string]any{"tid": p.TID, "cid": p.CID, "status": p.Status, "partner_order_id": p.PartnerOrderID,
		"partner_user_id": p.PartnerUserID, "payment_method_type": p.methodType(),
		"amount": amount(p.Amount, p.taxFree), "canceled_amount": amount(p.Canceled, 0),
		"cancel_available_amount": amount(p.cancelAvailable(), 0), "item_name": p.ItemName, "item_code": "",
		"quantity": p.Quantity, "created_at": kst(p.CreatedAt), "approved_at": kst(p.ApprovedAt),
		"canceled_at": kst(p.CanceledAt)}
}

func (p *Payment) cancelAvailable() int64 {
	if p.Status != kakaopay.StatusSuccess && p.Status != kakaopay.StatusPartCanceled {
		return 0
	}
	return p.Amount - p.Canceled
}

var qrTemplate = template.Must(template.New("qr").Parse(`<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>카카오페이 결제 (테스트) · Kakao Pay (test)</title>
<style>body{font-family:sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem;text-align:center}
.qr{display:grid;grid-template-columns:repeat(21,1fr);width:210px;height:210px;margin:1rem auto;border:8px solid #fff;outline:1px solid #ccc}
.qr i{display:block}.qr .b{background:#111}button{font-size:1rem;padding:.7rem 1.2rem;margin:.3rem;border-radius:.5rem;border:0;cursor:pointer}
.pay{background:#ffeb00}.cancel{background:#eee}.fail{background:#f88}</style></head>
<body><h1>카카오페이 <small>(테스트)</small></h1>
<p>{{.ItemName}} · <strong>{{.Amount}}원</strong></p>
<div class="qr" role="img" aria-label="QR code for payment {{.TID}}">{{range .Cells}}<i class="{{if .}}b{{end}}"></i>{{end}}</div>
<p>휴대폰으로 QR을 찍는 대신 아래 버튼을 누르세요. Press a button instead of scanning with a phone.</p>
<form method="post" action="{{.Base}}/approve"><button class="pay" id="approve" type="submit">결제하기 · Pay</button></form>
<form method="post" action="{{.Base}}/cancel"><button class="cancel" id="cancel" type="submit">취소 · Cancel</button></form>
<form method="post" action="{{.Base}}/fail"><button class="fail" id="fail" type="submit">실패 · Fail</button></form>
</body></html>`))

func (s *Server) qrPage(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tid")
	s.mu.Lock()
	p, ok := s.payments[tid]
	var data struct {
		TID, ItemName, Base string
		Amount              int64
		Cells               []bool
	}
	if ok {
		data.TID, data.ItemName, data.Amount = p.TID, p.ItemName, p.Amount
		data.Base = s.base + "/online/v1/payment/qr/" + tid
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no such payment", http.StatusNotFound)
		return
	}
	// A picture that looks like a QR code, drawn from the tid's bytes.
	seed := []byte(tid)
	for i := 0; i < 21*21; i++ {
		data.Cells = append(data.Cells, (seed[i%len(seed)]>>(uint(i)%7))&1 == 1)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	qrTemplate.Execute(w, data)
}

// phone plays the payer: approve, cancel or fail, then back to the shop.
func (s *Server) phone(w http.ResponseWriter, r *http.Request) {
	tid, action := r.PathValue("tid"), r.PathValue("action")
	s.mu.Lock()
	p, ok := s.payments[tid]
	if !ok {
		s.mu.Unlock()
		http.Error(w, "no such payment", http.StatusNotFound)
		return
	}
	var target string
	switch action {
	case "approve":
		if p.pgToken == "" {
			p.pgToken = newID("")
		}
		target = addQuery(p.approvalURL, "pg_token", p.pgToken)
	case "cancel":
		if p.Status == kakaopay.StatusReady {
			p.Status = kakaopay.StatusQuit
		}
		target = p.cancelURL
	case "fail":
		if p.Status == kakaopay.StatusReady {
			p.Status = kakaopay.StatusFail
		}
		target = p.failURL
	default:
		s.mu.Unlock()
		http.Error(w, "unknown action", http.StatusNotFound)
		return
	}
	s.mu.Unlock()
	http.Redirect(w, r, target, http.StatusFound)
}

func addQuery(raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

func (s *Server) injectHandler(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PartnerOrderID string   `json:"partner_order_id"`
		DeclineRate    *float64 `json:"decline_rate"`
		Injection
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, 400, -2, "invalid request body")
		return
	}
	if req.DeclineRate != nil {
		s.SetDeclineRate(*req.DeclineRate)
	}
	if req.PartnerOrderID != "" {
		switch req.Mode {
		case Decline, TimeoutAfterApprove, Slow, RefuseReady, "":
		default:
			fail(w, 400, -2, fmt.Sprintf("mode %q: decline, timeout_after_approve, slow or refuse_ready", req.Mode))
			return
		}
		s.Inject(req.PartnerOrderID, req.Injection)
	}
	writeJSON(w, 200, map[string]string{"status": "ok"})
}
