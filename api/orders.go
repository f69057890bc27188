package api

import (
	"context"
	"encoding/base64"
	"errors"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
)

// CallbackVerifier tells a genuine payment callback (its nonce signed for
// its order) from a forged one.
type CallbackVerifier interface {
	Valid(orderID, nonce string) bool
}

// maxOrderIDLen bounds an order id from a callback's query.
const maxOrderIDLen = 40

// genuineCallback checks a callback's order id and nonce before anything
// else: a forged callback costs no grain and no query.
func (s *Server) genuineCallback(id, nonce string) error {
	if id == "" || nonce == "" || len(id) > maxOrderIDLen {
		return badRequest("invalid_callback", "order_id and nonce are required")
	}
	if s.deps.Callbacks == nil || !s.deps.Callbacks.Valid(id, nonce) {
		return domain.ErrBadCallback
	}
	return nil
}

// OrderCursor is a position in an order listing: the last order a page
// showed. Listings are ordered by creation time, then id, both descending.
type OrderCursor struct {
	CreatedAt time.Time
	ID        string
}

// String is the cursor as clients see it: opaque, URL-safe.
func (c OrderCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID))
}

// ParseOrderCursor reads a cursor made by OrderCursor.String.
func ParseOrderCursor(s string) (OrderCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return OrderCursor{}, errors.New("not a cursor")
	}
	micros, id, ok := strings.Cut(string(raw), ".")
	us, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || id == "" || len(id) > 64 {
		return OrderCursor{}, errors.New("not a cursor")
	}
	return OrderCursor{CreatedAt: time.UnixMicro(us).UTC(), ID: id}, nil
}

// adminOrderPage is one page of the admin order listing; Next, when set,
// is the cursor of the following page.
type adminOrderPage struct {
	Orders []orderResponse `json:"orders"`
	Next   *string         `json:"next"`
}

// Admin order pages: limit's default and bound.
const (
	defaultOrderPage = 200
	maxOrderPage     = 500
)

// Orders is what the handlers need of ordering.
type Orders interface {
	Place(ctx context.Context, userID int64, addr domain.Point, items []domain.OrderItem, fromCart bool) (domain.Order, error)
	Order(ctx context.Context, id string) (domain.Order, error)
	List(ctx context.Context, f domain.OrderFilter) ([]domain.Order, error)
	Approve(ctx context.Context, id, pgToken, nonce string) (domain.Order, error)
	Abort(ctx context.Context, id string, reason domain.Reason, nonce string) (domain.Order, error)
	Reconcile(ctx context.Context) (any, error)
}

// Carts is what the handlers need of the cart store.
type Carts interface {
	Items(ctx context.Context, userID int64) ([]domain.CartItem, error)
	Set(ctx context.Context, userID int64, itemKey string, quantity int64) error
	Remove(ctx context.Context, userID int64, itemKey string) error
}

const (
	maxItemQuantity = 99
	maxOrderItems   = 30
)

func checkItem(it domain.OrderItem) error {
	if (it.ProductID > 0) == (it.LotID > 0) {
		return invalid("each item names exactly one of product_id (regular stock) or lot_id (a deal)")
	}
	if it.ProductID < 0 || it.LotID < 0 {
		return invalid("ids must be positive")
	}
	if it.Quantity < 1 || it.Quantity > maxItemQuantity {
		return invalid("quantity must be from 1 to %d", maxItemQuantity)
	}
	return nil
}

type orderRequest struct {
	Items    []domain.OrderItem `json:"items"`
	FromCart bool               `json:"from_cart"`
}

// merged adds up repeated items so each product or lot is one line.
func merged(items []domain.OrderItem) []domain.OrderItem {
	var out []domain.OrderItem
	idx := map[[2]int64]int{}
	for _, it := range items {
		k := [2]int64{it.ProductID, it.LotID}
		if i, ok := idx[k]; ok {
			out[i].Quantity += it.Quantity
			continue
		}
		idx[k] = len(out)
		out = append(out, it)
	}
	return out
}

