package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
)

var (
	errRevokedToken = &Error{http.StatusUnauthorized, "token_revoked",
		"the token was revoked (signed out, password or role changed, or account removed); sign in again"}
	errOwnAccount = &Error{http.StatusConflict, "own_account", "an admin cannot change the role of, or remove, their own account"}
)

// accountTTL is how stale the role, existence and token version checked on
// every authenticated request may be on a node that did not make the
// change; the node that made it forgets its copy at once.
const accountTTL = 30 * time.Second

// accountStaleTTL is how long a copy may stand in while MySQL does not
// answer, so that a signed-in shopper's cart (Redis) still works then.
const accountStaleTTL = 5 * time.Minute

// accountCache keeps what each authenticated request checks of its user,
// so that a signed-in shopper does not cost a MySQL read per request.
type accountCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[int64]cachedAccount
}

type cachedAccount struct {
	role    domain.Role
	version int64
	gone    bool // no such user (deleted)
	at      time.Time
}

// get answers the copy of id if it is at most ttl old.
func (a *accountCache) get(id int64, now time.Time, ttl time.Duration) (cachedAccount, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.m[id]
	if !ok || now.Sub(c.at) > ttl || now.Before(c.at) {
		return cachedAccount{}, false
	}
	return c, true
}

func (a *accountCache) put(id int64, c cachedAccount) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.m) > 100_000 {
		a.m = map[int64]cachedAccount{}
	}
	a.m[id] = c
}

func (a *accountCache) forget(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, id)
}

// current checks a token's principal against its user as stored: the user
// must exist and be at the token's version; the role is the user's, not
// the token's.
func (s *Server) current(ctx context.Context, p Principal) (Principal, error) {
	now := s.cfg.Now()
	acct, ok := s.accounts.get(p.UserID, now, s.accounts.ttl)
	if !ok {
		u, err := s.deps.Users.UserByID(ctx, p.UserID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			acct = cachedAccount{gone: true, at: now}
			s.accounts.put(p.UserID, acct)
		case err != nil:
			stale, ok := s.accounts.get(p.UserID, now, accountStaleTTL)
			if !ok {
				return Principal{}, fmt.Errorf("check the token of user %d: %v: %w", p.UserID, err, domain.ErrUnavailable)
			}
			acct = stale
		default:
			acct = s.rememberUser(u, now)
		}
	}
	if acct.gone || acct.version != p.Version {
		return Principal{}, errRevokedToken
	}
	p.Role = acct.role
	return p, nil
}

// rememberUser keeps what a read of u says for the token check and the
// address lookup alike, so one read serves both (login's read included: a
// shopper's first order after signing in reads no user row).
func (s *Server) rememberUser(u domain.User, now time.Time) cachedAccount {
	acct := cachedAccount{role: u.Role, version: u.TokenVersion, at: now}
	s.accounts.put(u.ID, acct)
	s.addrs.put(u.ID, u.Address, now)
	return acct
}

// accountChanged makes this node see a user's change at once.
func (s *Server) accountChanged(id int64) {
	s.accounts.forget(id)
	s.addrs.forget(id)
}

// logout revokes every token of the caller: the version they carry is
// bumped, on every device.
func (s *Server) logout(c *fiber.Ctx) error {
	p, _ := principal(c)
	err := s.deps.Users.RevokeTokens(c.UserContext(), p.UserID)
	s.accountChanged(p.UserID)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (r *passwordRequest) validate() error {
	if r.CurrentPassword == "" || r.NewPassword == "" {
		return invalid("current_password and new_password are required")
	}
	return nil
}

// changePassword checks the current password, stores the new one and
// revokes every token issued before; it answers a fresh token.
func (s *Server) changePassword(c *fiber.Ctx) error {
	var req passwordRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	p, _ := principal(c)
	ctx := c.UserContext()
	u, err := s.deps.Users.UserByID(ctx, p.UserID)
	if errors.Is(err, domain.ErrNotFound) {
		return errRevokedToken
	}
	if err != nil {
		return err
	}
	if msg := passwordProblem(req.NewPassword, u.Email); msg != "" {
		return invalid("new_password: %s", msg)
	}
	if err := s.verifyPassword(c, u.Email, u.PasswordHash, req.CurrentPassword); err != nil {
		if errors.Is(err, errBadLogin) {
			return invalid("current_password is wrong")
		}
		return err
	}
	hash, err := s.hashPassword(ctx, req.NewPassword)
	if err != nil {
		return err
	}
	u, err = s.deps.Users.SetPassword(ctx, p.UserID, hash)
	s.accountChanged(p.UserID)
	if err != nil {
		return err
	}
	tok, exp, err := s.tokens.Issue(u)
	if err != nil {
		return err
	}
	return c.JSON(loginResponse{Token: tok, ExpiresAt: exp, Role: u.Role, UserID: u.ID})
}

// targetUser reads the :id of an admin's user route; an admin's own account
// is refused, so that the last admin cannot lock everyone out.
func targetUser(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, invalid("user id must be a positive integer")
	}
	if p, _ := principal(c); p.UserID == id {
		return 0, errOwnAccount
	}
	return id, nil
}

type roleRequest struct {
	Role domain.Role `json:"role"`
}

func (r *roleRequest) validate() error {
	if r.Role != domain.RoleShopper && r.Role != domain.RoleAdmin {
		return invalid("role must be %q or %q", domain.RoleShopper, domain.RoleAdmin)
	}
	return nil
}

// setUserRole promotes or demotes a user; the user's tokens are revoked, so
// a demoted admin's token stops working (on this node at once, on the
// others within accountTTL).
func (s *Server) setUserRole(c *fiber.Ctx) error {
	id, err := targetUser(c)
	if err != nil {
		return err
	}
	var req roleRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	u, err := s.deps.Users.SetRole(c.UserContext(), id, req.Role)
	s.accountChanged(id)
	if err != nil {
		return err
	}
	s.requestLogger(c).Info("user role changed", "user_id", id, "role", string(u.Role))
	return c.JSON(toUserResponse(u))
}

// deleteUser removes an account; its tokens then name no one. The user's
// orders stay.
func (s *Server) deleteUser(c *fiber.Ctx) error {
	id, err := targetUser(c)
	if err != nil {
		return err
	}
	err = s.deps.Users.DeleteUser(c.UserContext(), id)
	s.accountChanged(id)
	if err != nil {
		return err
	}
	s.requestLogger(c).Info("user deleted", "user_id", id)
	return c.SendStatus(fiber.StatusNoContent)
}
