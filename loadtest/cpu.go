package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's CPU times;
// 100 on every architecture Go builds for.
const clockTicks = 100

// MySQLPIDs finds the MariaDB or MySQL server processes on this machine.
func MySQLPIDs() []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil {
			continue
		}
		switch strings.TrimSpace(string(comm)) {
		case "mariadbd", "mysqld":
			if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// ProcessCPU is the user and system CPU time pid has used, from
// /proc/<pid>/stat.
func ProcessCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: fields
	// are counted after its closing one (utime is field 14, stime 15).
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: CPU times", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// NodeCPU reads process_cpu_seconds_total from a node's metrics.
func (c *Client) NodeCPU(ctx context.Context, metricsURL string) (time.Duration, error) {
	v, err := c.metric(ctx, metricsURL, "process_cpu_seconds_total")
	return time.Duration(v * float64(time.Second)), err
}

// CPUReading is the CPU the node and MySQL had used at one moment, and
// this process (the load generator) beside them.
type CPUReading struct {
	Node, MySQL, Self time.Duration
	ok                bool
}

// ReadCPU reads both; a part that cannot be read (a remote node, no
// MariaDB here) makes the reading unusable rather than wrong.
func (c Config) ReadCPU(ctx context.Context) CPUReading {
	if c.MetricsURL == "" {
		return CPUReading{}
	}
	node, err := c.Client.NodeCPU(ctx, c.MetricsURL)
	if err != nil {
		return CPUReading{}
	}
	self, err := ProcessCPU(os.Getpid())
	if err != nil {
		return CPUReading{}
	}
	r := CPUReading{Node: node, Self: self, ok: true}
	pids := c.MySQLPIDs
	if len(pids) == 0 {
		pids = MySQLPIDs()
	}
	if len(pids) == 0 {
		return CPUReading{}
	}
	for _, pid := range pids {
		v, err := ProcessCPU(pid)
		if err != nil {
			return CPUReading{}
		}
		r.MySQL += v
	}
	return r
}

// CPUPerCheckout is the CPU spent between two readings per paid checkout,
// in milliseconds.
type CPUPerCheckout struct {
	Node  float64 `json:"node"`
	MySQL float64 `json:"mysql"`
	Total float64 `json:"total"`
	// LoadGenerator is what this process spent on the sale's requests, not
	// part of Total: on a machine that runs the shop and its crowd on the
	// same cores, it is CPU the shop's answers waited behind.
	LoadGenerator float64 `json:"load_generator"`
}

// PerCheckout divides the CPU used from a to b over paid checkouts; false
// when a reading failed or nothing was paid.
func PerCheckout(a, b CPUReading, paid int) (CPUPerCheckout, bool) {
	if !a.ok || !b.ok || paid <= 0 {
		return CPUPerCheckout{}, false
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(paid) }
	r := CPUPerCheckout{Node: ms(b.Node - a.Node), MySQL: ms(b.MySQL - a.MySQL), LoadGenerator: ms(b.Self - a.Self)}
	r.Total = r.Node + r.MySQL
	return r, true
}
