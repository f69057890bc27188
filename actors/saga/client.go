package saga

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"shelflife/actors/grainctx"
	opb "shelflife/actors/orderpb"
	"shelflife/domain"
)

// Client calls saga grains.
type Client struct {
	c *cluster.Cluster
	// attemptTimeout bounds one attempt: a message lost while members come
	// and go (a node stopping or just back) is sent again after it instead
	// of holding the request to its deadline. Every saga message may be
	// repeated; a repeat that reaches a saga still busy with the first
	// waits in its mailbox and is answered from where the first left it.
	attemptTimeout time.Duration
}

// NewClient calls saga grains through c.
func NewClient(c *cluster.Cluster) *Client { return &Client{c: c, attemptTimeout: 5 * time.Second} }

// call sends one message to order id's saga, within ctx (45 s when ctx has
// no deadline), and reads its answer: the order after the message, or the
// domain error of a refusal. A call that fails is domain.ErrUnavailable,
// with its cause: the saga may still finish, and every message may be
// repeated.
func (c *Client) call(ctx context.Context, what, id string, send func(*opb.OrderSagaGrainClient, cluster.GrainCallOption) (*opb.SagaState, error)) (domain.Order, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 45*time.Second)
		defer cancel()
	}
	g := opb.GetOrderSagaGrainClient(c.c, id)
	st, err := grainctx.Retry(ctx, c.attemptTimeout, 0, func(d time.Duration) (*opb.SagaState, error) { return send(g, cluster.WithTimeout(d)) })
	if err != nil {
		return domain.Order{}, fmt.Errorf("%s order %s: %w: %w", what, id, err, domain.ErrUnavailable)
	}
	return opb.Answer(st)
}

// Start makes the order's payment ready. o, when it has the order's id, is
// the order as just stored, which spares the saga a read.
func (c *Client) Start(ctx context.Context, id string, o *domain.Order) (domain.Order, error) {
	req := &opb.StartRequest{}
	if o != nil && o.ID == id {
		req.Order = opb.EncodeOrder(*o)
	}
	return c.call(ctx, "start", id, func(g *opb.OrderSagaGrainClient, opt cluster.GrainCallOption) (*opb.SagaState, error) {
		return g.Start(req, opt)
	})
}

// Approve runs the order to its end with the payer's pg_token.
func (c *Client) Approve(ctx context.Context, id, pgToken, nonce string) (domain.Order, error) {
	req := &opb.ApproveRequest{PgToken: pgToken, Nonce: nonce}
	return c.call(ctx, "approve", id, func(g *opb.OrderSagaGrainClient, opt cluster.GrainCallOption) (*opb.SagaState, error) {
		return g.Approve(req, opt)
	})
}

// Abort ends an order whose payer cancelled or failed.
func (c *Client) Abort(ctx context.Context, id string, reason domain.Reason, nonce string) (domain.Order, error) {
	req := &opb.AbortRequest{Reason: opb.ReasonOf(reason), Nonce: nonce}
	return c.call(ctx, "abort", id, func(g *opb.OrderSagaGrainClient, opt cluster.GrainCallOption) (*opb.SagaState, error) {
		return g.Abort(req, opt)
	})
}

// Expire ends an order whose payment waited past its validity.
func (c *Client) Expire(ctx context.Context, id string) (domain.Order, error) {
	req := &opb.AbortRequest{Expire: true}
	return c.call(ctx, "expire", id, func(g *opb.OrderSagaGrainClient, opt cluster.GrainCallOption) (*opb.SagaState, error) {
		return g.Abort(req, opt)
	})
}

// Resume continues an order left mid-way.
func (c *Client) Resume(ctx context.Context, id string) (domain.Order, error) {
	return c.call(ctx, "resume", id, func(g *opb.OrderSagaGrainClient, opt cluster.GrainCallOption) (*opb.SagaState, error) {
		return g.Resume(&opb.ResumeRequest{}, opt)
	})
}
