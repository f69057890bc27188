package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// validateLimits checks the sign-in, signup and unpaid-order settings, and
// that trusted_proxies are addresses or CIDR prefixes.
func (c Node) validateLimits() []error {
	var errs []error
	for name, v := range map[string]int{
		"login_per_address_per_minute": c.LoginPerAddressPerMinute,
		"login_per_account_per_minute": c.LoginPerAccountPerMinute,
		"signup_per_address_per_hour":  c.SignupPerAddressPerHour,
		"signup_per_account_per_hour":  c.SignupPerAccountPerHour,
		"login_lockout_after":          c.LoginLockoutAfter,
		"password_hash_concurrency":    c.PasswordHashConcurrency,
		"max_unpaid_orders":            c.MaxUnpaidOrders,
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s %d: 0 (off) or more", name, v))
		}
	}
	if c.LoginLockoutAfter > 0 && (c.LoginLockout <= 0 || c.LoginLockoutMax < c.LoginLockout) {
		errs = append(errs, errors.New("login_lockout must be positive and login_lockout_max at least login_lockout"))
	}
	for _, s := range c.TrustedProxies {
		s = strings.TrimSpace(s)
		if _, err := netip.ParsePrefix(s); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(s); err != nil {
			errs = append(errs, fmt.Errorf("trusted_proxies: %q is neither an address nor a CIDR prefix", s))
		}
	}
	return errs
}
