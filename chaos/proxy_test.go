package chaos

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy modes.
const (
	pass    = iota
	latency // every chunk forwarded after a delay
	drop    // connections closed at once, new ones refused
	// blackhole: open connections cut, new ones accepted, nothing
	// forwarded either way until the mode changes; what was held then
	// goes on (a partition that heals: TCP's retransmits get through).
	blackhole
)

// faultProxy forwards TCP connections from its address to a target and
// injects faults into them.
type faultProxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32
	delay  atomic.Int64 // nanoseconds, for latency

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newFaultProxy(addr, target string) (*faultProxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// set changes the mode; drop and blackhole also cut what is open, as a
// failed link or a failover would.
func (p *faultProxy) set(mode int32, delay time.Duration) {
	p.delay.Store(int64(delay))
	p.mode.Store(mode)
	if mode == drop || mode == blackhole {
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	}
}

func (p *faultProxy) Close() {
	p.ln.Close()
	p.set(drop, 0)
	p.wg.Wait()
}

func (p *faultProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.mode.Load() == drop {
			c.Close()
			continue
		}
		p.track(c, true)
		go p.serve(c)
	}
}

// held waits while the proxy blackholes, and answers whether to go on
// (not when the mode became drop).
func (p *faultProxy) held() bool {
	for p.mode.Load() == blackhole {
		time.Sleep(5 * time.Millisecond)
	}
	return p.mode.Load() != drop
}

// serve connects c to the target once the proxy passes, and pipes both
// ways.
func (p *faultProxy) serve(c net.Conn) {
	if !p.held() {
		c.Close()
		p.track(c, false)
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		p.track(c, false)
		return
	}
	p.track(up, true)
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.pipe(up, c) }()
	go func() { defer both.Done(); p.pipe(c, up) }()
	both.Wait()
	p.track(c, false)
	p.track(up, false)
}

// pipe copies src to dst until either end closes or a fault cuts them.
func (p *faultProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			switch p.mode.Load() {
			case latency:
				time.Sleep(time.Duration(p.delay.Load()))
			case blackhole:
				if !p.held() {
					return
				}
			case drop:
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestFaultProxyModes(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	p, err := newFaultProxy("127.0.0.1:0", echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	roundTrip := func() error {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		b := make([]byte, 4)
		_, err = io.ReadFull(c, b)
		return err
	}
	if err := roundTrip(); err != nil {
		t.Fatalf("pass: %v", err)
	}
	p.set(drop, 0)
	if err := roundTrip(); err == nil {
		t.Error("drop: a round trip went through")
	}
	p.set(blackhole, 0)
	if err := roundTrip(); err == nil {
		t.Error("blackhole: a round trip went through")
	}
	// A connection made during the blackhole is held, not lost: what it
	// sent arrives once the proxy passes again.
	held, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := held.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	held.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := held.Read(make([]byte, 4)); err == nil {
		t.Error("blackhole: an answer came through")
	}
	p.set(pass, 0)
	held.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 4)
	if _, err := io.ReadFull(held, b); err != nil || string(b) != "held" {
		t.Errorf("a connection held by the blackhole after it healed: %q, %v; want its bytes echoed", b, err)
	}
	if err := roundTrip(); err != nil {
		t.Errorf("pass again: %v", err)
	}
}
