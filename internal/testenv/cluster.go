package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	natsClusterName = "kybflow-test"
	// natsClusterReadyTimeout bounds each wait for servers to listen, for a
	// meta leader and for servers to be current. A fresh cluster is ready in
	// well under a second, but a new election after a leader was lost
	// without handing off waits out raft's 4-9s election timeout.
	natsClusterReadyTimeout = 30 * time.Second
	// natsClusterStartAttempts bounds retries of the first start: cluster ports
	// are reserved before the servers bind them (see reservePorts), so
	// another process may take one in between.
	natsClusterStartAttempts = 3
)

// Cluster is an n-server NATS cluster with JetStream, embedded in the test process.
type Cluster struct {
	mu          sync.Mutex
	servers     []*server.Server // nil while stopped
	storeDirs   []string
	clientPorts []int
	routePorts  []int
}

// NATSCluster starts n (normally 3) servers, each with JetStream file storage on its own t.TempDir(),
// on 127.0.0.1 with ports chosen by the OS, routed to each other, and waits until JetStream has a
// meta leader and every server is current (so streams with Replicas: 3 can be placed at once).
// Servers are shut down at t.Cleanup.
//
// Every server is given routes to every server (itself included, which
// nats-server ignores), as nats-server's own cluster tests do: a clustered
// JetStream server refuses to start without configured routes, and the
// number of routes is what it expects the meta group's size to be. So the
// cluster ports are picked by the OS before the servers start; the client
// ports are picked when they start.
func NATSCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 2 {
		// A clustered server expects a meta group of at least two, so one
		// alone never elects a leader; NATS is the single-server helper.
		t.Fatalf("testenv: NATSCluster: n = %d, want at least 2", n)
	}
	var err error
	for range natsClusterStartAttempts {
		var c *Cluster
		if c, err = startCluster(t, n); err == nil {
			t.Cleanup(c.stopAll)
			if err = c.waitReady(natsClusterReadyTimeout); err != nil {
				t.Fatalf("testenv: NATS cluster: %v", err)
			}
			return c
		}
	}
	t.Fatalf("testenv: start NATS cluster: %v", err)
	return nil
}

// startCluster reserves ports and starts n servers, each on a fresh temp dir.
// On error no server is left running.
func startCluster(t testing.TB, n int) (*Cluster, error) {
	ports, err := reservePorts(n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		servers:     make([]*server.Server, n),
		storeDirs:   make([]string, n),
		clientPorts: make([]int, n),
		routePorts:  ports,
	}
	for i := range n {
		c.storeDirs[i] = t.TempDir()
		c.clientPorts[i] = -1
	}
	for i := range n {
		if err := c.start(i); err != nil {
			c.stopAll()
			return nil, err
		}
	}
	return c, nil
}

// reservePorts has the OS pick n distinct free ports on 127.0.0.1, and frees
// them for the servers to bind.
func reservePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range n {
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve port: %w", err)
		}
		defer l.Close() // held until all are picked, so that they differ
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// start starts server i and waits until it accepts client and route
// connections, and records the client port it bound. The caller holds c.mu,
// or has not shared c yet.
func (c *Cluster) start(i int) error {
	routes := make([]*url.URL, len(c.routePorts))
	for j, p := range c.routePorts {
		routes[j] = &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)}
	}
	opts := &server.Options{
		ServerName: fmt.Sprintf("n%d", i),
		Host:       "127.0.0.1",
		Port:       c.clientPorts[i],
		JetStream:  true,
		StoreDir:   c.storeDirs[i],
		Routes:     routes,
		NoSigs:     true, // the test process owns signals
		NoLog:      true,
	}
	opts.Cluster.Name = natsClusterName
	opts.Cluster.Host = "127.0.0.1"
	opts.Cluster.Port = c.routePorts[i]

	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("new server %d: %w", i, err)
	}
	go srv.Start() // joined by Stop's WaitForShutdown
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("server %d not ready for connections (client port %d, cluster port %d)",
			i, c.clientPorts[i], c.routePorts[i])
	}
	c.clientPorts[i] = srv.Addr().(*net.TCPAddr).Port
	c.servers[i] = srv
	return nil
}

// URLs is every server's client URL, comma-separated (what NATS_URL takes).
func (c *Cluster) URLs() string {
	urls := make([]string, c.N())
	for i := range urls {
		urls[i] = c.URL(i)
	}
	return strings.Join(urls, ",")
}

// URL is server i's client URL.
func (c *Cluster) URL(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("nats://127.0.0.1:%d", c.clientPorts[i])
}

// N is the number of servers.
func (c *Cluster) N() int { return len(c.clientPorts) }

// Stop shuts server i down (as a crash would look to clients: connections drop). Idempotent.
//
// To the cluster it is a clean shutdown, not a crash: nats-server first
// hands off the raft groups (meta, streams) it leads, so a new leader is
// usually elected within a second rather than after an election timeout.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(i)
}

func (c *Cluster) stopLocked(i int) {
	if srv := c.servers[i]; srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		c.servers[i] = nil
	}
}

func (c *Cluster) stopAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.servers {
		c.stopLocked(i)
	}
}

// Restart starts server i again on the same client and cluster ports and the same store directory,
// and waits until it is ready for connections and has rejoined (JetStream current). Stop first if running.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	c.mu.Lock()
	c.stopLocked(i)
	err := c.start(i)
	srv := c.servers[i]
	c.mu.Unlock()
	if err != nil {
		t.Fatalf("testenv: restart NATS server %d: %v", i, err)
	}
	err = poll(natsClusterReadyTimeout, func() error {
		if err := c.metaReady(); err != nil {
			return err
		}
		return serverHealthy(srv)
	})
	if err != nil {
		t.Fatalf("testenv: restarted NATS server %d did not rejoin: %v", i, err)
	}
}

