package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Throttle keeps rate limits and counts of failures in Redis, shared by
// every node. Rate limits are generic cell rate buckets kept by redis_rate
// (its keys start with "rate:" before the prefix); failures and locks are
// plain keys under the prefix that expire by themselves.
type Throttle struct {
	rdb     redis.UniversalClient
	limiter *redis_rate.Limiter
	prefix  string
}

// NewThrottle keeps its keys in rdb, starting with prefix.
func NewThrottle(rdb redis.UniversalClient, prefix string) *Throttle {
	return &Throttle{rdb: rdb, limiter: redis_rate.NewLimiter(rdb), prefix: prefix}
}

// Allow takes one event from key's bucket of events per per (a burst of
// events at most); a positive wait says the bucket is empty and when it
// will hold one again.
func (t *Throttle) Allow(ctx context.Context, key string, events int, per time.Duration) (time.Duration, error) {
	res, err := t.limiter.Allow(ctx, t.prefix+key, redis_rate.Limit{Rate: events, Burst: events, Period: per})
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Millisecond), nil
}

// Fail counts one failure of key and answers the count; the count is
// dropped window after the last failure.
func (t *Throttle) Fail(ctx context.Context, key string, window time.Duration) (int64, error) {
	var n *redis.IntCmd
	_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, t.prefix+key)
		p.PExpire(ctx, t.prefix+key, window)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count failure %s: %w", key, err)
	}
	return n.Val(), nil
}

// Lock locks key for d.
func (t *Throttle) Lock(ctx context.Context, key string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := t.rdb.Set(ctx, t.prefix+key, 1, d).Err(); err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	return nil
}

// LockedFor answers how long key stays locked; 0 when it is not.
func (t *Throttle) LockedFor(ctx context.Context, key string) (time.Duration, error) {
	d, err := t.rdb.PTTL(ctx, t.prefix+key).Result()
	if err != nil {
		return 0, fmt.Errorf("lock of %s: %w", key, err)
	}
	return max(d, 0), nil
}

// Forget drops the counts and locks of keys.
func (t *Throttle) Forget(ctx context.Context, keys ...string) error {
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = t.prefix + k
	}
	if err := t.rdb.Del(ctx, full...).Err(); err != nil {
		return fmt.Errorf("forget %v: %w", keys, err)
	}
	return nil
}
