package testenv

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

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
