package api

import (
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"shelflife/domain"
	"shelflife/stockview"
)

// stockHub fans the read model's changes out to WebSocket subscribers. The
// view calls it synchronously from whoever applied a change (a grain's
// publisher among them), so it only queues; a goroutine does the work. A
// subscriber that cannot keep up is dropped rather than slowing anyone.
type stockHub struct {
	view    *stockview.View
	queue   chan stockview.Change
	dropped atomic.Int64

	mu   sync.Mutex
	subs map[*subscriber]struct{}
	// writers write every socket of the node (order sockets too).
	writers wsWriters
}

// stockMessage is what a shopper's socket receives: the new quantity of a
// product (regular stock) or of a deal lot near the shopper's address.
type stockMessage struct {
	Type      string `json:"type"`
	ProductID int64  `json:"product_id,omitempty"`
	LotID     int64  `json:"lot_id,omitempty"`
	Available int64  `json:"available"`
}

// adminMessage is what the admin socket receives for every committed change.
type adminMessage struct {
	Type        string          `json:"type"`
	LotID       int64           `json:"lot_id"`
	ProductID   int64           `json:"product_id"`
	WarehouseID int64           `json:"warehouse_id"`
	OnHand      int64           `json:"on_hand"`
	Held        int64           `json:"held"`
	State       domain.LotState `json:"state"`
	ExpiresAt   time.Time       `json:"expires_at"`
	WrittenOff  int64           `json:"written_off"`
	At          time.Time       `json:"at"`
}

func newStockHub(view *stockview.View) *stockHub {
	h := &stockHub{view: view, queue: make(chan stockview.Change, 8192), subs: map[*subscriber]struct{}{}}
	if view != nil {
		view.Subscribe(func(c stockview.Change) {
			select {
			case h.queue <- c:
			default:
				h.dropped.Add(1)
			}
		})
		go h.run()
	}
	return h
}

func (h *stockHub) run() {
	for c := range h.queue {
		h.fanOut(c)
	}
}

func (h *stockHub) add(s *subscriber) {
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
}

func (h *stockHub) remove(s *subscriber) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

