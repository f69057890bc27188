// Package api is ShelfLife's HTTP face: the Fiber REST and WebSocket
// handlers, authentication, the one table that maps errors to statuses, the
// OpenAPI document and operational endpoints.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/prometheus/client_golang/prometheus"

	"shelflife/domain"
	"shelflife/stockview"
)

// Users is what the handlers need of the user store.
type Users interface {
	CreateUser(ctx context.Context, u domain.User) (domain.User, error)
	UserByEmail(ctx context.Context, email string) (domain.User, error)
	UserByID(ctx context.Context, id int64) (domain.User, error)
	SetAddress(ctx context.Context, userID int64, a domain.Address) error
	// RevokeTokens, SetPassword, SetRole and DeleteUser each bump or end
	// the user's token version, which revokes the user's tokens.
	RevokeTokens(ctx context.Context, userID int64) error
	SetPassword(ctx context.Context, userID int64, hash string) (domain.User, error)
	SetRole(ctx context.Context, userID int64, role domain.Role) (domain.User, error)
	DeleteUser(ctx context.Context, userID int64) error
}

// Catalog is what the handlers need of the catalog store.
type Catalog interface {
	CreateWarehouse(ctx context.Context, w domain.Warehouse) (domain.Warehouse, error)
	Warehouses(ctx context.Context) ([]domain.Warehouse, error)
	CreateProduct(ctx context.Context, p domain.Product) (domain.Product, error)
	Products(ctx context.Context) ([]domain.Product, error)
}

// Check is one readiness probe.
type Check func(ctx context.Context) error

// Deps are the server's collaborators.
type Deps struct {
	Users   Users
	Catalog Catalog
	// Checks are run by /readyz, by name.
	Checks map[string]Check
	// Metrics is where request metrics are registered and what /metrics
	// serves; nil makes a private registry.
	Metrics *prometheus.Registry
	// OnCatalogChange, when set, runs after a warehouse or product is added.
	OnCatalogChange func(context.Context) error
	// View is the read model shoppers browse and sockets follow.
	View *stockview.View
	// Inventory receives and lists lots.
	Inventory Inventory
	// Orders places orders and runs payment callbacks.
	Orders Orders
	// Callbacks checks a payment callback's nonce in memory, before any
	// grain or query is asked about the order.
	Callbacks CallbackVerifier
	// Carts keeps shoppers' carts.
	Carts Carts
	// Pages holds index.html, admin.html and their assets; nil serves none.
	Pages fs.FS
	// Cluster describes the actor cluster for admins.
	Cluster ClusterInfo
	// Dashboard gives the admin dashboard's figures; nil answers 501.
	Dashboard Dashboard
	// Throttle keeps the sign-in and signup limits; nil: no limits.
	Throttle Throttle
}

// Config tunes the server.
type Config struct {
	JWTSecret  []byte
	TokenTTL   time.Duration
	BcryptCost int
	// BodyLimit is the largest request body accepted, in bytes.
	BodyLimit int
	// RequestTimeout bounds the context handlers pass down.
	RequestTimeout time.Duration
	// Deals is how many units of one deal lot a shopper may buy.
	Deals domain.DealLimit
	// MetricsElsewhere: /metrics is served on an operators' address, not
	// on this listener.
	MetricsElsewhere bool
	// SocketsPerAddress bounds the WebSockets open at once from one client
	// address (0: no bound).
	SocketsPerAddress int
	// TrustedProxies are the addresses (or CIDRs) of load balancers whose
	// X-Forwarded-For names the client; from anyone else it is ignored.
	TrustedProxies []string
	// Limits throttle signing in and up (with Deps.Throttle) and bound
	// password hashing.
	Limits Limits
	// RequestLog logs every request; without it only 5xx answers are.
	RequestLog bool
	Logger     *slog.Logger
	Now        func() time.Time
}

// Server is the HTTP server.
type Server struct {
	cfg       Config
	deps      Deps
	app       *fiber.App
	tokens    *Tokens
	log       *slog.Logger
	metrics   *httpMetrics
	dummyHash string
	addrs     *addressCache
	hub       *stockHub
	orders    *orderHub
	sockets   *socketLimit
	accounts  *accountCache
	hashing   hashSlots
	// trustedNets are Config.TrustedProxies, parsed.
	trustedNets []netip.Prefix
	// throttleDownAt is when Redis last failed to answer a limit, and
	// throttleLogged when that was last logged (UnixNano).
	throttleDownAt atomic.Int64
	throttleLogged atomic.Int64
	running        inFlight
	// drainReport is the constant drainReport; tests shorten it.
	drainReport time.Duration
	silent      silentConns
	// silentGrace is the constant silentGrace; tests shorten it.
	silentGrace time.Duration
}

const (
	localPrincipal = "principal"
	localRequestID = "request_id"
)