type orderResponse struct {
	domain.Order
	Lines []domain.OrderLine `json:"lines"`
	// HoldExpiresAt is when the order's stock stops being held for it,
	// while it waits for its payer.
	HoldExpiresAt *time.Time `json:"hold_expires_at,omitempty"`
}

func toOrderResponse(o domain.Order) orderResponse {
	lines := o.Lines
	if lines == nil {
		lines = []domain.OrderLine{}
	}
	r := orderResponse{Order: o, Lines: lines}
	if o.Status == domain.StatusPaymentReady || o.Status == domain.StatusCreated {
		at := o.ExpiresAt
		r.HoldExpiresAt = &at
	}
	return r
}

func (s *Server) placeOrder(c *fiber.Ctx) error {
	var req orderRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	p, _ := principal(c)
	if req.FromCart == (len(req.Items) > 0) {
		return invalid("send either items or from_cart: true")
	}
	items := req.Items
	if req.FromCart {
		cart, err := s.deps.Carts.Items(c.UserContext(), p.UserID)
		if err != nil {
			return err
		}
		for _, it := range cart {
			items = append(items, domain.OrderItem{ProductID: it.ProductID, LotID: it.LotID, Quantity: it.Quantity})
		}
		if len(items) == 0 {
			return &Error{Status: 400, Code: "empty_order", Message: "the cart is empty"}
		}
	}
	if len(items) > maxOrderItems {
		return invalid("at most %d items per order", maxOrderItems)
	}
	for i := range items {
		if err := checkItem(items[i]); err != nil {
			return err
		}
	}
	items = merged(items)
	for _, it := range items {
		if it.Quantity > maxItemQuantity {
			return invalid("at most %d units of one product or lot per order (repeated items are added up)", maxItemQuantity)
		}
	}
	addr, err := s.userAddress(c.UserContext(), p.UserID)
	if err != nil {
		return err
	}
	o, err := s.deps.Orders.Place(c.UserContext(), p.UserID, addr, items, req.FromCart)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toOrderResponse(o))
}

// visibleOrder reads an order the caller may see: its owner's or, for an
// admin, anyone's. Others get the same 404 as for a missing order.
func (s *Server) visibleOrder(ctx context.Context, p Principal, id string) (domain.Order, error) {
	if id == "" || len(id) > 40 {
		return domain.Order{}, domain.ErrOrderNotFound
	}
	o, err := s.deps.Orders.Order(ctx, id)
	if err != nil {
		return o, err
	}
	if p.Role != domain.RoleAdmin && o.UserID != p.UserID {
		return domain.Order{}, domain.ErrOrderNotFound
	}
	return o, nil
}

func (s *Server) getOrder(c *fiber.Ctx) error {
	p, _ := principal(c)
	o, err := s.visibleOrder(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toOrderResponse(o))
}

func (s *Server) myOrders(c *fiber.Ctx) error {
	p, _ := principal(c)
	return s.listOrders(c, domain.OrderFilter{UserID: p.UserID, Limit: 100})
}

// listOrders answers the orders f selects.
func (s *Server) listOrders(c *fiber.Ctx, f domain.OrderFilter) error {
	os, err := s.deps.Orders.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]orderResponse, len(os))
	for i, o := range os {
		out[i] = toOrderResponse(o)
	}
	return c.JSON(out)
}

