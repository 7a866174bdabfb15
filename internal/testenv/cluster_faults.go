package testenv

import (
	"testing"
)

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