// New builds the server and its routes.
func New(cfg Config, deps Deps) (*Server, error) {
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = 10
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 64 << 10
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tokens, err := NewTokens(cfg.JWTSecret, cfg.TokenTTL, cfg.Now)
	if err != nil {
		return nil, err
	}
	if deps.Metrics == nil {
		deps.Metrics = prometheus.NewRegistry()
	}
	if cfg.Limits.HashConcurrency <= 0 {
		cfg.Limits.HashConcurrency = max(1, runtime.GOMAXPROCS(0)-1)
	}
	// A hash of a password nobody knows, checked for unknown emails.
	dummy, err := HashPassword(newRequestID()+newRequestID(), cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, deps: deps, tokens: tokens, log: cfg.Logger, dummyHash: dummy,
		addrs:    &addressCache{ttl: 30 * time.Second, m: map[int64]cachedAddress{}},
		accounts: &accountCache{ttl: accountTTL, m: map[int64]cachedAccount{}},
		hashing:  make(hashSlots, cfg.Limits.HashConcurrency), drainReport: drainReport, silentGrace: silentGrace}
	if s.trustedNets, err = parseTrusted(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	s.hub = newStockHub(deps.View)
	s.sockets = newSocketLimit(cfg.SocketsPerAddress)
	s.orders = &orderHub{subs: map[string]map[*subscriber]struct{}{}}
	if err := deps.Metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shelflife_ws_subscribers", Help: "Open stock WebSocket subscribers.",
	}, func() float64 { return float64(s.hub.count()) })); err != nil {
		return nil, err
	}
	if err := deps.Metrics.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "shelflife_ws_changes_dropped_total", Help: "Stock changes not fanned out because the hub queue was full.",
	}, func() float64 { return float64(s.hub.dropped.Load()) })); err != nil {
		return nil, err
	}
	s.metrics, err = newHTTPMetrics(deps.Metrics)
	if err != nil {
		return nil, err
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "shelflife",
		BodyLimit:             cfg.BodyLimit,
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
	})
	s.app.Server().ConnState = s.silent.track
	s.routes()
	return s, nil
}

// App is the Fiber application, for tests and for mounting more routes.
func (s *Server) App() *fiber.App { return s.app }

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting requests and waits for those in flight; a
// connection that has sent no request for silentGrace is closed (see
// silentConns). When the wait passes drainReport, and again when ctx ends
// first, each request still running is logged (id, path, seconds so far)
// with the number of connections still open.
func (s *Server) Shutdown(ctx context.Context) error {
	slow := time.AfterFunc(s.drainReport, func() { s.logRunning("HTTP drain is slow") })
	drained := make(chan struct{})
	go s.silent.closeWhileDraining(s.silentGrace, drained)
	err := s.app.ShutdownWithContext(ctx)
	close(drained)
	slow.Stop()
	if err != nil {
		s.logRunning("HTTP drain ended")
	}
	return err
}

// drainReport is how long the HTTP drain may take before what it waits
// for is logged: requests end at their request_timeout, so a drain this
// long waits on something slow.
const drainReport = 5 * time.Second

// runningLogged bounds the requests logged by name in one report.
const runningLogged = 20

func (s *Server) logRunning(msg string) {
	now := time.Now()
	running := s.running.snapshot()
	for _, r := range running[:min(len(running), runningLogged)] {
		s.log.Warn(msg+": request still running", "request_id", r.id,
			"method", r.method, "path", r.path, "seconds", now.Sub(r.start).Seconds())
	}
	s.log.Warn(msg, "requests_running", len(running), "connections_open", s.app.Server().GetOpenConnectionsCount())
}

