// Package redisstore keeps shoppers' carts in Redis: one hash per shopper,
// a field per item ("p<product id>" for regular stock, "l<lot id>" for a
// closing-soon deal), the quantity as value. Carts expire after 30 days
// without a change.
package redisstore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
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

// Item is one line of a cart.
type Item struct {
	Key       string
	ProductID int64
	LotID     int64
	Quantity  int64
}

// ItemKey names a cart item.
func ItemKey(productID, lotID int64) string {
	if lotID > 0 {
		return "l" + strconv.FormatInt(lotID, 10)
	}
	return "p" + strconv.FormatInt(productID, 10)
}

// ParseItemKey reads a key made by ItemKey.
func ParseItemKey(k string) (productID, lotID int64, err error) {
	if len(k) < 2 {
		return 0, 0, fmt.Errorf("cart item %q: want p<id> or l<id>", k)
	}
	id, err := strconv.ParseInt(k[1:], 10, 64)
	if err != nil || id <= 0 {
		return 0, 0, fmt.Errorf("cart item %q: want p<id> or l<id>", k)
	}
	switch k[0] {
	case 'p':
		return id, 0, nil
	case 'l':
		return 0, id, nil
	}
	return 0, 0, fmt.Errorf("cart item %q: want p<id> or l<id>", k)
}

// Items lists a shopper's cart, in key order.
func (c *Carts) Items(ctx context.Context, userID int64) ([]Item, error) {
	m, err := c.rdb.HGetAll(ctx, c.key(userID)).Result()
	if err != nil {
		return nil, fmt.Errorf("read cart: %w", err)
	}
	out := make([]Item, 0, len(m))
	for k, v := range m {
		p, l, err := ParseItemKey(k)
		if err != nil {
			continue
		}
		q, err := strconv.ParseInt(v, 10, 64)
		if err != nil || q <= 0 {
			continue
		}
		out = append(out, Item{Key: k, ProductID: p, LotID: l, Quantity: q})
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
	return err
}

// Remove takes an item out of the cart.
func (c *Carts) Remove(ctx context.Context, userID int64, itemKey string) error {
	return c.rdb.HDel(ctx, c.key(userID), itemKey).Err()
}

// Clear empties the cart.
func (c *Carts) Clear(ctx context.Context, userID int64) error {
	return c.rdb.Del(ctx, c.key(userID)).Err()
}
