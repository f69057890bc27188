package api

import (
	"sync"
	"sync/atomic"
	"time"
)

// inFlight is the requests being answered, so that a drain that runs out
// of time can name the ones it leaves behind.
type inFlight struct {
	seq atomic.Uint64
	m   sync.Map // uint64 -> runningRequest
}

type runningRequest struct {
	id, method, path string
	start            time.Time
}

func (f *inFlight) add(r runningRequest) uint64 {
	k := f.seq.Add(1)
	f.m.Store(k, r)
	return k
}

func (f *inFlight) done(k uint64) { f.m.Delete(k) }

// each calls fn for every request still being answered.
func (f *inFlight) each(fn func(runningRequest)) {
	f.m.Range(func(_, v any) bool {
		fn(v.(runningRequest))
		return true
	})
}