// adminOrders lists orders a page at a time: ?limit= (default 200, at most
// 500) and ?cursor= (the previous page's next).
func (s *Server) adminOrders(c *fiber.Ctx) error {
	f := domain.OrderFilter{Status: domain.OrderStatus(strings.ToUpper(c.Query("status"))), Limit: defaultOrderPage}
	switch f.Status {
	case "", domain.StatusCreated, domain.StatusPaymentReady, domain.StatusProcessing, domain.StatusPaid, domain.StatusFailed, domain.StatusExpired:
	default:
		return badRequest("invalid_query", "unknown status %q", f.Status)
	}
	if raw := c.Query("stuck_for"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			return badRequest("invalid_query", "stuck_for must be a duration such as 10m")
		}
		f.StuckFor = d
	}
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxOrderPage {
			return badRequest("invalid_query", "limit must be a whole number from 1 to %d", maxOrderPage)
		}
		f.Limit = n
	}
	if raw := c.Query("cursor"); raw != "" {
		cur, err := ParseOrderCursor(raw)
		if err != nil {
			return badRequest("invalid_query", "cursor is not one this API gave (use the previous page's next)")
		}
		f.BeforeCreated, f.BeforeID = cur.CreatedAt, cur.ID
	}
	page := f.Limit
	f.Limit++ // one more tells whether a next page exists
	os, err := s.deps.Orders.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := adminOrderPage{Orders: make([]orderResponse, 0, min(len(os), page))}
	if len(os) > page {
		os = os[:page]
		last := os[len(os)-1]
		next := OrderCursor{CreatedAt: last.CreatedAt, ID: last.ID}.String()
		out.Next = &next
	}
	for _, o := range os {
		out.Orders = append(out.Orders, toOrderResponse(o))
	}
	return c.JSON(out)
}

func (s *Server) reconciliation(c *fiber.Ctx) error {
	r, err := s.deps.Orders.Reconcile(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// wantsHTML tells a browser (sent here by Kakao Pay's redirect) from an API
// client.
func wantsHTML(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), "text/html")
}

func (s *Server) callbackAnswer(c *fiber.Ctx, o domain.Order) error {
	if wantsHTML(c) {
		return c.Redirect("/#/orders/"+o.ID, fiber.StatusFound)
	}
	return c.JSON(toOrderResponse(o))
}

// kakaoApprove is the approval URL Kakao Pay redirects the payer to. It
// needs no session: the nonce in the URL (which only Kakao Pay was given)
// and the pg_token are its proof, and only the first one counts.
func (s *Server) kakaoApprove(c *fiber.Ctx) error {
	id, nonce, token := c.Query("order_id"), c.Query("nonce"), c.Query("pg_token")
	if err := s.genuineCallback(id, nonce); err != nil {
		return err
	}
	if token == "" || len(token) > 128 {
		return badRequest("invalid_callback", "pg_token is required")
	}
	o, err := s.deps.Orders.Approve(c.UserContext(), strings.Clone(id), strings.Clone(token), strings.Clone(nonce))
	if err != nil {
		return err
	}
	return s.callbackAnswer(c, o)
}

func (s *Server) kakaoAbort(reason domain.Reason) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, nonce := c.Query("order_id"), c.Query("nonce")
		if err := s.genuineCallback(id, nonce); err != nil {
			return err
		}
		o, err := s.deps.Orders.Abort(c.UserContext(), strings.Clone(id), reason, strings.Clone(nonce))
		if err != nil {
			return err
		}
		return s.callbackAnswer(c, o)
	}
}

// Cart.

type cartLine struct {
	Key       string     `json:"key"`
	ProductID int64      `json:"product_id"`
	LotID     int64      `json:"lot_id,omitempty"`
	Name      string     `json:"name"`
	NameEn    string     `json:"name_en"`
	Quantity  int64      `json:"quantity"`
	UnitPrice domain.KRW `json:"unit_price"`
	Available int64      `json:"available"`
	Deal      bool       `json:"deal"`
	LineTotal domain.KRW `json:"line_total"`
}

type cartResponse struct {
	Items []cartLine `json:"items"`
	Total domain.KRW `json:"total"`
}

