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
	pg, err := listingPage(c)
	if err != nil {
		return err
	}
	f := stockview.Filter{Category: strings.TrimSpace(c.Query("category")), Query: strings.TrimSpace(c.Query("q"))}
	// Written into the response's own (pooled) body buffer.
	c.Response().ResetBody()
	total, err := s.deps.View.WriteProductsJSON(c.Response().BodyWriter(), addr, f, pg)
	if err != nil {
		return err
	}
	pageHeaders(c, total)
	return nil
}

// listingPage reads ?limit= (default stockview.DefaultPageSize, at most
// stockview.MaxPageSize) and ?offset= (default 0) of a shopper's listing.
func listingPage(c *fiber.Ctx) (stockview.Page, error) {
	pg := stockview.Page{Limit: stockview.DefaultPageSize}
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > stockview.MaxPageSize {
			return pg, badRequest("invalid_query", "limit must be a whole number from 1 to %d", stockview.MaxPageSize)
		}
		pg.Limit = n
	}
	if raw := c.Query("offset"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return pg, badRequest("invalid_query", "offset must be a whole number from 0")
		}
		pg.Offset = n
	}
	return pg, nil
}

// sendPage answers a page of a listing.
func sendPage(c *fiber.Ctx, body []byte, total int) error {
	pageHeaders(c, total)
	return c.Send(body)
}

// pageHeaders mark a listing's page as JSON; X-Total-Count is the
// listing's length, so a client knows whether to ask for the next page.
func pageHeaders(c *fiber.Ctx, total int) {
	c.Set("X-Total-Count", strconv.Itoa(total))
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
}

func (s *Server) listDeals(c *fiber.Ctx) error {
	addr, err := s.address(c)
	if err != nil {
		return err
	}
	pg, err := listingPage(c)
	if err != nil {
		return err
	}
	body, total, err := s.deps.View.DealsJSON(addr, pg)
	if err != nil {
		return err
	}
	return sendPage(c, body, total)
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