// running returns the servers that are running, by index (nil if stopped).
func (c *Cluster) running() []*server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*server.Server(nil), c.servers...)
}

// waitReady waits until the meta group has a leader that knows every server
// and every server is current and healthy.
func (c *Cluster) waitReady(timeout time.Duration) error {
	return poll(timeout, func() error {
		if err := c.metaReady(); err != nil {
			return err
		}
		for _, srv := range c.running() {
			if srv == nil {
				continue
			}
			if err := serverHealthy(srv); err != nil {
				return err
			}
		}
		return nil
	})
}

// metaReady reports whether a running server leads the JetStream meta group
// and sees every running server as an online peer.
func (c *Cluster) metaReady() error {
	running := c.running()
	for _, srv := range running {
		if srv == nil || !srv.JetStreamIsLeader() {
			continue
		}
		// JetStreamClusterPeers lists the online peers, and none unless srv
		// is (still) the leader.
		peers := make(map[string]bool)
		for _, name := range srv.JetStreamClusterPeers() {
			peers[name] = true
		}
		for _, s := range running {
			if s != nil && !peers[s.Name()] {
				return fmt.Errorf("meta leader %s does not see %s as a peer", srv.Name(), s.Name())
			}
		}
		return nil
	}
	return errors.New("no JetStream meta leader")
}

// serverHealthy reports whether srv is current with the meta group and
// healthy (healthz: meta group current, its streams and consumers current).
func serverHealthy(srv *server.Server) error {
	if !srv.JetStreamIsCurrent() {
		return fmt.Errorf("server %s: JetStream not current", srv.Name())
	}
	if hs := srv.Healthz(nil); hs.Status != "ok" {
		return fmt.Errorf("server %s: healthz %s: %s", srv.Name(), hs.Status, hs.Error)
	}
	return nil
}

// index returns the index of the server named name, or -1.
func (c *Cluster) index(name string) int {
	for i := range c.N() {
		if name == fmt.Sprintf("n%d", i) {
			return i
		}
	}
	return -1
}

// streamInfo asks for a stream's info through each running server in turn,
// each try bounded by at most perTry, and returns the first answer.
func (c *Cluster) streamInfo(ctx context.Context, stream string, perTry time.Duration) (*jetstream.StreamInfo, error) {
	err := errors.New("no server is running")
	for i, srv := range c.running() {
		if srv == nil {
			continue
		}
		var info *jetstream.StreamInfo
		if info, err = streamInfoVia(ctx, c.URL(i), stream, perTry); err == nil {
			return info, nil
		}
		err = fmt.Errorf("via server %d: %w", i, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

func streamInfoVia(ctx context.Context, url, stream string, timeout time.Duration) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := nats.Connect(url, nats.NoReconnect(), nats.Timeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %q info: %w", stream, err)
	}
	return s.CachedInfo(), nil
}

// StreamLeader returns the index of the server that leads the stream (by the leader's server name),
// asking through any running server; -1 with an error if none is known.
func (c *Cluster) StreamLeader(ctx context.Context, stream string) (int, error) {
	info, err := c.streamInfo(ctx, stream, 2*time.Second)
	if err != nil {
		return -1, fmt.Errorf("testenv: stream leader: %w", err)
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return -1, fmt.Errorf("testenv: stream %q has no leader", stream)
	}
	i := c.index(info.Cluster.Leader)
	if i < 0 {
		return -1, fmt.Errorf("testenv: stream %q leader %q is not a server of this cluster", stream, info.Cluster.Leader)
	}
	return i, nil
}

// WaitStreamsCurrent waits until every named stream has a leader and all replicas current, up to a timeout, failing t otherwise.
//
// A stream is current when its leader reports as many replicas as
// configured, all of them current and online, and every running server that
// holds the stream reports it current (caught up). A replica on a stopped
// server is never current.
func (c *Cluster) WaitStreamsCurrent(t testing.TB, timeout time.Duration, streams ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, stream := range streams {
		err := poll(time.Until(ctxDeadline(ctx)), func() error { return c.streamCurrent(ctx, stream) })
		if err != nil {
			t.Fatalf("testenv: stream %q not current after %s: %v", stream, timeout, err)
		}
	}
}

func ctxDeadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

func (c *Cluster) streamCurrent(ctx context.Context, stream string) error {
	info, err := c.streamInfo(ctx, stream, time.Second)
	if err != nil {
		return err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return errors.New("no leader")
	}
	if got, want := len(info.Cluster.Replicas)+1, max(info.Config.Replicas, 1); got != want {
		return fmt.Errorf("leader %s reports %d of %d replicas", info.Cluster.Leader, got, want)
	}
	for _, r := range info.Cluster.Replicas {
		if r.Offline || !r.Current {
			return fmt.Errorf("replica %s: current %t, offline %t, lag %d", r.Name, r.Current, r.Offline, r.Lag)
		}
	}
	for _, srv := range c.running() {
		if srv == nil || !srv.JetStreamIsStreamAssigned(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			continue
		}
		if !srv.JetStreamIsStreamCurrent(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return fmt.Errorf("server %s: stream not current", srv.Name())
		}
	}
	return nil
}

// poll calls cond every 50ms until it returns nil or timeout has passed,
// and then returns cond's last error.
func poll(timeout time.Duration, cond func() error) error {
	end := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(end) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
