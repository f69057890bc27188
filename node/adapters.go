package node

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"syscall"

	"shelflife/actors/saga"
	"shelflife/cluster/member"
	"shelflife/domain"
	"shelflife/kakaopay"
)

// payments adapts the Kakao Pay client to the saga's payment port.
type payments struct{ c *kakaopay.Client }

func (p payments) Ready(ctx context.Context, r saga.ReadyRequest) (string, string, error) {
	resp, err := p.c.Ready(ctx, kakaopay.ReadyRequest{
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

func (p payments) Approve(ctx context.Context, tid, orderID string, userID int64, pgToken string, amount domain.KRW) (string, error) {
	resp, err := p.c.Approve(ctx, kakaopay.ApproveRequest{TID: tid, PartnerOrderID: orderID,
		PartnerUserID: strconv.FormatInt(userID, 10), PGToken: pgToken, TotalAmount: int64(amount)})
	switch {
	case err == nil:
		return resp.AID, nil
	case errors.Is(err, kakaopay.ErrUnknownOutcome):
		return "", errors.Join(saga.ErrOutcomeUnknown, err)
	case kakaopay.IsCode(err, kakaopay.CodeAlreadyApproved):
		return "", errors.Join(saga.ErrAlreadyApproved, err)
	}
	return "", err
}

// outcomes turns Kakao Pay's reading of a payment into the saga's.
var outcomes = map[kakaopay.Outcome]saga.PaymentOutcome{
	kakaopay.OutcomePending:  saga.PaymentPending,
	kakaopay.OutcomeTaken:    saga.PaymentTaken,
	kakaopay.OutcomeNotTaken: saga.PaymentNotTaken,
}

func (p payments) Status(ctx context.Context, tid string) (saga.PaymentOutcome, error) {
	resp, err := p.c.Order(ctx, tid)
	if err != nil {
		return saga.PaymentUnknown, err
	}
	return outcomes[resp.Outcome()], nil
}

func (p payments) Cancel(ctx context.Context, tid string, amount domain.KRW) error {
	_, err := p.c.Cancel(ctx, tid, int64(amount))
	return err
}

// callbackURLs are the addresses Kakao Pay sends the payer back to. The
// nonce proves a callback came through Kakao Pay's redirect.
type callbackURLs struct{ base string }

func (u callbackURLs) url(kind, orderID, nonce string) string {
	q := url.Values{"order_id": {orderID}, "nonce": {nonce}}
	return u.base + "/api/v1/payments/kakao/" + kind + "?" + q.Encode()
}

func (u callbackURLs) Approval(orderID, nonce string) string { return u.url("approve", orderID, nonce) }
func (u callbackURLs) Cancel(orderID, nonce string) string   { return u.url("cancel", orderID, nonce) }
func (u callbackURLs) Fail(orderID, nonce string) string     { return u.url("fail", orderID, nonce) }

// clusterInfo adapts the member to the admin API.
type clusterInfo struct{ m *member.Member }

func (c clusterInfo) Self() string { return c.m.Address() }

func (c clusterInfo) MemberAddresses() []string {
	var out []string
	for _, m := range c.m.Members() {
		out = append(out, m.Address)
	}
	sort.Strings(out)
	return out
}

func (c clusterInfo) LotOwner(lotID int64) string {
	return c.m.Owner(strconv.FormatInt(lotID, 10), "Lot")
}

// crashAfter is the crash tests' fault injection: it kills this process the
// moment a saga reaches step, as a power cut would.
func crashAfter(step string, log *slog.Logger) func(orderID string, reached domain.Step) {
	if step == "" {
		return nil
	}
	log.Warn("fault injection armed: the process will SIGKILL itself", "after_step", step)
	return func(orderID string, reached domain.Step) {
		if string(reached) == step {
			log.Warn("fault injection: killing the process", "order", orderID, "step", step)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}
