package api

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
)

type warehouseRequest struct {
	Name     string   `json:"name"`
	Region   string   `json:"region"`
	Lat      *float64 `json:"lat"`
	Lng      *float64 `json:"lng"`
	RadiusKm *float64 `json:"radius_km"`
}

func requiredText(field, v string, max int) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", invalid("%s is required", field)
	}
	if utf8.RuneCountInString(v) > max {
		return "", invalid("%s is longer than %d characters", field, max)
	}
	return v, nil
}

func (r *warehouseRequest) validate() (err error) {
	if r.Name, err = requiredText("name", r.Name, 200); err != nil {
		return err
	}
	if r.Region, err = requiredText("region", r.Region, 100); err != nil {
		return err
	}
	if r.Lat == nil || r.Lng == nil || r.RadiusKm == nil {
		return invalid("lat, lng and radius_km are required")
	}
	return r.warehouse().Area().Validate()
}

func (r *warehouseRequest) warehouse() domain.Warehouse {
	return domain.Warehouse{Name: r.Name, Region: r.Region, Lat: *r.Lat, Lng: *r.Lng, RadiusKm: *r.RadiusKm}
}

func (s *Server) createWarehouse(c *fiber.Ctx) error {
	var req warehouseRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	w, err := s.deps.Catalog.CreateWarehouse(c.UserContext(), req.warehouse())
	if err != nil {
		return err
	}
	s.afterCatalogChange(c)
	return c.Status(fiber.StatusCreated).JSON(w)
}

func (s *Server) listWarehouses(c *fiber.Ctx) error {
	ws, err := s.deps.Catalog.Warehouses(c.UserContext())
	if err != nil {
		return err
	}
	if ws == nil {
		ws = []domain.Warehouse{}
	}
	return c.JSON(ws)
}

var skuPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

type productRequest struct {
	SKU               string `json:"sku"`
	Name              string `json:"name"`
	NameEn            string `json:"name_en"`
	Category          string `json:"category"`
	Price             *int64 `json:"price"`
	MinShelfLifeHours *int64 `json:"min_shelf_life_hours"`
}

func (r *productRequest) validate() (err error) {
	r.SKU = strings.TrimSpace(r.SKU)
	if !skuPattern.MatchString(r.SKU) {
		return invalid("sku is required: 1 to 64 letters, digits, '.', '_' or '-'")
	}
	if r.Name, err = requiredText("name", r.Name, 200); err != nil {
		return err
	}
	if utf8.RuneCountInString(r.NameEn) > 200 {
		return invalid("name_en is longer than 200 characters")
	}
	r.NameEn = strings.TrimSpace(r.NameEn)
	if r.Category, err = requiredText("category", r.Category, 100); err != nil {
		return err
	}
	if r.Price == nil {
		return invalid("price is required (whole KRW)")
	}
	if err := domain.ValidatePrice(domain.KRW(*r.Price)); err != nil {
		return err
	}
	if r.MinShelfLifeHours != nil && (*r.MinShelfLifeHours < 0 || *r.MinShelfLifeHours > 24*365) {
		return invalid("min_shelf_life_hours must be between 0 and 8760")
	}
	return nil
}

func (r *productRequest) product() domain.Product {
	p := domain.Product{SKU: r.SKU, Name: r.Name, NameEn: r.NameEn, Category: r.Category, Price: domain.KRW(*r.Price)}
	if r.MinShelfLifeHours != nil {
		p.MinShelfLife = time.Duration(*r.MinShelfLifeHours) * time.Hour
	}
	return p
}

type productResponse struct {
	domain.Product
	MinShelfLifeHours int64 `json:"min_shelf_life_hours"`
}

func toProductResponse(p domain.Product) productResponse {
	return productResponse{Product: p, MinShelfLifeHours: int64(p.MinShelfLife / time.Hour)}
}

func (s *Server) createProduct(c *fiber.Ctx) error {
	var req productRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	p, err := s.deps.Catalog.CreateProduct(c.UserContext(), req.product())
	if err != nil {
		return err
	}
	s.afterCatalogChange(c)
	return c.Status(fiber.StatusCreated).JSON(toProductResponse(p))
}

func (s *Server) listAdminProducts(c *fiber.Ctx) error {
	ps, err := s.deps.Catalog.Products(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]productResponse, len(ps))
	for i, p := range ps {
		out[i] = toProductResponse(p)
	}
	return c.JSON(out)
}

// afterCatalogChange tells the read side that warehouses or products changed.
func (s *Server) afterCatalogChange(c *fiber.Ctx) {
	if s.deps.OnCatalogChange == nil {
		return
	}
	if err := s.deps.OnCatalogChange(c.UserContext()); err != nil {
		s.requestLogger(c).Warn("refresh after catalog change", "error", err.Error())
	}
}
