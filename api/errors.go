package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
)

// Error is an answer to a client: an HTTP status, a stable machine-readable
// code and a message for people.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func badRequest(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *Error {
	return badRequest("validation_failed", format, args...)
}

var (
	errMissingToken = &Error{http.StatusUnauthorized, "missing_token", "sign in and send Authorization: Bearer <token>"}
	errInvalidToken = &Error{http.StatusUnauthorized, "invalid_token", "the token is not valid"}
	errExpiredToken = &Error{http.StatusUnauthorized, "token_expired", "the token has expired; sign in again"}
	errBadLogin     = &Error{http.StatusUnauthorized, "invalid_credentials", "wrong email or password"}
	errForbidden    = &Error{http.StatusForbidden, "forbidden", "your role may not do this"}
	errNoAddress    = &Error{http.StatusBadRequest, "address_required", "set a delivery address (PUT /api/v1/me/address) or pass ?lat=&lng="}
)

// retryAfterSeconds is the Retry-After of a 503: long enough for a busy
// node or a dependency's blip to pass, short for a shopper.
const retryAfterSeconds = "2"

// domainErrors maps the errors of the layers below to answers. It is the one
// table of its kind: add a row here, not a special case in a handler.
var domainErrors = []struct {
	err    error
	status int
	code   string
}{
	{domain.ErrDuplicateSKU, http.StatusConflict, "duplicate_sku"},
	{domain.ErrDuplicateName, http.StatusConflict, "duplicate_name"},
	{domain.ErrEmailTaken, http.StatusConflict, "email_taken"},
	{domain.ErrUnknownProduct, http.StatusNotFound, "product_not_found"},
	{domain.ErrUnknownWarehouse, http.StatusNotFound, "warehouse_not_found"},
	{domain.ErrNotFound, http.StatusNotFound, "not_found"},
	{domain.ErrOrderNotFound, http.StatusNotFound, "order_not_found"},
	{domain.ErrInsufficientStock, http.StatusConflict, "insufficient_stock"},
	{domain.ErrSoldOut, http.StatusConflict, "sold_out"},
	{domain.ErrDealLimit, http.StatusConflict, "deal_limit_exceeded"},
	{domain.ErrNotADeal, http.StatusConflict, "not_a_deal"},
	{domain.ErrEmptyOrder, http.StatusBadRequest, "empty_order"},
	{domain.ErrTooManyUnpaid, http.StatusConflict, "too_many_unpaid_orders"},
	{domain.ErrBadCallback, http.StatusForbidden, "invalid_callback"},
	{domain.ErrCartUnavailable, http.StatusServiceUnavailable, "cart_unavailable"},
	{domain.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{domain.ErrPaymentUnavailable, http.StatusBadGateway, "payment_unavailable"},
	{domain.ErrPaymentUnreachable, http.StatusServiceUnavailable, "payment_unavailable"},
	{domain.ErrLatitude, http.StatusBadRequest, "validation_failed"},
	{domain.ErrLongitude, http.StatusBadRequest, "validation_failed"},
	{domain.ErrRadius, http.StatusBadRequest, "validation_failed"},
	{domain.ErrNegativePrice, http.StatusBadRequest, "validation_failed"},
	{domain.ErrPriceTooHigh, http.StatusBadRequest, "validation_failed"},
	{domain.ErrAmountTooLarge, http.StatusBadRequest, "validation_failed"},
}

// fiberErrors gives codes to the errors Fiber itself raises.
var fiberErrors = map[int]string{
	http.StatusNotFound:              "route_not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusRequestEntityTooLarge: "body_too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusTooManyRequests:       "rate_limited",
	http.StatusRequestTimeout:        "request_timeout",
	http.StatusUpgradeRequired:       "websocket_required",
}

// toError turns any error into the answer the client gets.
func toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// A request that ran out of time is the shop being busy, not a
		// bug: repeat it (every step is idempotent).
		err = domain.ErrUnavailable
	}
	for _, row := range domainErrors {
		if errors.Is(err, row.err) {
			return &Error{Status: row.status, Code: row.code, Message: row.err.Error()}
		}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code, ok := fiberErrors[fe.Code]
		if !ok {
			code = "bad_request"
			if fe.Code >= 500 {
				code = "internal"
			}
		}
		status := fe.Code
		if status == http.StatusRequestEntityTooLarge {
			// Every rejected body is a 400; the code says why.
			status = http.StatusBadRequest
		}
		return &Error{Status: status, Code: code, Message: fe.Message}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "something went wrong on our side; it was logged"}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// With sold_out: how many units of the refused line were left, and
	// which lot or product it was.
	Available *int64 `json:"available,omitempty"`
	LotID     int64  `json:"lot_id,omitempty"`
	ProductID int64  `json:"product_id,omitempty"`
}

// detailOf is the body's error for err, answered as ae.
func detailOf(ae *Error, err error) errorDetail {
	d := errorDetail{Code: ae.Code, Message: ae.Message}
	var so *domain.SoldOutError
	if errors.As(err, &so) {
		d.Available, d.LotID, d.ProductID = &so.Available, so.LotID, so.ProductID
	}
	return d
}

func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	ae := toError(err)
	if ae.Status >= 500 {
		s.requestLogger(c).Error("request failed", "status", ae.Status, "error", err.Error())
	} else if s.log.Enabled(c.UserContext(), slog.LevelDebug) {
		s.requestLogger(c).Debug("request rejected", "status", ae.Status, "code", ae.Code, "error", err.Error())
	}
	if ae.Status == http.StatusServiceUnavailable {
		// Every 503 is worth repeating: say when.
		c.Set(fiber.HeaderRetryAfter, retryAfterSeconds)
	}
	return c.Status(ae.Status).JSON(errorBody{Error: detailOf(ae, err)})
}

// requestLogger is the server's logger with the request's id. It is made
// when something is logged, not for every request: With formats its
// attributes at once (7 allocations, 272 bytes), and most requests log
// nothing.
func (s *Server) requestLogger(c *fiber.Ctx) *slog.Logger {
	if id, ok := c.Locals(localRequestID).(string); ok {
		return s.log.With("request_id", id)
	}
	return s.log
}
