package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestNATSClusterFailover(t *testing.T) {
	start := time.Now()
	c := NATSCluster(t, 3)
	t.Logf("cluster ready after %s", time.Since(start).Round(time.Millisecond))
	if c.N() != 3 || len(strings.Split(c.URLs(), ",")) != 3 {
		t.Fatalf("N() = %d, URLs() = %q; want 3 servers", c.N(), c.URLs())
	}

	js := clusterJetStream(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	const stream = "ORDERS"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     stream,
		Subjects: []string{"orders.>"},
		Storage:  jetstream.FileStorage,
		Replicas: 3,
	}); err != nil {
		t.Fatalf("create R3 stream: %v", err)
	}

	const before = 10
	for i := range before {
		if _, err := js.Publish(ctx, "orders.new", fmt.Appendf(nil, "msg %d", i)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}

	leader, err := c.StreamLeader(ctx, stream)
	if err != nil {
		t.Fatalf("StreamLeader: %v", err)
	}
	t.Logf("stream leader is server %d", leader)

	stopped := time.Now()
	c.Stop(leader)
	c.Stop(leader) // idempotent

	// A new leader is elected and publishing works again, through a
	// connection that may have been on the stopped server.
	// Retries carry the same message ID, so that one whose ack was lost is
	// stored only once.
	var failures []string
	err = poll(15*time.Second, func() error {
		pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		defer cancel()
		_, err := js.Publish(pctx, "orders.new", []byte("after failover"), jetstream.WithMsgID("after-failover"))
		if err != nil && (len(failures) == 0 || failures[len(failures)-1] != err.Error()) {
			failures = append(failures, err.Error())
		}
		return err
	})
	if err != nil {
		t.Fatalf("publish after stopping leader %d: %v", leader, err)
	}
	t.Logf("publish succeeded %s after stopping the leader; errors seen meanwhile: %q",
		time.Since(stopped).Round(time.Millisecond), failures)

	newLeader, err := c.StreamLeader(ctx, stream)
	if err != nil {
		t.Fatalf("StreamLeader after failover: %v", err)
	}
	if newLeader == leader {
		t.Fatalf("StreamLeader after stopping server %d = %d", leader, newLeader)
	}

	restarted := time.Now()
	c.Restart(t, leader)
	c.WaitStreamsCurrent(t, 15*time.Second, stream)
	t.Logf("server %d rejoined, stream current %s after restart", leader, time.Since(restarted).Round(time.Millisecond))

	info, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if got, want := info.CachedInfo().State.Msgs, uint64(before+1); got != want {
		t.Fatalf("stream holds %d messages, want %d", got, want)
	}

	// The restarted server is a working member: a client connected only to
	// it can publish, and can read every message.
	nc0, err := nats.Connect(c.URL(leader))
	if err != nil {
		t.Fatalf("connect to restarted server: %v", err)
	}
	defer nc0.Close()
	js0, err := jetstream.New(nc0)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	if _, err := js0.Publish(ctx, "orders.new", []byte("via restarted")); err != nil {
		t.Fatalf("publish via restarted server: %v", err)
	}
	s, err := js0.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream via restarted server: %v", err)
	}
	for seq := uint64(1); seq <= before+2; seq++ {
		if _, err := s.GetMsg(ctx, seq); err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
	}
}

// Restart of a running server stops it first and keeps its URL.
func TestNATSClusterRestartRunning(t *testing.T) {
	c := NATSCluster(t, 3)
	url0 := c.URL(0)
	c.Restart(t, 0)
	if c.URL(0) != url0 {
		t.Fatalf("URL(0) after Restart = %s, want %s", c.URL(0), url0)
	}
	js := clusterJetStream(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Replicas: 3}); err != nil {
		t.Fatalf("create R3 stream after restart: %v", err)
	}
	c.WaitStreamsCurrent(t, 10*time.Second, "S")
	if leader, err := c.StreamLeader(ctx, "NOPE"); leader != -1 || err == nil {
		t.Errorf("StreamLeader(NOPE) = %d, %v; want -1 and an error", leader, err)
	}
}

// Servers rejoin also after the cluster lost quorum. Slow (new raft
// elections take 4-9s), so skipped with -short.
func TestNATSClusterQuorumLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("raft elections after quorum loss take seconds")
	}
	c := NATSCluster(t, 3)
	js := clusterJetStream(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Replicas: 3}); err != nil {
		t.Fatalf("create R3 stream: %v", err)
	}
	if _, err := js.Publish(ctx, "S", []byte("x")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	c.Stop(0)
	c.Stop(1)
	c.Restart(t, 0)
	c.Restart(t, 1)
	c.WaitStreamsCurrent(t, 10*time.Second, "S")
	info, err := js.Stream(ctx, "S")
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if n := info.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("stream holds %d messages, want 1", n)
	}
}

// clusterJetStream connects to every server of c, reconnecting forever.
func clusterJetStream(t *testing.T, c *Cluster) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}