func (s *Server) cartView(ctx context.Context, userID int64) (cartResponse, error) {
	items, err := s.deps.Carts.Items(ctx, userID)
	if err != nil {
		return cartResponse{}, err
	}
	addr, addrErr := s.userAddress(ctx, userID)
	out := cartResponse{Items: []cartLine{}}
	for _, it := range items {
		l := cartLine{Key: it.Key, ProductID: it.ProductID, LotID: it.LotID, Quantity: it.Quantity, Deal: it.LotID > 0}
		if it.LotID > 0 {
			if d, ok := s.deps.View.DealNear(addr, it.LotID); ok && addrErr == nil {
				l.ProductID, l.Name, l.NameEn, l.UnitPrice, l.Available = d.ProductID, d.Name, d.NameEn, d.DealPrice, d.Available
			} else if r, ok := s.deps.View.Lot(it.LotID); ok {
				l.ProductID = r.ProductID
			}
		}
		if p, ok := s.deps.View.Product(l.ProductID); ok {
			l.Name, l.NameEn = p.Name, p.NameEn
			if it.LotID == 0 {
				l.UnitPrice = p.Price
				if addrErr == nil {
					l.Available = s.deps.View.ProductAvailable(addr, p.ID)
				}
			}
		}
		l.LineTotal = l.UnitPrice * domain.KRW(l.Quantity)
		out.Total += l.LineTotal
		out.Items = append(out.Items, l)
	}
	return out, nil
}

func (s *Server) getCart(c *fiber.Ctx) error {
	p, _ := principal(c)
	v, err := s.cartView(c.UserContext(), p.UserID)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

type cartItemRequest struct {
	ProductID int64 `json:"product_id"`
	LotID     int64 `json:"lot_id"`
	Quantity  int64 `json:"quantity"`
}

func (s *Server) putCartItem(c *fiber.Ctx) error {
	var req cartItemRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if (req.ProductID > 0) == (req.LotID > 0) || req.ProductID < 0 || req.LotID < 0 {
		return invalid("name exactly one of product_id or lot_id")
	}
	if req.Quantity < 0 || req.Quantity > maxItemQuantity {
		return invalid("quantity must be from 0 (remove) to %d", maxItemQuantity)
	}
	p, _ := principal(c)
	ctx := c.UserContext()
	if req.Quantity > 0 {
		addr, err := s.userAddress(ctx, p.UserID)
		if err != nil {
			return err
		}
		if req.LotID > 0 {
			d, ok := s.deps.View.DealNear(addr, req.LotID)
			if !ok {
				return domain.ErrNotADeal
			}
			if err := s.cfg.Deals.Check(req.Quantity); err != nil {
				return err
			}
			if req.Quantity > d.Available {
				return domain.ErrInsufficientStock
			}
		} else {
			if _, ok := s.deps.View.Product(req.ProductID); !ok {
				return domain.ErrUnknownProduct
			}
			if req.Quantity > s.deps.View.ProductAvailable(addr, req.ProductID) {
				return domain.ErrInsufficientStock
			}
		}
	}
	if err := s.deps.Carts.Set(ctx, p.UserID, domain.CartItemKey(req.ProductID, req.LotID), req.Quantity); err != nil {
		return err
	}
	return s.getCart(c)
}

func (s *Server) deleteCartItem(c *fiber.Ctx) error {
	key := strings.Clone(c.Params("key"))
	if _, _, err := domain.ParseCartItemKey(key); err != nil {
		return badRequest("invalid_id", "%s", err.Error())
	}
	p, _ := principal(c)
	if err := s.deps.Carts.Remove(c.UserContext(), p.UserID, key); err != nil {
		return err
	}
	return s.getCart(c)
}

// Order sockets.

// orderHub pushes order status changes to the sockets watching them.
type orderHub struct {
	mu   sync.Mutex
	subs map[string]map[*subscriber]struct{}
	// changes counts the changes heard, by a hash of the order id: a
	// socket whose order's count moved between the read of its current
	// status and its subscription reads the order again, since it may
	// have missed that change.
	changes [orderChangeBuckets]uint64
}

const orderChangeBuckets = 256

var orderSeed = maphash.MakeSeed()

func orderBucket(id string) int { return int(maphash.String(orderSeed, id) % orderChangeBuckets) }

// changeCount is how many changes of orders hashing with id were heard.
func (h *orderHub) changeCount(id string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changes[orderBucket(id)]
}

// subscribe adds sub to the sockets of order id and answers whether a
// change of an order hashing with id was heard since the count since.
func (h *orderHub) subscribe(id string, sub *subscriber, since uint64) (changed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[id] == nil {
		h.subs[id] = map[*subscriber]struct{}{}
	}
	h.subs[id][sub] = struct{}{}
	return h.changes[orderBucket(id)] != since
}

func (h *orderHub) unsubscribe(id string, sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs[id], sub)
	if len(h.subs[id]) == 0 {
		delete(h.subs, id)
	}
}

