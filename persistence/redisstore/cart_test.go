package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"shelflife/domain"
)

func TestCart(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	prefix := fmt.Sprintf("slt-test-%d:", time.Now().UnixNano())
	c := NewCarts(rdb, prefix)
	defer c.Clear(ctx, 7)
	if err := c.Set(ctx, 7, domain.CartItemKey(3, 0), 2); err != nil {
		t.Fatal(err)
	}
	c.Set(ctx, 7, domain.CartItemKey(0, 44), 1)
	c.Set(ctx, 7, domain.CartItemKey(3, 0), 5)
	items, err := c.Items(ctx, 7)
	if err != nil || len(items) != 2 || items[0].LotID != 44 || items[1].ProductID != 3 || items[1].Quantity != 5 {
		t.Fatalf("items = %+v, %v", items, err)
	}
	if ttl := rdb.TTL(ctx, prefix+"cart:7").Val(); ttl <= 0 {
		t.Errorf("cart has no TTL: %v", ttl)
	}
	c.Set(ctx, 7, "l44", 0)
	c.Remove(ctx, 7, "p3")
	if items, _ := c.Items(ctx, 7); len(items) != 0 {
		t.Errorf("after removing: %+v", items)
	}
	for _, bad := range []string{"", "x1", "p", "p0", "l-2", "pabc"} {
		if _, _, err := domain.ParseCartItemKey(bad); err == nil {
			t.Errorf("domain.ParseCartItemKey(%q) accepted", bad)
		}
	}
}

// With Redis away every cart call says the carts are unavailable, which the
// API answers 503 cart_unavailable.
func TestCartWithoutRedisIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	c := NewCarts(rdb, "slt-down:")
	ctx := context.Background()
	_, itemsErr := c.Items(ctx, 7)
	for name, err := range map[string]error{
		"items":  itemsErr,
		"set":    c.Set(ctx, 7, domain.CartItemKey(3, 0), 1),
		"remove": c.Remove(ctx, 7, domain.CartItemKey(3, 0)),
		"clear":  c.Clear(ctx, 7),
	} {
		if !errors.Is(err, domain.ErrCartUnavailable) {
			t.Errorf("%s: %v, want ErrCartUnavailable", name, err)
		}
	}
}
