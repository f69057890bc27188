// Package kakaopay is a client for Kakao Pay's single-payment API: ready,
// approve, order status and cancel (POST /online/v1/payment/*, JSON,
// Authorization: SECRET_KEY <key>). Kakao's error body is decoded into
// *Error; a call whose outcome is unknown (timeout, connection lost, 5xx
// without a body) is ErrUnknownOutcome, and only the status call, which
// changes nothing, is retried.
package kakaopay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// TestCID is Kakao Pay's test merchant id for single payments.
const TestCID = "TC0ONETIME"

// Payment states of the order status call, as documented.
const (
	StatusReady            = "READY"               // ready called, the payer not yet seen
	StatusSendTMS          = "SEND_TMS"            // a payment message sent to the payer's KakaoTalk
	StatusOpenPayment      = "OPEN_PAYMENT"        // the payer opened the payment screen
	StatusSelectMethod     = "SELECT_METHOD"       // the payer is choosing how to pay
	StatusARSWaiting       = "ARS_WAITING"         // waiting for the payer's phone (ARS) confirmation
	StatusAuthPassword     = "AUTH_PASSWORD"       // the payer entered the password
	StatusIssuedSID        = "ISSUED_SID"          // a subscription id was issued (recurring payments)
	StatusSuccess          = "SUCCESS_PAYMENT"     // approved: the money is taken
	StatusPartCanceled     = "PART_CANCEL_PAYMENT" // approved, then part of it refunded
	StatusCanceled         = "CANCEL_PAYMENT"      // approved, then refunded in full
	StatusFailAuthPassword = "FAIL_AUTH_PASSWORD"  // the payer's password failed
	StatusQuit             = "QUIT_PAYMENT"        // the payer quit, or the payment was closed
	StatusFail             = "FAIL_PAYMENT"        // the payment failed (declined, expired)
)

// Outcome is what a payment's status means for the money.
type Outcome int

const (
	// OutcomeUnknown is a status this client does not know: nothing can be
	// concluded, so ask again later.
	OutcomeUnknown Outcome = iota
	// OutcomePending: not approved yet; the payer is still on the way.
	OutcomePending
	// OutcomeTaken: approved; the money is (at least in part) taken.
	OutcomeTaken
	// OutcomeNotTaken: it ended without money taken, or was refunded in full.
	OutcomeNotTaken
)

func (o Outcome) String() string {
	switch o {
	case OutcomePending:
		return "pending"
	case OutcomeTaken:
		return "taken"
	case OutcomeNotTaken:
		return "not_taken"
	}
	return "unknown"
}

// OutcomeOf maps a payment status to taken, not taken or still pending.
func OutcomeOf(status string) Outcome {
	switch status {
	case StatusReady, StatusSendTMS, StatusOpenPayment, StatusSelectMethod, StatusARSWaiting, StatusAuthPassword, StatusIssuedSID:
		return OutcomePending
	case StatusSuccess, StatusPartCanceled:
		return OutcomeTaken
	case StatusCanceled, StatusFailAuthPassword, StatusQuit, StatusFail:
		return OutcomeNotTaken
	}
	return OutcomeUnknown
}

// Error codes this project reacts to.
const (
	CodeAlreadyApproved = -702 // the payment was approved already
	CodeBadPGToken      = -708 // the pg_token is wrong
	CodeUnknownTID      = -721 // no payment with this tid
	CodeExpired         = -723 // the payment's time to approve ran out
	CodeApprovalFailure = -780 // approval failed; extras.method_result_code says why
)

// Config points the client at Kakao Pay (or the fake).
type Config struct {
	BaseURL   string // e.g. https://open-api.kakaopay.com
	SecretKey string
	CID       string
	Timeout   time.Duration
	// MaxConns bounds the connections kept open to Kakao Pay (default
	// 256): a flash sale makes hundreds of calls at once, and a connection
	// per call dialled and dropped costs more than the call.
	MaxConns int
}

// Client calls Kakao Pay.
type Client struct {
	cfg  Config
	http *http.Client
}

// New makes a client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("kakaopay: base URL is empty")
	}
	if cfg.CID == "" {
		cfg.CID = TestCID
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 256
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = cfg.MaxConns, cfg.MaxConns, cfg.MaxConns
	return &Client{cfg: cfg, http: &http.Client{Timeout: cfg.Timeout, Transport: tr}}, nil
}

