package api

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Password and display-name rules for signup and password changes.
const (
	minPasswordRunes = 10
	// bcrypt reads at most 72 bytes; a longer password would be cut silently.
	maxPasswordBytes = 72
	maxNameRunes     = 100
)

// commonPasswords are refused whatever their length: the first guesses of
// any attacker, lower-cased. The list is short on purpose; the length rule
// does the rest.
var commonPasswords = map[string]bool{
	"1234567890": true, "12345678910": true, "123456789a": true, "0123456789": true,
	"0987654321": true, "1111111111": true, "1q2w3e4r5t": true, "1qaz2wsx3edc": true,
	"qwertyuiop": true, "qwerty1234": true, "qwerty12345": true, "asdfghjkl;": true,
	"asdfghjkl1": true, "zxcvbnm123": true, "password12": true, "password123": true,
	"password1234": true, "password!!": true, "passw0rd12": true, "p@ssw0rd12": true,
	"iloveyou12": true, "iloveyou123": true, "letmein123": true, "welcome123": true,
	"admin12345": true, "administrator": true, "abcdefghij": true, "abc1234567": true,
	"football123": true, "baseball123": true, "sunshine123": true, "princess123": true,
	"superman123": true, "monkey1234": true, "dragon1234": true, "changeme123": true,
	"shelflife123": true, "shelflife1234": true,
}

// passwordProblem tells why a new password is refused, or "" when it is
// accepted. email is the account's (normalized) email.
func passwordProblem(password, email string) string {
	switch {
	case utf8.RuneCountInString(password) < minPasswordRunes:
		return "password must be at least 10 characters long"
	case len(password) > maxPasswordBytes:
		return "password must be at most 72 bytes long"
	case strings.TrimSpace(password) == "":
		return "password must not be only spaces"
	}
	lower := strings.ToLower(password)
	if commonPasswords[lower] {
		return "password is one of the most common passwords; choose another"
	}
	if local, _, _ := strings.Cut(email, "@"); email != "" && (lower == email || lower == local) {
		return "password must not be the email address"
	}
	return ""
}

// bidiControl reports the Unicode bidirectional embedding, override and
// isolate characters, which can make a name display as something else.
func bidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') || r == '\u200E' || r == '\u200F' || r == '\u061C'
}

// cleanText trims s and tells what is wrong with it as shown text: control
// characters (NUL, line breaks) and bidi controls are refused rather than
// stripped, so what is stored is what was sent.
func cleanText(field, s string, maxRunes int, required bool) (string, *Error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			return "", invalid("%s is required", field)
		}
		return "", nil
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return "", invalid("%s is %d characters long, at most %d", field, n, maxRunes)
	}
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			return "", invalid("%s is not valid UTF-8", field)
		case unicode.IsControl(r):
			return "", invalid("%s must not contain control characters (U+%04X)", field, r)
		case bidiControl(r):
			return "", invalid("%s must not contain bidirectional text controls (U+%04X)", field, r)
		}
	}
	return s, nil
}
