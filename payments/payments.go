// Package payments plugs Kakao Pay into the order saga: the client's calls
// and errors as the saga's Payments port, and the callback URLs the payer
// comes back to.
package payments

import (
	"context"
	"errors"
	"net/url"
	"strconv"

	"shelflife/actors/saga"
	"shelflife/domain"
	"shelflife/kakaopay"
)

// Kakao adapts the Kakao Pay client to the saga's Payments port: a lost
// answer is saga.ErrOutcomeUnknown, a repeated approval
// saga.ErrAlreadyApproved.
type Kakao struct{ Client *kakaopay.Client }

var _ saga.Payments = Kakao{}

func (p Kakao) Ready(ctx context.Context, r saga.ReadyRequest) (string, string, error) {
	resp, err := p.Client.Ready(ctx, kakaopay.ReadyRequest{
		PartnerOrderID: r.OrderID, PartnerUserID: strconv.FormatInt(r.UserID, 10), ItemName: r.ItemName,
		Quantity: r.Quantity, TotalAmount: int64(r.Amount), ApprovalURL: r.ApprovalURL, CancelURL: r.CancelURL, FailURL: r.FailURL,
	})
	if errors.Is(err, kakaopay.ErrUnreachable) {
		return "", "", errors.Join(saga.ErrPaymentUnreachable, err)
	}
	if err != nil {
		return "", "", err
	}
	return resp.TID, resp.NextRedirectPCURL, nil
}

func (p Kakao) Approve(ctx context.Context, tid, orderID string, userID int64, pgToken string, amount domain.KRW) (string, error) {
	resp, err := p.Client.Approve(ctx, kakaopay.ApproveRequest{TID: tid, PartnerOrderID: orderID,
		PartnerUserID: strconv.FormatInt(userID, 10), PGToken: pgToken, TotalAmount: int64(amount)})
	switch {
	case err == nil:
		return resp.AID, nil
	case errors.Is(err, kakaopay.ErrUnknownOutcome):
		return "", errors.Join(saga.ErrOutcomeUnknown, err)
	case kakaopay.IsCode(err, kakaopay.CodeAlreadyApproved):
		return "", errors.Join(saga.ErrAlreadyApproved, err)
	case kakaopay.IsCode(err, kakaopay.CodeBadPGToken):
		return "", errors.Join(saga.ErrBadPGToken, err)
	}
	return "", err
}

// outcomes turns Kakao Pay's reading of a payment into the saga's.
var outcomes = map[kakaopay.Outcome]saga.PaymentOutcome{
	kakaopay.OutcomePending:  saga.PaymentPending,
	kakaopay.OutcomeTaken:    saga.PaymentTaken,
	kakaopay.OutcomeNotTaken: saga.PaymentNotTaken,
}

// Status reads what the payment's status at Kakao Pay means for the money.
func (p Kakao) Status(ctx context.Context, tid string) (saga.PaymentOutcome, error) {
	resp, err := p.Client.Order(ctx, tid)
	if err != nil {
		return saga.PaymentUnknown, err
	}
	return outcomes[resp.Outcome()], nil
}

func (p Kakao) Cancel(ctx context.Context, tid string, amount domain.KRW) error {
	_, err := p.Client.Cancel(ctx, tid, int64(amount))
	return err
}

// CallbackURLs are the addresses Kakao Pay sends the payer back to, under
// the node's public base URL. The nonce proves a callback came through
// Kakao Pay's redirect.
type CallbackURLs struct{ Base string }

var _ saga.URLs = CallbackURLs{}

func (u CallbackURLs) url(kind, orderID, nonce string) string {
	q := url.Values{"order_id": {orderID}, "nonce": {nonce}}
	return u.Base + "/api/v1/payments/kakao/" + kind + "?" + q.Encode()
}

func (u CallbackURLs) Approval(orderID, nonce string) string { return u.url("approve", orderID, nonce) }
func (u CallbackURLs) Cancel(orderID, nonce string) string   { return u.url("cancel", orderID, nonce) }
func (u CallbackURLs) Fail(orderID, nonce string) string     { return u.url("fail", orderID, nonce) }