func (h *stockHub) fanOut(c stockview.Change) {
	h.mu.Lock()
	subs := make([]*subscriber, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	// A catalog load since a subscriber worked out its warehouses (one
	// opened near it, or one this node heard of late): work them out
	// again. Only the hub's goroutine touches these fields.
	cv := h.view.CatalogVersion()
	for _, s := range subs {
		if !s.admin && s.catalog != cv {
			s.resolve(h.view, cv)
		}
	}
	if len(c.Events) > 0 {
		h.fanOutBatch(c.Events, subs)
		return
	}
	e := c.Event
	adminMsg, lotMsg := h.lotMessages(e)
	// Subscribers served by the same warehouses see the same quantity.
	productMsgs := map[string][]byte{}
	for _, s := range subs {
		if s.admin {
			s.send(adminMsg)
			continue
		}
		if !s.warehouses[e.WarehouseID] {
			continue
		}
		msg, ok := productMsgs[s.key]
		if !ok {
			msg = h.productMessage(s, e.ProductID)
			productMsgs[s.key] = msg
		}
		s.send(msg)
		if lotMsg != nil {
			s.send(lotMsg)
		}
	}
}

// lotMessages are an event's message for admins and, for a deal lot, for
// shoppers near it (nil otherwise).
func (h *stockHub) lotMessages(e domain.LotEvent) (admin, lot []byte) {
	if avail, deal := h.view.LotAvailable(e.LotID); deal || e.State != domain.Regular {
		lot = jsonFrame(stockMessage{Type: "deal", LotID: e.LotID, Available: avail})
	}
	admin = jsonFrame(adminMessage{Type: "lot", LotID: e.LotID, ProductID: e.ProductID, WarehouseID: e.WarehouseID,
		OnHand: e.OnHand, Held: e.Held, State: e.State, ExpiresAt: e.ExpiresAt, WrittenOff: e.WrittenOff, At: e.At})
	return admin, lot
}

func (h *stockHub) productMessage(s *subscriber, productID int64) []byte {
	return jsonFrame(stockMessage{Type: "product", ProductID: productID, Available: h.view.ProductAvailable(s.addr, productID)})
}

// fanOutBatch sends a bulk change (the lot sweep's): each subscriber gets
// the lots of its own warehouses only, found through the batch's index by
// warehouse rather than by testing every event against every subscriber,
// and one message per product however many of its lots moved.
func (h *stockHub) fanOutBatch(events []domain.LotEvent, subs []*subscriber) {
	byWarehouse := map[int64][]int{}
	for i, e := range events {
		byWarehouse[e.WarehouseID] = append(byWarehouse[e.WarehouseID], i)
	}
	admin := make([][]byte, len(events))
	lots := make([][]byte, len(events))
	made := make([]bool, len(events))
	messages := func(i int) ([]byte, []byte) {
		if !made[i] {
			admin[i], lots[i] = h.lotMessages(events[i])
			made[i] = true
		}
		return admin[i], lots[i]
	}
	productMsgs := map[string]map[int64][]byte{}
	for _, s := range subs {
		if s.admin {
			for i := range events {
				a, _ := messages(i)
				s.send(a)
			}
			continue
		}
		byProduct := productMsgs[s.key]
		if byProduct == nil {
			byProduct = map[int64][]byte{}
			productMsgs[s.key] = byProduct
		}
		sent := map[int64]bool{}
		for w := range s.warehouses {
			for _, i := range byWarehouse[w] {
				pid := events[i].ProductID
				if !sent[pid] {
					sent[pid] = true
					msg, ok := byProduct[pid]
					if !ok {
						msg = h.productMessage(s, pid)
						byProduct[pid] = msg
					}
					s.send(msg)
				}
				if _, lot := messages(i); lot != nil {
					s.send(lot)
				}
			}
		}
	}
}

// jsonFrame is v as one text frame, ready for any socket: a message is
// framed once however many sockets it goes to.
func jsonFrame(v any) []byte {
	b, _ := json.Marshal(v)
	return wsFrame(frameText, b)
}

// serve runs a stock subscriber's socket until either side ends it.
func (h *stockHub) serve(conn *websocket.Conn, s *subscriber) {
	h.add(s)
	defer h.remove(s)
	h.writers.stream(conn, s)
}

func (h *stockHub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

const localSubscriber = "ws_subscriber"

// prepareStockSocket resolves the subscriber's address before the upgrade,
// while the request (and its token) is still at hand.
func (s *Server) prepareStockSocket(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return fiber.ErrUpgradeRequired
	}
	addr, err := s.address(c)
	if err != nil {
		return err
	}
	sub := &subscriber{addr: addr}
	sub.resolve(s.deps.View, s.deps.View.CatalogVersion())
	c.Locals(localSubscriber, sub)
	return c.Next()
}

// resolve works out the warehouses serving the subscriber's address at
// catalog version cv (read before them, so a load in between is seen
// next time).
func (s *subscriber) resolve(view *stockview.View, cv uint64) {
	s.warehouses, s.key, s.catalog = map[int64]bool{}, "", cv
	for _, w := range view.Serving(s.addr) {
		s.warehouses[w.ID] = true
		s.key += strconv.FormatInt(w.ID, 10) + ","
	}
}

func (s *Server) prepareAdminSocket(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return fiber.ErrUpgradeRequired
	}
	c.Locals(localSubscriber, &subscriber{admin: true})
	return c.Next()
}

func (s *Server) stockSocket(conn *websocket.Conn) {
	sub, ok := conn.Locals(localSubscriber).(*subscriber)
	if !ok {
		return
	}
	s.hub.serve(conn, sub)
}