// statusRank orders an order's statuses as they move: a socket is never
// sent one that comes before what it already showed. 0: unknown, always
// sent.
func statusRank(st domain.OrderStatus) int {
	switch st {
	case domain.StatusCreated:
		return 1
	case domain.StatusPaymentReady:
		return 2
	case domain.StatusProcessing:
		return 3
	case domain.StatusPaid, domain.StatusFailed, domain.StatusExpired:
		return 4
	}
	return 0
}

type orderMessage struct {
	Type    string             `json:"type"`
	OrderID string             `json:"order_id"`
	Status  domain.OrderStatus `json:"status"`
	Reason  domain.Reason      `json:"reason,omitempty"`
	At      time.Time          `json:"at"`
}

// OrderChanged is called (by the node) for every order status change.
func (s *Server) OrderChanged(o domain.Order) {
	s.orders.mu.Lock()
	s.orders.changes[orderBucket(o.ID)]++
	subs := make([]*subscriber, 0, len(s.orders.subs[o.ID]))
	for sub := range s.orders.subs[o.ID] {
		subs = append(subs, sub)
	}
	s.orders.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	frame := orderFrame(o)
	for _, sub := range subs {
		sub.sendStatus(o.Status, frame)
	}
}

func orderFrame(o domain.Order) []byte {
	return jsonFrame(orderMessage{Type: "order", OrderID: o.ID, Status: o.Status, Reason: o.Reason, At: o.UpdatedAt})
}

const (
	localOrderID      = "ws_order_id"
	localOrderChanges = "ws_order_changes"
)

// orderRecheckWithin bounds the second read of an order whose status may
// have changed while its socket opened.
const orderRecheckWithin = 5 * time.Second

func (s *Server) prepareOrderSocket(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return fiber.ErrUpgradeRequired
	}
	p, _ := principal(c)
	id := c.Params("id")
	since := s.orders.changeCount(id)
	o, err := s.visibleOrder(c.UserContext(), p, id)
	if err != nil {
		return err
	}
	c.Locals(localOrderID, o.ID)
	c.Locals(localOrderChanges, since)
	// The current status first, so a client never misses the change that
	// happened before it connected.
	sub := &subscriber{}
	sub.sendStatus(o.Status, orderFrame(o))
	c.Locals(localSubscriber, sub)
	return c.Next()
}

func (s *Server) orderSocket(conn *websocket.Conn) {
	sub, ok := conn.Locals(localSubscriber).(*subscriber)
	id, _ := conn.Locals(localOrderID).(string)
	if !ok || id == "" {
		return
	}
	since, _ := conn.Locals(localOrderChanges).(uint64)
	// A change heard after the status was read and before this
	// subscription reached no socket: the order is read again, and what
	// the socket already showed is not sent twice (sendStatus).
	changed := s.orders.subscribe(id, sub, since)
	defer s.orders.unsubscribe(id, sub)
	if changed {
		ctx, cancel := context.WithTimeout(context.Background(), orderRecheckWithin)
		o, err := s.deps.Orders.Order(ctx, id)
		cancel()
		if err == nil {
			sub.sendStatus(o.Status, orderFrame(o))
		} else {
			s.log.Warn("read order again for its socket", "order", id, "error", err.Error())
		}
	}
	s.hub.writers.stream(conn, sub)
}
