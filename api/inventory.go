package api

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
)

// Inventory is what the admin handlers need for lots.
type Inventory interface {
	// ReceiveLot stores a new lot and brings it to life (read model, events,
	// its grain's timers).
	ReceiveLot(ctx context.Context, l domain.Lot) (domain.Lot, error)
	Lots(ctx context.Context, f domain.LotFilter) ([]domain.Lot, error)
	WasteReport(ctx context.Context, from, to time.Time) ([]domain.WasteRow, error)
	// AtRisk lists the live lots expiring within the given time (of one
	// warehouse, all when 0) expected to leave units unsold at expiry,
	// worst value first.
	AtRisk(ctx context.Context, warehouseID int64, within time.Duration) (domain.AtRiskList, error)
}

type lotRequest struct {
	ProductID   *int64  `json:"product_id"`
	WarehouseID *int64  `json:"warehouse_id"`
	Quantity    *int64  `json:"quantity"`
	ExpiresAt   *string `json:"expires_at"`

	expires time.Time
}

const maxLotQuantity = 10_000_000

func (r *lotRequest) check(now time.Time) error {
	if r.ProductID == nil || *r.ProductID <= 0 {
		return invalid("product_id is required")
	}
	if r.WarehouseID == nil || *r.WarehouseID <= 0 {
		return invalid("warehouse_id is required")
	}
	if r.Quantity == nil || *r.Quantity <= 0 || *r.Quantity > maxLotQuantity {
		return invalid("quantity must be a whole number from 1 to %d", maxLotQuantity)
	}
	if r.ExpiresAt == nil {
		return invalid("expires_at is required (RFC 3339, e.g. 2026-12-01T18:00:00+09:00)")
	}
	t, err := time.Parse(time.RFC3339, *r.ExpiresAt)
	if err != nil {
		return invalid("expires_at %q is not an RFC 3339 time with an offset", *r.ExpiresAt)
	}
	if !t.After(now) {
		return invalid("expires_at must be in the future")
	}
	if t.After(now.Add(maxShelfLife)) {
		return invalid("expires_at must be within %d years: fresh food does not keep longer", maxShelfLife/(365*24*time.Hour))
	}
	r.expires = t
	return nil
}

// maxShelfLife bounds a received lot's expiry.
const maxShelfLife = 3 * 365 * 24 * time.Hour

type lotResponse struct {
	ID          int64           `json:"id"`
	ProductID   int64           `json:"product_id"`
	WarehouseID int64           `json:"warehouse_id"`
	ExpiresAt   time.Time       `json:"expires_at"`
	Received    int64           `json:"received"`
	OnHand      int64           `json:"on_hand"`
	Held        int64           `json:"held"`
	Deducted    int64           `json:"deducted"`
	Restored    int64           `json:"restored"`
	WrittenOff  int64           `json:"written_off"`
	State       domain.LotState `json:"state"`
	// Seq counts the lot's commits: of two reads of one lot (a listing, a
	// socket message), the higher Seq is the newer.
	Seq int64 `json:"seq"`
}

func toLotResponse(l domain.Lot) lotResponse {
	return lotResponse{ID: l.ID, ProductID: l.ProductID, WarehouseID: l.WarehouseID, ExpiresAt: l.ExpiresAt,
		Received: l.Received, OnHand: l.OnHand, Held: l.Held, Deducted: l.Deducted, Restored: l.Restored, WrittenOff: l.WrittenOff, State: l.State,
		Seq: l.Seq}
}

func (s *Server) receiveLot(c *fiber.Ctx) error {
	var req lotRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := req.check(s.cfg.Now()); err != nil {
		return err
	}
	l, err := s.deps.Inventory.ReceiveLot(c.UserContext(), domain.Lot{
		ProductID: *req.ProductID, WarehouseID: *req.WarehouseID, Received: *req.Quantity, ExpiresAt: req.expires.UTC(),
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toLotResponse(l))
}

func queryID(c *fiber.Ctx, name string) (int64, error) {
	raw := c.Query(name)
	if raw == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("invalid_query", "%s must be a positive whole number", name)
	}
	return id, nil
}

