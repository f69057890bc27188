package api

import (
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"shelflife/domain"
)

const tokenIssuer = "shelflife"

// Principal is the signed-in caller. Parse fills it from the token; an
// authenticated request then has Role from the user as stored.
type Principal struct {
	UserID int64
	Role   domain.Role
	// Version is the token version the token was issued at.
	Version int64
}

type claims struct {
	Role string `json:"role"`
	// Version is the user's token version when the token was issued; a
	// token without it was issued at version 0.
	Version int64 `json:"ver,omitempty"`
	jwt.RegisteredClaims
}

// Tokens signs and checks session tokens (HS256 JWT).
//
// A token it signed or checked is remembered, by its exact text, with what
// it says and when it expires, so that a shopper's next request spends no
// signature check or JSON on it (a fifth of a refused placement's CPU): the
// same text can only say the same thing. Expiry is checked on every use;
// revocation and role are checked per request by the caller, as for a
// token read afresh. Only well-signed tokens are remembered, at most
// maxVerified of them (all are forgotten when that many are).
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time

	verified sync.Map // token text -> verifiedToken
	count    atomic.Int64
	limit    int64 // maxVerified; smaller in tests
}

// maxVerified bounds the tokens remembered (about 300 bytes each).
const maxVerified = 100_000

type verifiedToken struct {
	p   Principal
	exp time.Time
}

// remember records raw (a copy: the caller's text may live in a reused
// buffer) as a well-signed token saying p until exp.
func (t *Tokens) remember(raw string, p Principal, exp time.Time) {
	if t.count.Add(1) > t.limit {
		t.verified.Clear()
		t.count.Store(1)
	}
	t.verified.Store(strings.Clone(raw), verifiedToken{p: p, exp: exp})
}

// NewTokens makes a signer; the secret must be at least 16 bytes.
func NewTokens(secret []byte, ttl time.Duration, now func() time.Time) (*Tokens, error) {
	if len(secret) < 16 {
		return nil, errors.New("jwt secret: at least 16 bytes")
	}
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{secret: append([]byte(nil), secret...), ttl: ttl, now: now, limit: maxVerified}, nil
}

// Issue signs a token for u.
func (t *Tokens) Issue(u domain.User) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Role:    string(u.Role),
		Version: u.TokenVersion,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   strconv.FormatInt(u.ID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	s, err := tok.SignedString(t.secret)
	if err == nil && u.ID > 0 && (u.Role == domain.RoleAdmin || u.Role == domain.RoleShopper) {
		// Remembered as Parse would find it: the signed expiry is in
		// whole seconds.
		t.remember(s, Principal{UserID: u.ID, Role: u.Role, Version: u.TokenVersion}, jwt.NewNumericDate(exp).Time)
	}
	return s, exp, err
}

// Parse checks a token and returns who it speaks for.
func (t *Tokens) Parse(raw string) (Principal, error) {
	if v, ok := t.verified.Load(raw); ok {
		vt := v.(verifiedToken)
		if !t.now().Before(vt.exp) {
			return Principal{}, errExpiredToken
		}
		return vt.p, nil
	}
	var cl claims
	_, err := jwt.ParseWithClaims(raw, &cl, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Principal{}, errExpiredToken
		}
		return Principal{}, errInvalidToken
	}
	id, err := strconv.ParseInt(cl.Subject, 10, 64)
	role := domain.Role(cl.Role)
	if err != nil || id <= 0 || (role != domain.RoleAdmin && role != domain.RoleShopper) {
		return Principal{}, errInvalidToken
	}
	p := Principal{UserID: id, Role: role, Version: cl.Version}
	t.remember(raw, p, cl.ExpiresAt.Time)
	return p, nil
}

// HashPassword hashes with bcrypt at cost.
func HashPassword(password string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(h), err
}

func checkPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// principalFromHeader reads the bearer token, if any.
func (s *Server) principalFromHeader(c *fiber.Ctx) (Principal, bool, error) {
	h := c.Get(fiber.HeaderAuthorization)
	if h == "" {
		// Browsers cannot set headers on a WebSocket: accept ?token= there.
		if t := c.Query("token"); t != "" && websocket.IsWebSocketUpgrade(c) {
			h = "Bearer " + t
		} else {
			return Principal{}, false, nil
		}
	}
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return Principal{}, false, errInvalidToken
	}
	p, err := s.tokens.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Principal{}, false, err
	}
	// A well-signed token may still be revoked, or its user deleted or
	// given another role.
	p, err = s.current(c.UserContext(), p)
	if err != nil {
		return Principal{}, false, err
	}
	return p, true, nil
}

// requireAuth lets signed-in callers through, with their principal in Locals.
func (s *Server) requireAuth(c *fiber.Ctx) error {
	p, ok, err := s.principalFromHeader(c)
	if err != nil {
		return err
	}
	if !ok {
		return errMissingToken
	}
	c.Locals(localPrincipal, p)
	return c.Next()
}

// optionalAuth records the principal when a valid token is sent; a bad token
// is still an error, so a client never silently browses as anonymous.
func (s *Server) optionalAuth(c *fiber.Ctx) error {
	p, ok, err := s.principalFromHeader(c)
	if err != nil {
		return err
	}
	if ok {
		c.Locals(localPrincipal, p)
	}
	return c.Next()
}

func requireRole(role domain.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, ok := principal(c)
		if !ok {
			return errMissingToken
		}
		if p.Role != role {
			return errForbidden
		}
		return c.Next()
	}
}

