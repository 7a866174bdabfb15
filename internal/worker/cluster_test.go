package worker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/natsembed"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestClusterServerFailuresLoseNothing runs three workers, started at the
// same moment on a fresh three-server cluster with R3 streams, while
// lookups flow and servers fail: first the server that leads the commands
// stream, then another. Every lookup must end exactly once, with one
// session each, and no worker may exit.
func TestClusterServerFailuresLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-server cluster with three workers")
	}
	cluster := testenv.NATSCluster(t, 3)
	e := newEnv(t, envOptions{cluster: cluster})

	// Three replicas ensuring the same topology at once, right after the
	// cluster formed: all become ready.
	apps := make([]*App, 3)
	var wg sync.WaitGroup
	for i := range apps {
		wg.Add(1)
		go func() { defer wg.Done(); apps[i], _ = e.startWorkerApp(e.config(false)) }()
	}
	wg.Wait()
	for i, app := range apps {
		testenv.Eventually(t, 2*time.Minute, func() error {
			if err := ready(app); err != nil {
				return fmt.Errorf("worker %d: %w", i, err)
			}
			return nil
		})
	}
	e.watchEvents()

	const n = 40
	var pub sync.WaitGroup
	pub.Add(1)
	published := make(chan int, n)
	go func() { // a platform publishing throughout the faults
		defer pub.Done()
		for i := range n {
			id := fmt.Sprintf("cl-%02d", i)
			e.publish(cmd{LookupID: id, Type: "organization", Country: "NO", Identifier: "923609016", Reports: []string{"aml"}}, id)
			published <- i
			time.Sleep(100 * time.Millisecond) // sleep: the platform's pace, spreading lookups over the faults
		}
	}()
	waitPublished := func(k int) {
		t.Helper()
		for {
			select {
			case i := <-published:
				if i+1 >= k {
					return
				}
			case <-time.After(2 * time.Minute):
				t.Fatalf("the platform could not publish %d lookups", k)
			}
		}
	}

	// A fault: one server down for a few seconds (as a crash and a restart
	// look to clients), then back on its own store.
	fault := func(stream string, leader bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		lead, err := cluster.StreamLeader(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		victim := lead
		if !leader {
			victim = (lead + 1) % cluster.N()
		}
		t.Logf("stopping server %d (leader of %s: %d)", victim, stream, lead)
		cluster.Stop(victim)
		time.Sleep(4 * time.Second) // sleep: the outage itself: how long the server stays down
		cluster.Restart(t, victim)
	}
	waitPublished(10)
	fault("AML_COMMANDS", true)
	waitPublished(25)
	fault("KV_AML_LOOKUPS", false)
	pub.Wait()

	for i := range n {
		e.terminal(fmt.Sprintf("cl-%02d", i), 3*time.Minute)
	}
	// A marker after everything: duplicates of the endings above would have
	// been published before its own ending.
	e.publish(cmd{LookupID: "cl-marker", Type: "organization", Country: "NO", Identifier: "923609016"}, "cl-marker")
	e.terminal("cl-marker", time.Minute)
	for i := range n {
		id := fmt.Sprintf("cl-%02d", i)
		e.assertExactlyOnce(id)
		completedData(t, e.terminal(id, time.Second))
	}
	if got := e.totalSessions(); got != n+1 {
		t.Errorf("%d sessions for %d lookups: the faults doubled some", got, n+1)
	}
	for i, app := range apps {
		testenv.Eventually(t, time.Minute, func() error {
			if err := ready(app); err != nil {
				return fmt.Errorf("worker %d after the faults: %w", i, err)
			}
			return nil
		})
	}
}

// TestSingleServerRestartLosesNothing stops the one NATS server mid-run and
// starts it again on the same store directory: the worker waits (not
// ready), then finishes every lookup, those published before the stop and
// after the restart, exactly once.
func TestSingleServerRestartLosesNothing(t *testing.T) {
	dir := t.TempDir()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: filepath.Join(dir, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.ClientURL()
	t.Cleanup(func() { srv.Shutdown() })
	e := newEnv(t, envOptions{natsURL: url})
	e.start(false, 0)
	app, _ := e.startWorkerApp(e.config(false))
	testenv.Eventually(t, time.Minute, func() error { return ready(app) })

	for i := range 5 {
		id := fmt.Sprintf("restart-before-%d", i)
		e.publish(cmd{LookupID: id, Type: "organization", Country: "NO", Identifier: "923609016", Reports: []string{"aml"}}, id)
	}
	e.terminal("restart-before-0", 30*time.Second)
	srv.Shutdown()
	testenv.Eventually(t, 30*time.Second, func() error {
		if ready(app) == nil {
			return fmt.Errorf("ready with its NATS server down")
		}
		return nil
	})
	port := url[len("nats://127.0.0.1:"):]
	var p int
	if _, err := fmt.Sscan(port, &p); err != nil {
		t.Fatal(err)
	}
	if srv, err = natsembed.Start(natsembed.Config{StoreDir: filepath.Join(dir, "nats"), Port: p}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error { return ready(app) })
	for i := range 5 {
		id := fmt.Sprintf("restart-after-%d", i)
		e.publish(cmd{LookupID: id, Type: "organization", Country: "NO", Identifier: "923609016", Reports: []string{"aml"}}, id)
	}
	for _, prefix := range []string{"restart-before", "restart-after"} {
		for i := range 5 {
			completedData(t, e.terminal(fmt.Sprintf("%s-%d", prefix, i), time.Minute))
		}
	}
	e.publish(cmd{LookupID: "restart-marker", Type: "organization", Country: "NO", Identifier: "923609016"}, "restart-marker")
	e.terminal("restart-marker", time.Minute)
	for _, prefix := range []string{"restart-before", "restart-after"} {
		for i := range 5 {
			e.assertExactlyOnce(fmt.Sprintf("%s-%d", prefix, i))
		}
	}
	if got := e.totalSessions(); got != 11 {
		t.Errorf("%d sessions for 11 lookups", got)
	}
}

// A worker whose NATS does not answer yet is alive and not ready: /healthz
// answers, /readyz names the topology it has not ensured, and Run waits.
func TestWorkerWaitsForNATSAtStart(t *testing.T) {
	e := newEnv(t, envOptions{})
	cfg := e.config(false)
	cfg.NATS.URL = "nats://127.0.0.1:1" // nothing listens there
	app, stop := e.startWorkerApp(cfg)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + app.OpsAddr().String() + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if code, body := get("/healthz"); code != http.StatusOK {
			return fmt.Errorf("/healthz %d %s", code, body)
		}
		return nil
	})
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "topology: streams, bucket and consumers not ensured yet") {
		t.Errorf("/readyz while NATS is away: %d %s", code, body)
	}
	if err := stop(); err != nil {
		t.Errorf("a stop while waiting for NATS: %v, want nil", err)
	}
}