func (s *Server) listLots(c *fiber.Ctx) error {
	var f domain.LotFilter
	var err error
	if f.WarehouseID, err = queryID(c, "warehouse_id"); err != nil {
		return err
	}
	if f.ProductID, err = queryID(c, "product_id"); err != nil {
		return err
	}
	if w := c.Query("expiring_within"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d <= 0 {
			return badRequest("invalid_query", "expiring_within must be a duration such as 48h or 90m")
		}
		f.ExpiringBefore = s.cfg.Now().Add(d)
	}
	if st := strings.ToUpper(c.Query("state")); st != "" {
		switch domain.LotState(st) {
		case domain.Regular, domain.ClosingSoon, domain.Expired:
			f.State = domain.LotState(st)
		default:
			return badRequest("invalid_query", "state must be REGULAR, CLOSING_SOON or EXPIRED")
		}
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 || n > 1000 {
			return badRequest("invalid_query", "limit must be from 1 to 1000")
		}
		f.Limit = n
	}
	lots, err := s.deps.Inventory.Lots(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]lotResponse, len(lots))
	for i, l := range lots {
		out[i] = toLotResponse(l)
	}
	return c.JSON(out)
}

// wasteResponse is the waste report: write-offs and, next to them, what
// closing-soon sales brought in, per day and warehouse and in total.
type wasteResponse struct {
	From              time.Time         `json:"from"`
	To                time.Time         `json:"to"`
	Rows              []domain.WasteRow `json:"rows"`
	TotalQuantity     int64             `json:"total_quantity"`
	TotalValue        domain.KRW        `json:"total_value"`
	TotalDealQuantity int64             `json:"total_deal_quantity"`
	TotalDealRevenue  domain.KRW        `json:"total_deal_revenue"`
}

func (s *Server) wasteReport(c *fiber.Ctx) error {
	now := s.cfg.Now()
	from, to := now.AddDate(0, 0, -30), now.Add(time.Minute)
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if raw := c.Query(name); raw != "" {
			t, err := time.Parse(time.RFC3339, raw)
			if err != nil {
				if d, derr := time.Parse("2006-01-02", raw); derr == nil {
					t = d
				} else {
					return badRequest("invalid_query", "%s must be a date (2006-01-02) or an RFC 3339 time", name)
				}
			}
			*dst = t
		}
	}
	if !to.After(from) {
		return badRequest("invalid_query", "to must be after from")
	}
	rows, err := s.deps.Inventory.WasteReport(c.UserContext(), from, to)
	if err != nil {
		return err
	}
	out := wasteResponse{From: from, To: to, Rows: rows}
	for _, r := range rows {
		out.TotalQuantity += r.Quantity
		out.TotalValue += r.Value
		out.TotalDealQuantity += r.DealQuantity
		out.TotalDealRevenue += r.DealRevenue
	}
	return c.JSON(out)
}

// atRiskResponse is the at-risk list: the lots expected to leave units
// unsold at expiry at their current sell rate, worst value first.
type atRiskResponse struct {
	// At is when the list was weighed (it is shared for up to 20 s).
	At time.Time `json:"at"`
	// WithinHours is the horizon: lots expiring later were not weighed.
	WithinHours float64 `json:"within_hours"`
	// Weighed counts the live lots looked at; AtRisk those at risk, of
	// which Lots holds the first limit.
	Weighed       int                `json:"weighed"`
	AtRisk        int                `json:"at_risk"`
	WindowHours   float64            `json:"window_hours"`
	HalfLifeHours float64            `json:"half_life_hours"`
	Lots          []domain.AtRiskLot `json:"lots"`
}

func (s *Server) atRiskLots(c *fiber.Ctx) error {
	wh, err := queryID(c, "warehouse_id")
	if err != nil {
		return err
	}
	limit := 50
	if raw := c.Query("limit"); raw != "" {
		if limit, err = strconv.Atoi(raw); err != nil || limit <= 0 || limit > 1000 {
			return badRequest("invalid_query", "limit must be from 1 to 1000")
		}
	}
	within := domain.EarlyDealWindow
	if raw := c.Query("within"); raw != "" {
		if within, err = time.ParseDuration(raw); err != nil || within < time.Hour || within > maxShelfLife {
			return badRequest("invalid_query", "within must be a duration from 1h to %dh, such as 168h", int(maxShelfLife.Hours()))
		}
	}
	ctx := c.UserContext()
	if wh > 0 {
		ws, err := s.deps.Catalog.Warehouses(ctx)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ws, func(w domain.Warehouse) bool { return w.ID == wh }) {
			return fmt.Errorf("warehouse %d: %w", wh, domain.ErrUnknownWarehouse)
		}
	}
	list, err := s.deps.Inventory.AtRisk(ctx, wh, within)
	if err != nil {
		return err
	}
	out := atRiskResponse{At: list.At.UTC(), WithinHours: within.Hours(), Weighed: list.Weighed, AtRisk: list.AtRisk,
		WindowHours: domain.RiskRateWindow.Hours(), HalfLifeHours: domain.DefaultRateHalfLife.Hours(), Lots: list.Lots[:min(limit, len(list.Lots))]}
	if out.Lots == nil {
		out.Lots = []domain.AtRiskLot{}
	}
	return c.JSON(out)
}
