package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
)

// Dashboard is what the admin dashboard needs beyond lots and orders.
type Dashboard interface {
	// DashboardSummary reads the figures at now; sagas that have not
	// moved since stuckBefore count as stuck.
	DashboardSummary(ctx context.Context, now, stuckBefore time.Time) (domain.DashboardSummary, error)
	// SoldPerMinute sums units of paid orders per minute in [from, to).
	SoldPerMinute(ctx context.Context, from, to time.Time) ([]domain.MinuteSales, error)
}

// dashboardRoutes adds the catalog names every page shows and the admin
// dashboard's figures.
func (s *Server) dashboardRoutes(v1, admin fiber.Router) {
	v1.Get("/catalog", s.publicCatalog)
	admin.Get("/dashboard", s.dashboardSummary)
	admin.Get("/sales/per-minute", s.soldPerMinute)
}

type catalogProduct struct {
	ID       int64  `json:"id"`
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	NameEn   string `json:"name_en"`
	Category string `json:"category"`
}

type catalogWarehouse struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Region string `json:"region"`
}

// publicCatalog names every product and warehouse, so that a page can name
// the lines of an old order whose product is no longer listed near the
// shopper and say which warehouse a deal comes from. Prices, stock and
// locations stay with the listings.
func (s *Server) publicCatalog(c *fiber.Ctx) error {
	ctx := c.UserContext()
	ps, err := s.deps.Catalog.Products(ctx)
	if err != nil {
		return err
	}
	ws, err := s.deps.Catalog.Warehouses(ctx)
	if err != nil {
		return err
	}
	out := struct {
		Products   []catalogProduct   `json:"products"`
		Warehouses []catalogWarehouse `json:"warehouses"`
	}{Products: make([]catalogProduct, len(ps)), Warehouses: make([]catalogWarehouse, len(ws))}
	for i, p := range ps {
		out.Products[i] = catalogProduct{ID: p.ID, SKU: p.SKU, Name: p.Name, NameEn: p.NameEn, Category: p.Category}
	}
	for i, w := range ws {
		out.Warehouses[i] = catalogWarehouse{ID: w.ID, Name: w.Name, Region: w.Region}
	}
	c.Set(fiber.HeaderCacheControl, "max-age=30")
	return c.JSON(out)
}

func (s *Server) dashboard() (Dashboard, error) {
	if s.deps.Dashboard == nil {
		return nil, &Error{Status: http.StatusNotImplemented, Code: "not_configured", Message: "this node has no dashboard figures"}
	}
	return s.deps.Dashboard, nil
}

func (s *Server) dashboardSummary(c *fiber.Ctx) error {
	d, err := s.dashboard()
	if err != nil {
		return err
	}
	stuckFor := 5 * time.Minute
	if raw := c.Query("stuck_for"); raw != "" {
		if stuckFor, err = time.ParseDuration(raw); err != nil || stuckFor <= 0 {
			return badRequest("invalid_query", "stuck_for must be a duration such as 5m")
		}
	}
	now := s.cfg.Now()
	sum, err := d.DashboardSummary(c.UserContext(), now, now.Add(-stuckFor))
	if err != nil {
		return err
	}
	return c.JSON(sum)
}

const maxSalesMinutes = 24 * 60

func (s *Server) soldPerMinute(c *fiber.Ctx) error {
	d, err := s.dashboard()
	if err != nil {
		return err
	}
	minutes := 30
	if raw := c.Query("minutes"); raw != "" {
		if minutes, err = strconv.Atoi(raw); err != nil || minutes <= 0 || minutes > maxSalesMinutes {
			return badRequest("invalid_query", "minutes must be from 1 to %d", maxSalesMinutes)
		}
	}
	// Whole minutes, the current one included.
	to := s.cfg.Now().Truncate(time.Minute).Add(time.Minute)
	from := to.Add(-time.Duration(minutes) * time.Minute)
	rows, err := d.SoldPerMinute(c.UserContext(), from, to)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"from": from, "to": to, "minutes": rows})
}
