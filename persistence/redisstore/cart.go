// Package redisstore keeps shoppers' carts in Redis: one hash per shopper,
// a field per item (domain.CartItemKey: "p<product id>" for regular stock,
// "l<lot id>" for a closing-soon deal), the quantity as value. Carts expire after 30 days
// without a change.
package redisstore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"shelflife/domain"
)

// CartTTL is how long an untouched cart is kept.
const CartTTL = 30 * 24 * time.Hour

// Carts stores carts under prefix.
type Carts struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewCarts stores carts in rdb with keys starting with prefix.
func NewCarts(rdb redis.UniversalClient, prefix string) *Carts {
	return &Carts{rdb: rdb, prefix: prefix}
}

func (c *Carts) key(userID int64) string { return c.prefix + "cart:" + strconv.FormatInt(userID, 10) }

// Items lists a shopper's cart, in key order.
func (c *Carts) Items(ctx context.Context, userID int64) ([]domain.CartItem, error) {
	m, err := c.rdb.HGetAll(ctx, c.key(userID)).Result()
	if err != nil {
		return nil, fmt.Errorf("read cart: %w: %w", err, domain.ErrCartUnavailable)
	}
	out := make([]domain.CartItem, 0, len(m))
	for k, v := range m {
		p, l, err := domain.ParseCartItemKey(k)
		if err != nil {
			continue
		}
		q, err := strconv.ParseInt(v, 10, 64)
		if err != nil || q <= 0 {
			continue
		}
		out = append(out, domain.CartItem{Key: k, ProductID: p, LotID: l, Quantity: q})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Set puts quantity of an item in the cart; 0 removes it.
func (c *Carts) Set(ctx context.Context, userID int64, itemKey string, quantity int64) error {
	k := c.key(userID)
	pipe := c.rdb.TxPipeline()
	if quantity <= 0 {
		pipe.HDel(ctx, k, itemKey)
	} else {
		pipe.HSet(ctx, k, itemKey, quantity)
	}
	pipe.Expire(ctx, k, CartTTL)
	_, err := pipe.Exec(ctx)
	return unavailable("set cart item", err)
}

// Remove takes an item out of the cart.
func (c *Carts) Remove(ctx context.Context, userID int64, itemKey string) error {
	return unavailable("remove cart item", c.rdb.HDel(ctx, c.key(userID), itemKey).Err())
}

// Clear empties the cart.
func (c *Carts) Clear(ctx context.Context, userID int64) error {
	return unavailable("clear cart", c.rdb.Del(ctx, c.key(userID)).Err())
}

// unavailable marks a failed cart call as domain.ErrCartUnavailable: the
// shopper is told carts are away for now, not that the shop broke.
func unavailable(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w: %w", what, err, domain.ErrCartUnavailable)
}
