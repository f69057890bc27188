package config

import (
	"strings"
	"testing"
)

// Outside demo mode a published placeholder or a short secret stops the
// node at start; demo mode allows them.
func TestPlaceholderSecretsRefusedOutsideDemo(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SHELFLIFE_JWT_SECRET": "local-development-secret-change-me"}, "jwt_secret"},
		{map[string]string{"SHELFLIFE_JWT_SECRET": "compose-secret-change-me-please"}, "jwt_secret"},
		{map[string]string{"SHELFLIFE_JWT_SECRET": "only-twenty-eight-bytes-long"}, "jwt_secret"},
		{map[string]string{"SHELFLIFE_JWT_SECRET": "a-random-enough-secret-of-forty-bytes-xx", "SHELFLIFE_ADMIN_PASSWORD": "shelflife-demo"}, "admin_password"},
		{map[string]string{"SHELFLIFE_JWT_SECRET": "a-random-enough-secret-of-forty-bytes-xx", "SHELFLIFE_ADMIN_PASSWORD": "short"}, "admin_password"},
	} {
		_, err := Load("", func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v outside demo: %v, want a refusal naming %s", tc.env, err, tc.want)
		}
		tc.env["SHELFLIFE_DEMO"] = "true"
		if _, err := Load("", func(k string) string { return tc.env[k] }); err != nil {
			t.Errorf("%v in demo mode: %v, want it allowed", tc.env, err)
		}
	}
	ok := map[string]string{"SHELFLIFE_JWT_SECRET": "a-random-enough-secret-of-forty-bytes-xx", "SHELFLIFE_ADMIN_PASSWORD": "an-operator-password"}
	if _, err := Load("", func(k string) string { return ok[k] }); err != nil {
		t.Errorf("a good secret and password: %v", err)
	}
	if _, err := Load("../configs/local.yaml", func(k string) string {
		return map[string]string{"SHELFLIFE_DEMO": "false"}[k]
	}); err == nil {
		t.Error("configs/local.yaml with demo off was accepted: its secret is published")
	}
}
