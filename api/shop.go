package api

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
	"shelflife/stockview"
)

// addressCache keeps signed-in users' addresses for a short while so that
// browsing does not read MySQL per request. A node forgets an address it
// changed at once; other nodes within the TTL.
type addressCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[int64]cachedAddress
}

type cachedAddress struct {
	addr *domain.Address
	at   time.Time
}

func (a *addressCache) get(id int64, now time.Time) (*domain.Address, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.m[id]
	if !ok || now.Sub(c.at) > a.ttl {
		return nil, false
	}
	return c.addr, true
}

func (a *addressCache) put(id int64, addr *domain.Address, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.m) > 100_000 {
		a.m = map[int64]cachedAddress{}
	}
	a.m[id] = cachedAddress{addr: addr, at: now}
}

func (a *addressCache) forget(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, id)
}

// address is where to show stock for: ?lat=&lng= when given, else the
// signed-in user's address.
func (s *Server) address(c *fiber.Ctx) (domain.Point, error) {
	latQ, lngQ := c.Query("lat"), c.Query("lng")
	if latQ != "" || lngQ != "" {
		lat, err1 := strconv.ParseFloat(latQ, 64)
		lng, err2 := strconv.ParseFloat(lngQ, 64)
		if err1 != nil || err2 != nil {
			return domain.Point{}, invalid("lat and lng must both be numbers")
		}
		p := domain.Point{Lat: lat, Lng: lng}
		return p, p.Validate()
	}
	pr, ok := principal(c)
	if !ok {
		return domain.Point{}, errNoAddress
	}
	return s.userAddress(c.UserContext(), pr.UserID)
}

func (s *Server) userAddress(ctx context.Context, userID int64) (domain.Point, error) {
	now := s.cfg.Now()
	addr, ok := s.addrs.get(userID, now)
	if !ok {
		u, err := s.deps.Users.UserByID(ctx, userID)
		if errors.Is(err, domain.ErrNotFound) {
			return domain.Point{}, errInvalidToken
		}
		if err != nil {
			return domain.Point{}, err
		}
		addr = u.Address
		s.rememberUser(u, now)
	}
	if addr == nil {
		return domain.Point{}, errNoAddress
	}
	return addr.Point, nil
}

func (s *Server) listProducts(c *fiber.Ctx) error {
	addr, err := s.address(c)
	if err != nil {
		return err
	}
	f := stockview.Filter{Category: strings.TrimSpace(c.Query("category")), Query: strings.TrimSpace(c.Query("q"))}
	body, err := s.deps.View.ProductsJSON(addr, f)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

func (s *Server) listDeals(c *fiber.Ctx) error {
	addr, err := s.address(c)
	if err != nil {
		return err
	}
	body, err := s.deps.View.DealsJSON(addr)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

type servingResponse struct {
	Address    domain.Point       `json:"address"`
	Warehouses []domain.Warehouse `json:"warehouses"`
}

func (s *Server) listServing(c *fiber.Ctx) error {
	addr, err := s.address(c)
	if err != nil {
		return err
	}
	ws := s.deps.View.Serving(addr)
	if ws == nil {
		ws = []domain.Warehouse{}
	}
	return c.JSON(servingResponse{Address: addr, Warehouses: ws})
}