func (s *Server) routes() {
	app := s.app
	app.Use(securityHeaders, s.requestContext, s.recoverPanics)

	if s.deps.Pages != nil {
		app.Get("/", s.page("index.html"))
		app.Get("/admin", s.page("admin.html"))
		app.Use("/assets", filesystem.New(filesystem.Config{Root: http.FS(s.deps.Pages), MaxAge: 60}))
	}
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	if !s.cfg.MetricsElsewhere {
		app.Get("/metrics", s.serveMetrics)
	}

	v1 := app.Group("/api/v1")
	v1.Get("/openapi.yaml", serveOpenAPI)

	v1.Post("/auth/signup", s.signup)
	v1.Post("/auth/login", s.login)
	v1.Post("/auth/logout", s.requireAuth, s.logout)
	v1.Get("/me", s.requireAuth, s.me)
	v1.Put("/me/address", s.requireAuth, s.setAddress)
	v1.Put("/me/password", s.requireAuth, s.changePassword)

	v1.Get("/products", s.optionalAuth, s.listProducts)
	v1.Get("/deals", s.optionalAuth, s.listDeals)
	v1.Get("/warehouses/serving", s.optionalAuth, s.listServing)
	v1.Get("/ws/stock", append([]fiber.Handler{s.optionalAuth, s.prepareStockSocket}, s.socket(s.stockSocket)...)...)

	v1.Get("/cart", s.requireAuth, s.getCart)
	v1.Put("/cart/items", s.requireAuth, s.putCartItem)
	v1.Delete("/cart/items/:key", s.requireAuth, s.deleteCartItem)
	v1.Post("/orders", s.requireAuth, s.placeOrder)
	v1.Get("/orders", s.requireAuth, s.myOrders)
	v1.Get("/orders/:id", s.requireAuth, s.getOrder)
	v1.Get("/ws/orders/:id", append([]fiber.Handler{s.requireAuth, s.prepareOrderSocket}, s.socket(s.orderSocket)...)...)
	v1.Get("/payments/kakao/approve", s.kakaoApprove)
	v1.Get("/payments/kakao/cancel", s.kakaoAbort(domain.ReasonPaymentCancelled))
	v1.Get("/payments/kakao/fail", s.kakaoAbort(domain.ReasonPaymentFailed))

	admin := v1.Group("/admin", s.requireAuth, requireRole(domain.RoleAdmin))
	admin.Post("/warehouses", s.createWarehouse)
	admin.Get("/warehouses", s.listWarehouses)
	admin.Post("/products", s.createProduct)
	admin.Get("/products", s.listAdminProducts)
	admin.Post("/lots", s.receiveLot)
	admin.Get("/lots", s.listLots)
	admin.Get("/lots/at-risk", s.atRiskLots)
	admin.Get("/waste", s.wasteReport)
	admin.Get("/ws/stock", append([]fiber.Handler{s.prepareAdminSocket}, s.socket(s.stockSocket)...)...)
	admin.Get("/orders", s.adminOrders)
	admin.Get("/payments/reconciliation", s.reconciliation)
	admin.Get("/cluster", s.clusterInfo)
	s.dashboardRoutes(v1, admin)
	admin.Put("/users/:id/role", s.setUserRole)
	admin.Delete("/users/:id", s.deleteUser)
}

// page serves one of the embedded pages.
func (s *Server) page(name string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		b, err := fs.ReadFile(s.deps.Pages, name)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(b)
	}
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestContext gives the request an id (the client's X-Request-Id when it
// sends a sane one; requestLogger carries it), a deadline, and records
// metrics.
func (s *Server) requestContext(c *fiber.Ctx) error {
	start := time.Now()
	id := c.Get(fiber.HeaderXRequestID)
	if id == "" || len(id) > 64 {
		id = newRequestID()
	} else {
		id = string([]byte(id)) // Fiber reuses the header's memory
	}
	c.Set(fiber.HeaderXRequestID, id)
	c.Locals(localRequestID, id)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	c.SetUserContext(ctx)
	if c.Context().ConnRequestNum() == 1 {
		s.silent.heard(c.Context().Conn())
	}
	defer s.running.done(s.running.add(runningRequest{id: id, method: c.Method(), path: strings.Clone(c.Path()), start: start}))

	err := c.Next()
	if err != nil {
		// Let the error handler write the answer now so the status is known.
		if herr := s.errorHandler(c, err); herr != nil {
			s.requestLogger(c).Error("write error response", "error", herr.Error())
		}
	}
	status := c.Response().StatusCode()
	route := c.Route().Path
	elapsed := time.Since(start)
	s.metrics.observe(c.Method(), route, status, elapsed)
	if !s.cfg.RequestLog && status < 500 {
		return nil
	}
	s.requestLogger(c).Info("request",
		"method", c.Method(),
		"path", string([]byte(c.Path())),
		"route", route,
		"status", status,
		"duration_ms", float64(elapsed.Microseconds())/1000,
	)
	return nil
}

// recoverPanics turns a handler panic into a 500 and a log line.
func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.requestLogger(c).Error("panic in handler", "panic", r)
			err = &Error{Status: 500, Code: "internal", Message: "something went wrong on our side; it was logged"}
		}
	}()
	return c.Next()
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.deps.Checks))
	for name, check := range s.deps.Checks {
		go func() { results <- result{name, check(ctx)} }()
	}
	out := readiness{Status: "ok", Checks: map[string]string{}}
	for range s.deps.Checks {
		r := <-results
		if r.err != nil {
			out.Status = "unavailable"
			out.Checks[r.name] = "unavailable"
			s.requestLogger(c).Warn("readiness check failed", "check", r.name, "error", r.err.Error())
			continue
		}
		out.Checks[r.name] = "ok"
	}
	if out.Status != "ok" {
		return c.Status(fiber.StatusServiceUnavailable).JSON(out)
	}
	return c.JSON(out)
}