// CID is the merchant id the client sends.
func (c *Client) CID() string { return c.cfg.CID }

// Error is Kakao Pay's error answer. Extras is kept as sent: its members
// differ by error and may be null.
type Error struct {
	HTTPStatus int            `json:"-"`
	Code       int            `json:"error_code"`
	Message    string         `json:"error_message"`
	Extras     map[string]any `json:"extras,omitempty"`
}

func (e *Error) Error() string {
	if mc := e.MethodResultCode(); mc != "" {
		return fmt.Sprintf("kakaopay %d: %s (%s: %s, HTTP %d)", e.Code, e.Message, mc, e.MethodResultMessage(), e.HTTPStatus)
	}
	return fmt.Sprintf("kakaopay %d: %s (HTTP %d)", e.Code, e.Message, e.HTTPStatus)
}

// MethodResultCode is extras.method_result_code: why the payment method
// refused (for example USER_LOCKED), or "".
func (e *Error) MethodResultCode() string { return e.extra("method_result_code") }

// MethodResultMessage is extras.method_result_message, or "".
func (e *Error) MethodResultMessage() string { return e.extra("method_result_message") }

func (e *Error) extra(key string) string {
	switch v := e.Extras[key].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// ErrUnknownOutcome means the call may or may not have taken effect.
var ErrUnknownOutcome = errors.New("kakaopay: outcome unknown")

// ErrUnreachable means Kakao Pay did not answer at all (no connection, a
// timeout, a 5xx without a Kakao error): the call may be tried again later.
// It always comes with ErrUnknownOutcome.
var ErrUnreachable = errors.New("kakaopay: unreachable")

// ReadyRequest starts a payment.
type ReadyRequest struct {
	CID            string `json:"cid"`
	PartnerOrderID string `json:"partner_order_id"`
	PartnerUserID  string `json:"partner_user_id"`
	ItemName       string `json:"item_name"`
	Quantity       int64  `json:"quantity"`
	TotalAmount    int64  `json:"total_amount"`
	TaxFreeAmount  int64  `json:"tax_free_amount"`
	ApprovalURL    string `json:"approval_url"`
	CancelURL      string `json:"cancel_url"`
	FailURL        string `json:"fail_url"`
}

// ReadyResponse carries the payment's tid and the URLs to send the payer to.
type ReadyResponse struct {
	TID                   string `json:"tid"`
	NextRedirectAppURL    string `json:"next_redirect_app_url"`
	NextRedirectMobileURL string `json:"next_redirect_mobile_url"`
	NextRedirectPCURL     string `json:"next_redirect_pc_url"`
	AndroidAppScheme      string `json:"android_app_scheme"`
	IOSAppScheme          string `json:"ios_app_scheme"`
	CreatedAt             Time   `json:"created_at"`
}

// ApproveRequest completes a payment with the payer's pg_token.
type ApproveRequest struct {
	CID            string `json:"cid"`
	TID            string `json:"tid"`
	PartnerOrderID string `json:"partner_order_id"`
	PartnerUserID  string `json:"partner_user_id"`
	PGToken        string `json:"pg_token"`
	TotalAmount    int64  `json:"total_amount,omitempty"`
}

// Amount is a payment's money, in whole KRW.
type Amount struct {
	Total        int64 `json:"total"`
	TaxFree      int64 `json:"tax_free"`
	VAT          int64 `json:"vat"`
	Point        int64 `json:"point"`
	Discount     int64 `json:"discount"`
	GreenDeposit int64 `json:"green_deposit"`
}

// ApproveResponse is an approved payment. Members the shop does not use
// (card_info, payload, item_code, sequential_payment_methods, ...) are
// left out; decoding skips them.
type ApproveResponse struct {
	AID               string `json:"aid"`
	TID               string `json:"tid"`
	CID               string `json:"cid"`
	PartnerOrderID    string `json:"partner_order_id"`
	PartnerUserID     string `json:"partner_user_id"`
	PaymentMethodType string `json:"payment_method_type"` // MONEY or CARD
	Amount            Amount `json:"amount"`
	ItemName          string `json:"item_name"`
	Quantity          int64  `json:"quantity"`
	CreatedAt         Time   `json:"created_at"`
	ApprovedAt        Time   `json:"approved_at"`
}

// PaymentAction is one approval or cancel of a payment.
type PaymentAction struct {
	AID               string `json:"aid"`
	ApprovedAt        Time   `json:"approved_at"`
	Amount            int64  `json:"amount"`
	PaymentActionType string `json:"payment_action_type"` // PAYMENT, CANCEL, ISSUED_SID
}

// Payment is what the order status and cancel answers say of a payment.
// Times of what has not happened (approved_at, canceled_at) are zero.
type Payment struct {
	TID                   string `json:"tid"`
	CID                   string `json:"cid"`
	Status                string `json:"status"`
	PartnerOrderID        string `json:"partner_order_id"`
	PartnerUserID         string `json:"partner_user_id"`
	PaymentMethodType     string `json:"payment_method_type"` // null until the payer chose
	Amount                Amount `json:"amount"`
	CanceledAmount        Amount `json:"canceled_amount"`
	CancelAvailableAmount Amount `json:"cancel_available_amount"`
	ItemName              string `json:"item_name"`
	Quantity              int64  `json:"quantity"`
	CreatedAt             Time   `json:"created_at"`
	ApprovedAt            Time   `json:"approved_at"`
	CanceledAt            Time   `json:"canceled_at"`
}

// OrderResponse is a payment's status, with each approval and cancel.
type OrderResponse struct {
	Payment
	PaymentActionDetails []PaymentAction `json:"payment_action_details"`
}

// Outcome is what the payment's status means for the money.
func (r OrderResponse) Outcome() Outcome { return OutcomeOf(r.Status) }

// CancelRequest refunds (part of) a payment.
type CancelRequest struct {
	CID                 string `json:"cid"`
	TID                 string `json:"tid"`
	CancelAmount        int64  `json:"cancel_amount"`
	CancelTaxFreeAmount int64  `json:"cancel_tax_free_amount"`
}

// CancelResponse is the payment after the cancel.
type CancelResponse struct {
	Payment
	AID                  string `json:"aid"`
	ApprovedCancelAmount Amount `json:"approved_cancel_amount"`
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "SECRET_KEY "+c.cfg.SecretKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w: %s: %v", ErrUnknownOutcome, ErrUnreachable, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnknownOutcome, path, err)
	}
	if resp.StatusCode >= 300 {
		var e Error
		if json.Unmarshal(raw, &e) == nil && e.Code != 0 {
			e.HTTPStatus = resp.StatusCode
			return &e
		}
		if resp.StatusCode >= 500 {
			return fmt.Errorf("%w: %w: %s: HTTP %d", ErrUnknownOutcome, ErrUnreachable, path, resp.StatusCode)
		}
		return &Error{HTTPStatus: resp.StatusCode, Code: -resp.StatusCode, Message: strings.TrimSpace(string(raw))}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%w: %s: undecodable answer: %v", ErrUnknownOutcome, path, err)
	}
	return nil
}

