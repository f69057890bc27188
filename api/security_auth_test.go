package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSignupRefusesWeakPasswordsAndUnsafeNames: signup asks for a password
// of at least 10 characters that is not a common one, only spaces or the
// email; display names are trimmed, bounded and free of control and bidi
// characters.
func TestSignupRefusesWeakPasswordsAndUnsafeNames(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	signup := func(email, password, name string) (int, []byte) {
		b, _ := json.Marshal(map[string]string{"email": email, "password": password, "name": name})
		return ts.do("POST", "/api/v1/auth/signup", "", string(b))
	}
	refused := []struct{ name, email, password, display string }{
		{"the word password", "a1@shop.test", "password", "A"},
		{"eight spaces", "a2@shop.test", "        ", "A"},
		{"ten spaces", "a3@shop.test", "          ", "A"},
		{"nine characters", "a4@shop.test", "abcdefgh1", "A"},
		{"common password", "a5@shop.test", "password123", "A"},
		{"common password in capitals", "a6@shop.test", "QwertyUIOP", "A"},
		{"the email", "long.name@shop.test", "Long.Name@shop.test", "A"},
		{"the email's name", "long.name2@shop.test", "long.name2", "A"},
		{"longer than bcrypt reads", "a7@shop.test", strings.Repeat("x", 73), "A"},
		{"name with NUL", "a8@shop.test", "fine-password-8", "Kim\x00"},
		{"name with right-to-left override", "a9@shop.test", "fine-password-9", "\u202Eevil.exe"},
		{"name with bidi isolate", "a10@shop.test", "fine-password-10", "Kim\u2066x\u2069"},
		{"name with a line break", "a11@shop.test", "fine-password-11", "Kim\nAdmin"},
		{"name of spaces", "a12@shop.test", "fine-password-12", "   "},
		{"name too long", "a13@shop.test", "fine-password-13", strings.Repeat("가", 101)},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			status, body := signup(tt.email, tt.password, tt.display)
			if status != 400 || errorCode(t, body) != "validation_failed" {
				t.Fatalf("got %d %s, want 400 validation_failed", status, body)
			}
			if !strings.Contains(string(body), "password") && !strings.Contains(string(body), "name") {
				t.Errorf("message does not say which field: %s", body)
			}
		})
	}
	body := ts.mustDo("POST", "/api/v1/auth/signup", "",
		`{"email":"ok@shop.test","password":"tomato-basket-7","name":"  김 알뜰  "}`, 201)
	var u userResponse
	if err := json.Unmarshal(body, &u); err != nil || u.Name != "김 알뜰" {
		t.Errorf("signup answered %s (%v); want the name trimmed", body, err)
	}
}
