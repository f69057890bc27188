package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// redisServer is a redis-server of the suite's own, killed for "Redis down".
type redisServer struct {
	port int
	cmd  *exec.Cmd
	exit chan struct{}
}

func startRedis(port int) (*redisServer, error) {
	r := &redisServer{port: port}
	return r, r.start()
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

func (r *redisServer) start() error {
	r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	r.exit = make(chan struct{})
	go func(c *exec.Cmd, exit chan struct{}) { c.Wait(); close(exit) }(r.cmd, r.exit)
	c := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %d not up: %w", r.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *redisServer) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exit
	r.cmd = nil
}

// broker is a Kafka-protocol broker (kfake, as the node embeds). It
// listens on port and advertises another address (the fault proxy in
// front of it) in its metadata, so that clients, which connect to the
// addresses they learn from metadata, go through the proxy for every
// request. Its outage is every request refused with the connection closed
// (it keeps its topics and offsets, as a broker restarted with its disks
// would), the broker closed and a new one started on its port (kfake keeps
// its log in memory, so the new one starts empty), or the proxy's faults.
type broker struct {
	port      int
	advertise net.Addr
	c         *kfake.Cluster
	down      atomic.Bool
}

func startBroker(port int, advertise string) (*broker, error) {
	addr, err := net.ResolveTCPAddr("tcp", advertise)
	if err != nil {
		return nil, err
	}
	b := &broker{port: port, advertise: addr}
	return b, b.start()
}

// advertised is a listener that names another address as its own: kfake
// puts its listener's address in its metadata answers.
type advertised struct {
	net.Listener
	addr net.Addr
}

func (a advertised) Addr() net.Addr { return a.addr }

func (b *broker) start() error {
	listen := func(network, address string) (net.Listener, error) {
		ln, err := net.Listen(network, address)
		if err != nil {
			return nil, err
		}
		return advertised{ln, b.advertise}, nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(b.port), kfake.ListenFn(listen),
		kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		return err
	}
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if b.down.Load() {
			return nil, errors.New("broker down"), true
		}
		return nil, nil, false
	})
	b.c = c
	return nil
}

// addrs are the addresses the nodes are given: the proxy's.
func (b *broker) addrs() []string { return b.c.ListenAddrs() }
func (b *broker) close()          { b.c.Close() }