// Ready starts a payment. Not retried: a second call makes a second tid.
func (c *Client) Ready(ctx context.Context, r ReadyRequest) (ReadyResponse, error) {
	r.CID = c.cfg.CID
	var out ReadyResponse
	err := c.post(ctx, "/online/v1/payment/ready", r, &out)
	return out, err
}

// Approve takes the money. Not retried: ask Order when the outcome is unknown.
func (c *Client) Approve(ctx context.Context, r ApproveRequest) (ApproveResponse, error) {
	r.CID = c.cfg.CID
	var out ApproveResponse
	err := c.post(ctx, "/online/v1/payment/approve", r, &out)
	return out, err
}

// Order reads a payment's status; it changes nothing, so it is retried.
func (c *Client) Order(ctx context.Context, tid string) (OrderResponse, error) {
	var out OrderResponse
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = c.post(ctx, "/online/v1/payment/order", map[string]string{"cid": c.cfg.CID, "tid": tid}, &out)
		if err == nil || !errors.Is(err, ErrUnknownOutcome) || ctx.Err() != nil {
			return out, err
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
	return out, err
}

// Cancel refunds amount of a payment.
func (c *Client) Cancel(ctx context.Context, tid string, amount int64) (CancelResponse, error) {
	var out CancelResponse
	err := c.post(ctx, "/online/v1/payment/cancel", CancelRequest{CID: c.cfg.CID, TID: tid, CancelAmount: amount}, &out)
	return out, err
}

// IsCode reports whether err is Kakao error code.
func IsCode(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
