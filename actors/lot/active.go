package lot

import "sync"

// Active is the set of lots with an activation on this node. The lot
// sweep leaves them to their own timers; the others it moves itself, in
// MySQL. Safe for concurrent use; the zero value is empty.
type Active struct {
	mu  sync.Mutex
	ids map[int64]int // activations; a stopping one may overlap the next
}

// Has reports whether lot id has an activation on this node.
func (a *Active) Has(id int64) bool {
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ids[id] > 0
}

// Len counts the lots with an activation on this node.
func (a *Active) Len() int {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ids)
}

func (a *Active) add(id int64) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ids == nil {
		a.ids = map[int64]int{}
	}
	a.ids[id]++
}

func (a *Active) remove(id int64) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ids[id] <= 1 {
		delete(a.ids, id)
		return
	}
	a.ids[id]--
}
