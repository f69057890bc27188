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

// Payment states of the order status call.
const (
	StatusReady    = "READY"
	StatusSuccess  = "SUCCESS_PAYMENT"
	StatusCanceled = "CANCEL_PAYMENT"
	StatusQuit     = "QUIT_PAYMENT"
	StatusFail     = "FAIL_PAYMENT"
)

// Error codes this project reacts to.
const (
	CodeAlreadyApproved = -702
	CodeBadPGToken      = -708
	CodeUnknownTID      = -721
	CodeExpired         = -723
	CodeApprovalFailure = -780
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

// Error is Kakao Pay's error answer.
type Error struct {
	HTTPStatus int            `json:"-"`
	Code       int            `json:"error_code"`
	Message    string         `json:"error_message"`
	Extras     map[string]any `json:"extras,omitempty"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("kakaopay %d: %s (HTTP %d)", e.Code, e.Message, e.HTTPStatus)
}

// ErrUnknownOutcome means the call may or may not have taken effect.
var ErrUnknownOutcome = errors.New("kakaopay: outcome unknown")

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
	TID                   string    `json:"tid"`
	NextRedirectAppURL    string    `json:"next_redirect_app_url"`
	NextRedirectMobileURL string    `json:"next_redirect_mobile_url"`
	NextRedirectPCURL     string    `json:"next_redirect_pc_url"`
	AndroidAppScheme      string    `json:"android_app_scheme"`
	IOSAppScheme          string    `json:"ios_app_scheme"`
	CreatedAt             time.Time `json:"created_at"`
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

// Amount is a payment's money.
type Amount struct {
	Total   int64 `json:"total"`
	TaxFree int64 `json:"tax_free"`
	VAT     int64 `json:"vat"`
}

// ApproveResponse is an approved payment.
type ApproveResponse struct {
	AID               string    `json:"aid"`
	TID               string    `json:"tid"`
	CID               string    `json:"cid"`
	PartnerOrderID    string    `json:"partner_order_id"`
	PartnerUserID     string    `json:"partner_user_id"`
	PaymentMethodType string    `json:"payment_method_type"`
	Amount            Amount    `json:"amount"`
	ItemName          string    `json:"item_name"`
	Quantity          int64     `json:"quantity"`
	CreatedAt         time.Time `json:"created_at"`
	ApprovedAt        time.Time `json:"approved_at"`
}

// OrderResponse is a payment's status.
type OrderResponse struct {
	TID            string `json:"tid"`
	CID            string `json:"cid"`
	Status         string `json:"status"`
	PartnerOrderID string `json:"partner_order_id"`
	PartnerUserID  string `json:"partner_user_id"`
	Amount         Amount `json:"amount"`
	CanceledAmount Amount `json:"canceled_amount"`
}

// CancelRequest refunds (part of) a payment.
type CancelRequest struct {
	CID                 string `json:"cid"`
	TID                 string `json:"tid"`
	CancelAmount        int64  `json:"cancel_amount"`
	CancelTaxFreeAmount int64  `json:"cancel_tax_free_amount"`
}

// CancelResponse is the payment after the cancel.
type CancelResponse struct {
	TID            string `json:"tid"`
	Status         string `json:"status"`
	Amount         Amount `json:"amount"`
	CanceledAmount Amount `json:"canceled_amount"`
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
		return fmt.Errorf("%w: %s: %v", ErrUnknownOutcome, path, err)
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
			return fmt.Errorf("%w: %s: HTTP %d", ErrUnknownOutcome, path, resp.StatusCode)
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
