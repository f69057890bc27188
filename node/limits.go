package node

import (
	"time"

	"shelflife/api"
	"shelflife/config"
)

// apiLimits is the API's view of the sign-in and signup settings.
func apiLimits(c config.Node) api.Limits {
	return api.Limits{
		LoginPerAddress:  api.Rate{Events: c.LoginPerAddressPerMinute, Per: time.Minute},
		LoginPerAccount:  api.Rate{Events: c.LoginPerAccountPerMinute, Per: time.Minute},
		SignupPerAddress: api.Rate{Events: c.SignupPerAddressPerHour, Per: time.Hour},
		SignupPerAccount: api.Rate{Events: c.SignupPerAccountPerHour, Per: time.Hour},
		LockoutAfter:     c.LoginLockoutAfter,
		Lockout:          c.LoginLockout.D(),
		LockoutMax:       c.LoginLockoutMax.D(),
		HashConcurrency:  c.PasswordHashConcurrency,
	}
}
