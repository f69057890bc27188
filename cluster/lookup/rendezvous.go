package lookup

import (
	"hash/fnv"
	"sort"
)

// rank orders members by preference for key (rendezvous, or highest random
// weight, hashing): every member gets a score from the pair, the highest
// score owns the key, the next takes over when it is gone. Removing a
// member moves only the keys it owned; every node that sees the same
// members ranks them the same way.
func rank(key string, members []string) []string {
	out := append([]string(nil), members...)
	scores := make(map[string]uint64, len(out))
	for _, m := range out {
		scores[m] = score(m, key)
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := scores[out[i]], scores[out[j]]
		if si != sj {
			return si > sj
		}
		return out[i] < out[j]
	})
	return out
}

// score hashes member and key together; the finalizer spreads the FNV
// hash's low-entropy bits so that similar keys (lot ids) do not cluster.
func score(member, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(member))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
