package node

import (
	"log/slog"
	"os"
	"sort"
	"strconv"
	"syscall"

	"shelflife/cluster/member"
	"shelflife/domain"
)

// clusterInfo adapts the member to the admin API.
type clusterInfo struct{ m *member.Member }

func (c clusterInfo) Self() string { return c.m.Address() }

func (c clusterInfo) MemberAddresses() []string {
	var out []string
	for _, m := range c.m.Members() {
		out = append(out, m.Address)
	}
	sort.Strings(out)
	return out
}

func (c clusterInfo) LotOwner(lotID int64) string {
	return c.m.Owner(strconv.FormatInt(lotID, 10), "Lot")
}

// crashAfter is the crash tests' fault injection: it kills this process the
// moment a saga reaches step, as a power cut would.
func crashAfter(step string, log *slog.Logger) func(orderID string, reached domain.Step) {
	if step == "" {
		return nil
	}
	log.Warn("fault injection armed: the process will SIGKILL itself", "after_step", step)
	return func(orderID string, reached domain.Step) {
		if string(reached) == step {
			log.Warn("fault injection: killing the process", "order", orderID, "step", step)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}
