package config

import (
	"testing"
	"time"
)

func TestLimitSettings(t *testing.T) {
	cfg, err := Load("", func(k string) string {
		return map[string]string{"SHELFLIFE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7", "SHELFLIFE_LOGIN_PER_ADDRESS_PER_MINUTE": "0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.TrustedProxies) != 2 || cfg.LoginPerAddressPerMinute != 0 || cfg.LoginPerAccountPerMinute != 10 ||
		cfg.SignupPerAddressPerHour != 10 || cfg.LoginLockoutAfter != 5 || cfg.LoginLockoutMax.D() != 15*time.Minute || cfg.MaxUnpaidOrders != 3 {
		t.Errorf("limits = %+v", cfg)
	}
	for _, e := range []map[string]string{
		{"SHELFLIFE_TRUSTED_PROXIES": "nginx"},
		{"SHELFLIFE_MAX_UNPAID_ORDERS": "-1"},
		{"SHELFLIFE_SIGNUP_PER_ACCOUNT_PER_HOUR": "-3"},
		{"SHELFLIFE_LOGIN_LOCKOUT": "1m", "SHELFLIFE_LOGIN_LOCKOUT_MAX": "30s"},
	} {
		if _, err := Load("", func(k string) string { return e[k] }); err == nil {
			t.Errorf("Load accepted %v", e)
		}
	}
}