func principal(c *fiber.Ctx) (Principal, bool) {
	p, ok := c.Locals(localPrincipal).(Principal)
	return p, ok
}

type addressRequest struct {
	Label string   `json:"label"`
	Lat   *float64 `json:"lat"`
	Lng   *float64 `json:"lng"`
}

func (r *addressRequest) validate() error {
	if r.Lat == nil || r.Lng == nil {
		return invalid("address needs lat and lng")
	}
	label, err := cleanText("address label", r.Label, 200, false)
	if err != nil {
		return err
	}
	r.Label = label
	return domain.Point{Lat: *r.Lat, Lng: *r.Lng}.Validate()
}

func (r *addressRequest) address() domain.Address {
	return domain.Address{Label: strings.TrimSpace(r.Label), Point: domain.Point{Lat: *r.Lat, Lng: *r.Lng}}
}

type signupRequest struct {
	Email    string          `json:"email"`
	Password string          `json:"password"`
	Name     string          `json:"name"`
	Address  *addressRequest `json:"address"`
}

func normalizeEmail(raw string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(raw))
	if e == "" {
		return "", invalid("email is required")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 {
		return "", invalid("email %q is not an email address", raw)
	}
	return e, nil
}

func (r *signupRequest) validate() error {
	email, err := normalizeEmail(r.Email)
	if err != nil {
		return err
	}
	r.Email = email
	if msg := passwordProblem(r.Password, r.Email); msg != "" {
		return invalid("%s", msg)
	}
	name, verr := cleanText("name", r.Name, maxNameRunes, true)
	if verr != nil {
		return verr
	}
	r.Name = name
	if r.Address != nil {
		if err := r.Address.validate(); err != nil {
			return fmt.Errorf("address: %w", err)
		}
	}
	return nil
}

type userResponse struct {
	ID      int64           `json:"id"`
	Email   string          `json:"email"`
	Name    string          `json:"name"`
	Role    domain.Role     `json:"role"`
	Address *domain.Address `json:"address,omitempty"`
}

func toUserResponse(u domain.User) userResponse {
	return userResponse{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Address: u.Address}
}

func (s *Server) signup(c *fiber.Ctx) error {
	var req signupRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	lim := s.cfg.Limits
	if err := s.limit(c, "too many signups; try again later",
		bucket{"signup-address:" + s.clientAddress(c), lim.SignupPerAddress},
		bucket{"signup-account:" + req.Email, lim.SignupPerAccount}); err != nil {
		return err
	}
	hash, err := s.hashPassword(c.UserContext(), req.Password)
	if err != nil {
		return err
	}
	u := domain.User{Email: req.Email, Name: req.Name, Role: domain.RoleShopper, PasswordHash: hash}
	if req.Address != nil {
		a := req.Address.address()
		u.Address = &a
	}
	u, err = s.deps.Users.CreateUser(c.UserContext(), u)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toUserResponse(u))
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (r *loginRequest) validate() error {
	if strings.TrimSpace(r.Email) == "" || r.Password == "" {
		return invalid("email and password are required")
	}
	r.Email = strings.ToLower(strings.TrimSpace(r.Email))
	if len(r.Email) > 254 || len(r.Password) > 1024 {
		// No account has such an email; the email also names rate-limit keys.
		return invalid("email or password is too long")
	}
	return nil
}

type loginResponse struct {
	Token     string      `json:"token"`
	ExpiresAt time.Time   `json:"expires_at"`
	Role      domain.Role `json:"role"`
	UserID    int64       `json:"user_id"`
}

func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	lim := s.cfg.Limits
	if err := s.limit(c, "too many sign-in attempts; try again later",
		bucket{"login-address:" + s.clientAddress(c), lim.LoginPerAddress},
		bucket{"login-account:" + req.Email, lim.LoginPerAccount}); err != nil {
		return err
	}
	u, err := s.deps.Users.UserByEmail(c.UserContext(), req.Email)
	unknown := errors.Is(err, domain.ErrNotFound)
	if err != nil && !unknown {
		return err
	}
	hash := u.PasswordHash
	if unknown {
		// Spend the same time, and count the same failures, as a wrong
		// password, so that emails cannot be probed.
		hash = s.dummyHash
	}
	if err := s.verifyPassword(c, req.Email, hash, req.Password); err != nil {
		return err
	}
	if unknown {
		return errBadLogin
	}
	tok, exp, err := s.tokens.Issue(u)
	if err != nil {
		return err
	}
	s.rememberUser(u, s.cfg.Now())
	return c.JSON(loginResponse{Token: tok, ExpiresAt: exp, Role: u.Role, UserID: u.ID})
}

func (s *Server) me(c *fiber.Ctx) error {
	p, _ := principal(c)
	u, err := s.deps.Users.UserByID(c.UserContext(), p.UserID)
	if errors.Is(err, domain.ErrNotFound) {
		return errInvalidToken
	}
	if err != nil {
		return err
	}
	return c.JSON(toUserResponse(u))
}

func (s *Server) setAddress(c *fiber.Ctx) error {
	var req addressRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	p, _ := principal(c)
	a := req.address()
	s.addrs.forget(p.UserID)
	if err := s.deps.Users.SetAddress(c.UserContext(), p.UserID, a); err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return errInvalidToken
		}
		return err
	}
	s.addrs.forget(p.UserID)
	return c.JSON(a)
}
