//go:build unix

package api

import (
	"io"
	"net"
	"syscall"
)

// fdWriter writes to a socket without waiting: what the kernel takes at
// once is written, the rest is left to the caller.
type fdWriter struct{ rc syscall.RawConn }

// newRawWriter is nil for a connection without a descriptor of its own
// (TLS, a pipe in a test): its writes then all go through a drain.
func newRawWriter(c net.Conn) rawWriter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return fdWriter{rc}
}

func (w fdWriter) writeNow(b []byte) (int, error) {
	n := 0
	var werr error
	// Returning true every time: RawConn.Write would otherwise wait
	// for the socket to take more, holding up the worker.
	err := w.rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if m > 0 {
				n += m
			}
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				werr = errWouldBlock
			case e != nil:
				werr = e
			case m <= 0:
				werr = io.ErrShortWrite
			default:
				continue
			}
			return true
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
