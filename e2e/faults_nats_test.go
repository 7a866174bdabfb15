package e2e

// nats-server processes and clusters, waiting for JetStream, and clients that reconnect forever.

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

// faultNATS is one nats-server process, or a cluster of them.
type faultNATS struct {
	servers     []*fproc
	clientAddrs []string
}

func (n *faultNATS) urls() string {
	urls := make([]string, len(n.clientAddrs))
	for i, a := range n.clientAddrs {
		urls[i] = "nats://" + a
	}
	return strings.Join(urls, ",")
}

// faultStartNATS starts n nats-server processes with JetStream, each on its
// own store; more than one form a cluster, every server routed to every
// cluster port (its own included). Every server also gets the flags extra.
func faultStartNATS(tb testing.TB, bin string, n int, extra ...string) *faultNATS {
	tb.Helper()
	addrs := faultFreeAddrs(tb, 2*n)
	np := &faultNATS{clientAddrs: addrs[:n]}
	clusterAddrs := addrs[n:]
	var routes []string
	for _, a := range clusterAddrs {
		routes = append(routes, "nats://"+a)
	}
	for i := range n {
		host, port, _ := net.SplitHostPort(np.clientAddrs[i])
		args := append([]string{"-js", "-sd", tb.TempDir(), "-a", host, "-p", port}, extra...)
		if n > 1 {
			args = append(args, "--cluster_name", "kybflow", "--cluster", "nats://"+clusterAddrs[i],
				"--routes", strings.Join(routes, ","), "-n", fmt.Sprintf("n%d", i))
		}
		np.servers = append(np.servers, newFproc(fmt.Sprintf("nats-server n%d", i), filepath.Join(bin, "nats-server"), nil, args...))
	}
	faultCleanup(tb, func() []*fproc { return np.servers })
	for _, s := range np.servers {
		if err := s.start(); err != nil {
			tb.Fatal(err)
		}
	}
	return np
}

// faultWaitJetStream waits until a stream with the given replicas can be made
// (the cluster formed), and deletes it.
func faultWaitJetStream(js jetstream.JetStream, replicas int, timeout time.Duration) error {
	cfg := jetstream.StreamConfig{Name: "E2E_PROBE", Subjects: []string{"e2e.probe"}, Replicas: replicas, Storage: jetstream.MemoryStorage}
	return testenv.Poll(timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return err
		}
		return js.DeleteStream(ctx, cfg.Name)
	})
}

// faultClient connects to urls (comma-separated) for good: it waits for a
// server at first and reconnects forever.
func faultClient(tb testing.TB, urls, name string) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(urls, nats.Name(name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250*time.Millisecond), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}
