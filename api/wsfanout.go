package api

import (
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"

	"shelflife/domain"
)

// The sockets' outgoing side. A message is framed once (a server's frames
// are not masked, so the same bytes are valid on every socket) and the
// frame is queued on each subscriber that should get it; a few workers,
// not a goroutine per socket, then write each subscriber's queue with one
// non-blocking write, however many frames it holds. A subscriber
// whose socket cannot take a write at once (its kernel buffer is full) gets
// a goroutine of its own that waits for it, with a deadline, until its
// queue is empty; when subscriberBuffer more frames wait behind a socket
// like that (its client is not reading), it is closed (1008) as before. Order is kept: frames leave in the order they were
// queued, a partly written frame is finished before anything else.

// Frame opcodes (RFC 6455 5.2), with the FIN bit.
const (
	frameText  = 0x81
	frameClose = 0x88
	framePing  = 0x89
	framePong  = 0x8a
)

// wsFrame frames payload as one unmasked frame of the given opcode.
func wsFrame(op byte, payload []byte) []byte {
	n := len(payload)
	var b []byte
	switch {
	case n < 126:
		b = make([]byte, 2, 2+n)
		b[1] = byte(n)
	case n <= 0xffff:
		b = make([]byte, 4, 4+n)
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b = make([]byte, 10, 10+n)
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	b[0] = op
	return append(b, payload...)
}

// closeFrame is a close frame with a status code and a reason (at most
// 123 bytes, as a control frame's payload is at most 125).
func closeFrame(code int, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	return wsFrame(frameClose, append(p, reason...))
}

var pingFrame = wsFrame(framePing, nil)

const (
	// subscriberBuffer is how many frames may wait on a socket that is
	// not taking writes (its kernel buffer full); one more closes it.
	subscriberBuffer = 256
	// maxQueued bounds the frames waiting on a socket that does take
	// them: a bulk change (the lot sweep's batches of up to 500 lots)
	// arrives all at once and leaves in one write.
	maxQueued = 16 * subscriberBuffer
	// wsWriteTimeout bounds a write to a socket that is not taking data.
	wsWriteTimeout = 5 * time.Second
	// wsPingEvery keeps idle sockets (and the proxies in front) alive and
	// finds peers that went away.
	wsPingEvery = 30 * time.Second
)

// errWouldBlock: the socket's buffer is full; the rest waits.
var errWouldBlock = errors.New("socket buffer full")

// subscriber is one socket's queue of frames and its writing state.
type subscriber struct {
	// What the stock hub filters on (unused for order sockets).
	admin      bool
	addr       domain.Point
	warehouses map[int64]bool
	key        string // the serving warehouses, as a cache key
	// catalog is the view's catalog version warehouses was worked out
	// at: a warehouse opened near the shopper (or one this node heard of
	// late) is served once the catalog moves on.
	catalog uint64

	mu      sync.Mutex
	conn    net.Conn   // nil until the socket is attached
	raw     rawWriter  // non-blocking writes; nil: every write waits in drain
	writers *wsWriters // who writes it
	pending [][]byte   // frames not written yet, in order (shared, never modified)
	partial []byte     // the unwritten rest of a frame begun on the wire
	queued  bool       // on the workers' list
	waiting bool       // a drain goroutine owns the writes
	closed  bool       // no more frames: overflow, a failed write or the end
	kicked  bool       // closed for falling behind: a close frame is due
	// The order status last queued, on an order socket (sendStatus).
	status domain.OrderStatus
}

// sendStatus queues an order socket's frame for status, unless the socket
// already showed status or one that comes after it: a change may be heard
// both before and after a read of the order, or late from another node.
func (s *subscriber) sendStatus(status domain.OrderStatus, frame []byte) {
	s.mu.Lock()
	if r := statusRank(status); s.status != "" && r != 0 && (status == s.status || r < statusRank(s.status)) {
		s.mu.Unlock()
		return
	}
	s.status = status
	s.sendLocked(frame)
	s.mu.Unlock()
}

// send queues a frame; a subscriber already subscriberBuffer frames
// behind is closed instead.
func (s *subscriber) send(frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendLocked(frame)
}

func (s *subscriber) sendLocked(frame []byte) {
	if s.closed {
		return
	}
	if (s.waiting && len(s.pending) >= subscriberBuffer) || len(s.pending) >= maxQueued {
		s.kickLocked()
		return
	}
	s.pending = append(s.pending, frame)
	s.scheduleLocked()
}

// scheduleLocked lists the subscriber for the workers when it has
// something to write and nobody is writing it.
func (s *subscriber) scheduleLocked() {
	if s.conn == nil || s.queued || s.waiting || s.closed {
		return
	}
	s.queued = true
	s.writers.dirty(s)
}

// kickLocked closes a subscriber that fell behind: its queue is dropped,
// a close frame (1008) follows whatever frame is half written, then the
// connection is closed, which ends its reader.
func (s *subscriber) kickLocked() {
	s.closed, s.kicked = true, true
	s.pending = nil
	s.startDrainLocked()
}

// startDrainLocked hands the writes to a goroutine that may wait.
func (s *subscriber) startDrainLocked() {
	if s.waiting || s.conn == nil {
		return
	}
	s.waiting = true
	go s.drain()
}

// flush writes everything queued in one write, without waiting: called by
// a worker with its scratch buffer; returns the buffer to reuse.
func (s *subscriber) flush(scratch []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = false
	if s.waiting || s.closed || len(s.pending) == 0 {
		return scratch
	}
	var b []byte
	if len(s.pending) == 1 {
		b = s.pending[0]
	} else {
		scratch = scratch[:0]
		for _, f := range s.pending {
			scratch = append(scratch, f...)
		}
		b = scratch
	}
	clear(s.pending)
	s.pending = s.pending[:0]
	s.writeLocked(b)
	return scratch
}

// writeLocked writes b without waiting; what the socket does not take now
// is left to a drain.
func (s *subscriber) writeLocked(b []byte) {
	n, err := s.tryWrite(b)
	switch {
	case err == nil:
	case errors.Is(err, errWouldBlock):
		// The rest is copied: b may be the worker's scratch.
		s.partial = append([]byte(nil), b[n:]...)
		s.startDrainLocked()
	default:
		s.closeLocked()
	}
}

// control writes a control frame (a pong, the echo of a close) from the
// reader: at once when the socket takes it, else after what is queued.
func (s *subscriber) control(frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.conn == nil {
		return
	}
	if s.waiting || s.queued || len(s.pending) > 0 {
		s.pending = append(s.pending, frame)
		return
	}
	s.writeLocked(frame)
}

func (s *subscriber) tryWrite(b []byte) (int, error) {
	if s.raw == nil {
		return 0, errWouldBlock
	}
	return s.raw.writeNow(b)
}

// drain writes the subscriber's queue with blocking writes (each bounded
// by wsWriteTimeout) until it is empty, then gives the writes back to the
// workers. A kicked subscriber gets its close frame, then its
// connection is closed.
func (s *subscriber) drain() {
	var buf []byte
	for {
		s.mu.Lock()
		buf = append(buf[:0], s.partial...)
		s.partial = nil
		kicked := s.kicked
		if kicked {
			buf = append(buf, closeFrame(1008, "closed")...)
		} else {
			for _, f := range s.pending {
				buf = append(buf, f...)
			}
			clear(s.pending)
			s.pending = s.pending[:0]
		}
		if len(buf) == 0 {
			s.waiting = false
			s.mu.Unlock()
			return
		}
		conn := s.conn
		s.mu.Unlock()

		timeout := wsWriteTimeout
		if kicked {
			timeout = time.Second
		}
		conn.SetWriteDeadline(time.Now().Add(timeout))
		_, err := conn.Write(buf)
		conn.SetWriteDeadline(time.Time{})
		if err != nil || kicked {
			s.mu.Lock()
			s.waiting = false
			s.closeLocked()
			s.mu.Unlock()
			return
		}
	}
}

// closeLocked ends the subscriber: nothing more is queued or written, and
// its connection is closed so that its reader returns.
func (s *subscriber) closeLocked() {
	s.closed = true
	s.pending = nil
	s.partial = nil
	if s.conn != nil {
		s.conn.Close()
	}
}

// wsWriters are the workers that write the sockets. Subscribers with
// frames to write wait in one list, in order; each worker takes a chunk of
// them at a time, so that when the machine takes one worker's thread away
// the others go on with the rest of the list (no socket is tied to one
// worker).
type wsWriters struct {
	once sync.Once
	wake chan struct{}

	mu      sync.Mutex
	members map[*subscriber]struct{} // every attached socket, for pings
	list    []*subscriber            // waiting to be written, from head
	head    int
}

// wsChunk is how many subscribers a worker takes at a time: a few hundred
// microseconds of writes.
const wsChunk = 32

func (w *wsWriters) start() {
	w.once.Do(func() {
		n := min(max(runtime.GOMAXPROCS(0), 2), 8)
		w.wake = make(chan struct{}, n)
		if w.members == nil {
			w.members = map[*subscriber]struct{}{}
		}
		for range n {
			go w.work()
		}
		go w.ping()
	})
}

// attach starts writing s to conn (queued frames first) and returns a
// function that detaches it.
func (w *wsWriters) attach(s *subscriber, conn net.Conn) func() {
	w.start()
	// fasthttp hands a hijacked connection over in a wrapper it reuses
	// for another connection once the handler returns; a drain may
	// outlive the handler, so it keeps the connection itself.
	if u, ok := conn.(interface{ UnsafeConn() net.Conn }); ok {
		conn = u.UnsafeConn()
	}
	w.mu.Lock()
	w.members[s] = struct{}{}
	w.mu.Unlock()
	s.mu.Lock()
	s.conn, s.raw, s.writers = conn, newRawWriter(conn), w
	if s.kicked {
		s.startDrainLocked()
	} else if len(s.pending) > 0 {
		s.scheduleLocked()
	}
	s.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.members, s)
		w.mu.Unlock()
		s.mu.Lock()
		s.closeLocked()
		s.mu.Unlock()
	}
}

