package testenv

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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

// reservePorts picks n distinct free ports on 127.0.0.1 (FreePorts), and
// frees them for the servers to bind.
func reservePorts(n int) ([]int, error) {
	ports, err := FreePorts(n)
	if err != nil {
		return nil, fmt.Errorf("reserve port: %w", err)
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

// running returns the servers that are running, by index (nil if stopped).
func (c *Cluster) running() []*server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*server.Server(nil), c.servers...)
}
