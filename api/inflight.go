package api

import (
	"sync"
	"time"
)

// inFlight is the requests being answered, so that a drain that runs out
// of time can name the ones it leaves behind. A mutex and a map: every
// request passes here twice, and unlike a sync.Map this allocates nothing.
type inFlight struct {
	mu  sync.Mutex
	seq uint64
	m   map[uint64]runningRequest
}

type runningRequest struct {
	id, method, path string
	start            time.Time
}

func (f *inFlight) add(r runningRequest) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[uint64]runningRequest{}
	}
	f.seq++
	f.m[f.seq] = r
	return f.seq
}

func (f *inFlight) done(k uint64) {
	f.mu.Lock()
	delete(f.m, k)
	f.mu.Unlock()
}

// snapshot is the requests still being answered.
func (f *inFlight) snapshot() []runningRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]runningRequest, 0, len(f.m))
	for _, r := range f.m {
		out = append(out, r)
	}
	return out
}
