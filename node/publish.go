package node

// publishQueued publishes what queue carries until it is closed: what
// queued while a batch was being sent goes in the next one, up to 500
// messages per produce request. A failed batch is reported, not retried:
// these are notifications, and MySQL stays the truth.
func publishQueued[T any](queue <-chan T, encode func(T) (key, value []byte), publish func(keys, values [][]byte) error, failed func(n int, err error)) {
	var keys, values [][]byte
	add := func(v T) {
		k, b := encode(v)
		keys, values = append(keys, k), append(values, b)
	}
	for first := range queue {
		keys, values = keys[:0], values[:0]
		add(first)
	drain:
		for len(values) < 500 {
			select {
			case more, ok := <-queue:
				if !ok {
					break drain
				}
				add(more)
			default:
				break drain
			}
		}
		if err := publish(keys, values); err != nil {
			failed(len(values), err)
		}
	}
}