// dirty lists s for writing and wakes a worker when work begins.
func (w *wsWriters) dirty(s *subscriber) {
	w.mu.Lock()
	w.list = append(w.list, s)
	waiting := len(w.list) - w.head
	w.mu.Unlock()
	if waiting == 1 {
		w.signal()
	}
}

func (w *wsWriters) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take removes up to wsChunk subscribers from the head of the list into
// batch; when more remain it wakes another worker to help.
func (w *wsWriters) take(batch []*subscriber) []*subscriber {
	w.mu.Lock()
	n := min(len(w.list)-w.head, wsChunk)
	batch = append(batch[:0], w.list[w.head:w.head+n]...)
	clear(w.list[w.head : w.head+n])
	w.head += n
	more := w.head < len(w.list)
	if !more {
		w.list, w.head = w.list[:0], 0
	}
	w.mu.Unlock()
	if more {
		w.signal()
	}
	return batch
}

func (w *wsWriters) work() {
	var batch []*subscriber
	var scratch []byte
	for range w.wake {
		for {
			batch = w.take(batch)
			if len(batch) == 0 {
				break
			}
			for i, s := range batch {
				scratch = s.flush(scratch)
				batch[i] = nil
			}
		}
	}
}

// ping queues a ping on every socket every wsPingEvery.
func (w *wsWriters) ping() {
	t := time.NewTicker(wsPingEvery)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		members := make([]*subscriber, 0, len(w.members))
		for s := range w.members {
			members = append(members, s)
		}
		w.mu.Unlock()
		for _, s := range members {
			s.send(pingFrame)
		}
	}
}

// stream serves a subscriber's socket: the workers write its frames while
// this reads what the client sends (control frames only) until either side
// ends it. Pongs and the echo of a close go out through the subscriber's
// queue, so that no frame is ever written into the middle of another.
func (w *wsWriters) stream(conn *websocket.Conn, s *subscriber) {
	detach := w.attach(s, conn.NetConn())
	defer detach()
	conn.SetPingHandler(func(data string) error {
		s.control(wsFrame(framePong, []byte(data)))
		return nil
	})
	conn.SetCloseHandler(func(code int, _ string) error {
		if code == websocket.CloseNoStatusReceived {
			s.control(wsFrame(frameClose, nil))
		} else {
			s.control(closeFrame(code, ""))
		}
		return nil
	})
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
	}
}

// rawWriter writes what a socket takes without waiting (errWouldBlock with
// the count written when it takes less).
type rawWriter interface {
	writeNow(b []byte) (int, error)
}
