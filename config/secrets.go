package config

import (
	"errors"
	"slices"
	"strings"
)

// placeholderSecrets are values this repository ships in its examples
// (configs/local.yaml, earlier compose files): anyone can read them, so a
// shop outside demo mode must not run with them.
var placeholderSecrets = []string{
	"local-development-secret-change-me",
	"compose-secret-change-me-please",
	"shelflife-demo",
}

// minSecretBytes is the shortest jwt_secret accepted outside demo mode:
// an HS256 key of 256 bits.
const minSecretBytes = 32

func placeholder(v string) bool {
	return slices.Contains(placeholderSecrets, v) || strings.Contains(strings.ToLower(v), "change-me")
}

// secretProblems refuses secrets anyone could know. In demo mode they are
// allowed (and Start warns); elsewhere the node does not start.
func (c Node) secretProblems() []error {
	var errs []error
	if c.JWTSecret != "" && len(c.JWTSecret) < 16 {
		errs = append(errs, errors.New("jwt_secret: at least 16 characters (or empty for a random one)"))
	}
	if c.Demo {
		return errs
	}
	if c.JWTSecret != "" && (placeholder(c.JWTSecret) || len(c.JWTSecret) < minSecretBytes) {
		errs = append(errs, errors.New("jwt_secret is a published placeholder or shorter than 32 bytes: anyone could sign admin tokens with it. "+
			"Outside demo mode set a random one of 32 bytes or more (e.g. openssl rand -base64 36), the same on every node"))
	}
	if c.AdminPassword != "" && (placeholder(c.AdminPassword) || len(c.AdminPassword) < 10) {
		errs = append(errs, errors.New("admin_password is a published placeholder or shorter than 10 characters; outside demo mode choose your own"))
	}
	return errs
}

// PlaceholderInUse names a placeholder the (demo) configuration runs with.
func (c Node) PlaceholderInUse() string {
	switch {
	case c.JWTSecret != "" && placeholder(c.JWTSecret):
		return "jwt_secret"
	case c.AdminPassword != "" && placeholder(c.AdminPassword):
		return "admin_password"
	}
	return ""
}
