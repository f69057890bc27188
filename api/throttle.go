package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
)

// Rate is at most Events per Per; the zero Rate is no limit.
type Rate struct {
	Events int
	Per    time.Duration
}

func (r Rate) off() bool { return r.Events <= 0 || r.Per <= 0 }

// Throttle keeps the counters that slow down password guessing and signup
// floods. They live outside the node (Redis) so that every node counts the
// same client and account.
type Throttle interface {
	// Allow takes one event from the bucket key of events per per. A
	// positive wait says none is left and when the next one will be.
	Allow(ctx context.Context, key string, events int, per time.Duration) (wait time.Duration, err error)
	// Fail counts one failure of key and answers the failures counted;
	// they are forgotten window after the last one.
	Fail(ctx context.Context, key string, window time.Duration) (int64, error)
	// Lock locks key for d; LockedFor answers how long it stays locked.
	Lock(ctx context.Context, key string, d time.Duration) error
	LockedFor(ctx context.Context, key string) (time.Duration, error)
	// Forget drops the counts of keys.
	Forget(ctx context.Context, keys ...string) error
}

// Limits bound what anonymous callers can make the node do with passwords.
type Limits struct {
	LoginPerAddress  Rate
	LoginPerAccount  Rate
	SignupPerAddress Rate
	SignupPerAccount Rate
	// LockoutAfter failed logins of one account lock it for Lockout, twice
	// as long at each further failure, at most LockoutMax. 0: no lockout.
	LockoutAfter int
	Lockout      time.Duration
	LockoutMax   time.Duration
	// HashConcurrency is how many bcrypt hashes run at once; the rest wait
	// up to their request's deadline. 0: the cores less one, at least 1.
	HashConcurrency int
}

func tooManyRequests(c *fiber.Ctx, wait time.Duration, message string) error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	return &Error{Status: http.StatusTooManyRequests, Code: "too_many_requests", Message: message}
}

// throttleDown records that Redis did not answer a limit: the request goes
// through, and the next ones for throttleRetry skip the limits rather than
// each wait for Redis. Failing open keeps sign-in working when Redis is
// down; the password-hash bound still protects the node. It is logged at
// most every 10 seconds.
func (s *Server) throttleDown(err error) {
	now := time.Now().UnixNano()
	s.throttleDownAt.Store(now)
	last := s.throttleLogged.Load()
	if now-last < int64(10*time.Second) || !s.throttleLogged.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("rate limits unavailable: letting sign-ins and signups through unthrottled", "error", err.Error())
}

// throttleRetry is how long limits are skipped after Redis failed to answer.
const throttleRetry = 5 * time.Second

// throttle is the Throttle to use now: nil when there is none, or when
// Redis failed within throttleRetry.
func (s *Server) throttle() Throttle {
	if s.deps.Throttle == nil || time.Now().UnixNano()-s.throttleDownAt.Load() < int64(throttleRetry) {
		return nil
	}
	return s.deps.Throttle
}

// limit takes one event from each bucket, in order; the first that is
// empty answers 429 with Retry-After.
func (s *Server) limit(c *fiber.Ctx, message string, buckets ...bucket) error {
	for _, b := range buckets {
		th := s.throttle()
		if th == nil {
			return nil
		}
		if b.rate.off() {
			continue
		}
		wait, err := th.Allow(c.UserContext(), b.key, b.rate.Events, b.rate.Per)
		if err != nil {
			s.throttleDown(err)
			return nil
		}
		if wait > 0 {
			return tooManyRequests(c, wait, message)
		}
	}
	return nil
}

type bucket struct {
	key  string
	rate Rate
}

// clientAddress is who the request comes from: the peer, or, when the peer
// is one of Config.TrustedProxies, the nearest untrusted address in
// X-Forwarded-For (proxies append; what is left of them is the client's to
// write, so Fiber's c.IP(), the leftmost, is not used for limits). IPv6
// clients are counted by /64, which one subscriber usually holds.
func (s *Server) clientAddress(c *fiber.Ctx) string {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return "unknown"
	}
	addr := peer.Unmap()
	if s.trusted(addr) {
		hops := strings.Split(c.Get(fiber.HeaderXForwardedFor), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			addr = hop.Unmap()
			if !s.trusted(addr) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.trustedNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hashSlots bounds concurrent bcrypt work so that a flood of logins cannot
// take every core from browsing and checkout.
type hashSlots chan struct{}

func (s *Server) acquireHash(ctx context.Context) error {
	select {
	case s.hashing <- struct{}{}:
		return nil
	default:
	}
	select {
	case s.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("all %d password-hash slots stayed busy: %w", cap(s.hashing), domain.ErrUnavailable)
	}
}

func (s *Server) releaseHash() { <-s.hashing }

// hashPassword hashes in one of the bounded slots.
func (s *Server) hashPassword(ctx context.Context, password string) (string, error) {
	if err := s.acquireHash(ctx); err != nil {
		return "", err
	}
	defer s.releaseHash()
	return HashPassword(password, s.cfg.BcryptCost)
}

// parseTrusted reads Config.TrustedProxies: addresses or CIDR prefixes.
func parseTrusted(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

const failureKey, lockKey = "login-failures:", "login-lock:"

// countWithin bounds counting a login's outcome (its Redis calls together).
const countWithin = 2 * time.Second

// verifyPassword checks password against hash for account (an email) in a
// bounded slot. A locked account is answered 429 without a check; a wrong
// password counts towards the lock.
func (s *Server) verifyPassword(c *fiber.Ctx, account, hash, password string) error {
	ctx := c.UserContext()
	lim := s.cfg.Limits
	th := s.throttle()
	if th != nil && lim.LockoutAfter > 0 {
		wait, err := th.LockedFor(ctx, lockKey+account)
		if err != nil {
			s.throttleDown(err)
		} else if wait > 0 {
			return tooManyRequests(c, wait, "too many failed sign-ins for this account; try again later")
		}
	}
	if err := s.acquireHash(ctx); err != nil {
		return err
	}
	ok := checkPassword(hash, password)
	s.releaseHash()
	if th == nil || lim.LockoutAfter <= 0 {
		if !ok {
			return errBadLogin
		}
		return nil
	}
	// Counting does not end with the request's deadline: a login that
	// takes that long must not escape it. A Redis that does not answer
	// holds the login no longer than countWithin.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), countWithin)
	defer cancel()
	if ok {
		if err := th.Forget(ctx, failureKey+account); err != nil {
			s.throttleDown(err)
		}
		return nil
	}
	n, err := th.Fail(ctx, failureKey+account, max(time.Hour, lim.LockoutMax))
	if err != nil {
		s.throttleDown(err)
		return errBadLogin
	}
	if over := n - int64(lim.LockoutAfter); over >= 0 {
		if err := th.Lock(ctx, lockKey+account, lockoutFor(lim, over)); err != nil {
			s.throttleDown(err)
		}
	}
	return errBadLogin
}

// lockoutFor is the lock after over failures beyond the allowed ones:
// Lockout, doubled each time, at most LockoutMax.
func lockoutFor(lim Limits, over int64) time.Duration {
	d := lim.Lockout
	for i := int64(0); i < over && d < lim.LockoutMax; i++ {
		d *= 2
	}
	return min(d, lim.LockoutMax)
}
