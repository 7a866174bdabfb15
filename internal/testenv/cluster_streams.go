package testenv

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

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
