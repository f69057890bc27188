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
	// admins hear every change; near indexes the shoppers' sockets by the
	// warehouses serving them, so that a change costs the sockets that
	// hear it, not every socket of the node.
	admins map[*subscriber]struct{}
	near   map[int64]map[*subscriber]struct{}
	// catalog is the catalog version every indexed shopper's warehouses
	// were worked out at; stale is set when one was added with an older
	// one. Either way the next change works them out again first.
	catalog uint64
	stale   bool
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
	// Seq, on a deal's message, is the lot's commit sequence: a client
	// keeps, of a listing's answer and the messages, the one with the
	// highest.
	Seq int64 `json:"seq,omitempty"`
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
	// Seq is the lot's commit sequence, as in the admin lot listing.
	Seq int64 `json:"seq"`
}

func newStockHub(view *stockview.View) *stockHub {
	h := &stockHub{view: view, queue: make(chan stockview.Change, 8192)}
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
	defer h.mu.Unlock()
	h.index(s)
	if !s.admin && s.catalog != h.catalog {
		h.stale = true
	}
}

// index files s under the hub's maps; the caller holds h.mu.
func (h *stockHub) index(s *subscriber) {
	if h.subs == nil {
		h.subs, h.admins, h.near = map[*subscriber]struct{}{}, map[*subscriber]struct{}{}, map[int64]map[*subscriber]struct{}{}
	}
	h.subs[s] = struct{}{}
	if s.admin {
		h.admins[s] = struct{}{}
		return
	}
	for w := range s.warehouses {
		if h.near[w] == nil {
			h.near[w] = map[*subscriber]struct{}{}
		}
		h.near[w][s] = struct{}{}
	}
}

func (h *stockHub) remove(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unindex(s)
}

// unindex takes s out of the hub's maps; the caller holds h.mu.
func (h *stockHub) unindex(s *subscriber) {
	delete(h.subs, s)
	delete(h.admins, s)
	for w := range s.warehouses {
		delete(h.near[w], s)
		if len(h.near[w]) == 0 {
			delete(h.near, w)
		}
	}
}

// refresh works out again the warehouses of shoppers' sockets resolved at
// an older catalog version than the view's (a warehouse opened near them,
// or one this node heard of late) and files them anew. Only the hub's
// goroutine resolves a subscriber once it is added.
func (h *stockHub) refresh() {
	cv := h.view.CatalogVersion()
	h.mu.Lock()
	defer h.mu.Unlock()
	if cv == h.catalog && !h.stale {
		return
	}
	for s := range h.subs {
		if !s.admin && s.catalog != cv {
			h.unindex(s)
			s.resolve(h.view, cv)
			h.index(s)
		}
	}
	h.catalog, h.stale = cv, false
}

// listeners are the sockets that hear a change of warehouse w (all of them
// when all is set): the admins' and, separately, the shoppers' it serves.
func (h *stockHub) listeners(w int64, all bool) (admins, shoppers []*subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	admins = make([]*subscriber, 0, len(h.admins))
	for s := range h.admins {
		admins = append(admins, s)
	}
	if all {
		shoppers = make([]*subscriber, 0, len(h.subs)-len(h.admins))
		for s := range h.subs {
			if !s.admin {
				shoppers = append(shoppers, s)
			}
		}
		return admins, shoppers
	}
	shoppers = make([]*subscriber, 0, len(h.near[w]))
	for s := range h.near[w] {
		shoppers = append(shoppers, s)
	}
	return admins, shoppers
}

func (h *stockHub) fanOut(c stockview.Change) {
	h.refresh()
	if len(c.Events) > 0 {
		admins, shoppers := h.listeners(0, true)
		h.fanOutBatch(c.Events, admins, shoppers)
		return
	}
	e := c.Event
	admins, shoppers := h.listeners(e.WarehouseID, false)
	adminMsg, lotMsg := h.lotMessages(e)
	for _, s := range admins {
		s.send(adminMsg)
	}
	// Subscribers served by the same warehouses see the same quantity.
	productMsgs := map[string][]byte{}
	for _, s := range shoppers {
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
	if avail, seq, deal := h.view.LotAvailable(e.LotID); deal || e.State != domain.Regular {
		lot = jsonFrame(stockMessage{Type: "deal", LotID: e.LotID, Available: avail, Seq: seq})
	}
	admin = jsonFrame(adminMessage{Type: "lot", LotID: e.LotID, ProductID: e.ProductID, WarehouseID: e.WarehouseID,
		OnHand: e.OnHand, Held: e.Held, State: e.State, ExpiresAt: e.ExpiresAt, WrittenOff: e.WrittenOff, At: e.At, Seq: e.Seq})
	return admin, lot
}

func (h *stockHub) productMessage(s *subscriber, productID int64) []byte {
	return jsonFrame(stockMessage{Type: "product", ProductID: productID, Available: h.view.ProductAvailable(s.addr, productID)})
}

// fanOutBatch sends a bulk change (the lot sweep's): each subscriber gets
// the lots of its own warehouses only, found through the batch's index by
// warehouse rather than by testing every event against every subscriber,
// and one message per product however many of its lots moved.
func (h *stockHub) fanOutBatch(events []domain.LotEvent, admins, shoppers []*subscriber) {
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
	for _, s := range admins {
		for i := range events {
			a, _ := messages(i)
			s.send(a)
		}
	}
	productMsgs := map[string]map[int64][]byte{}
	for _, s := range shoppers {
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
