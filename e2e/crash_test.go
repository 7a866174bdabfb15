package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestWorkerKilledMidWorkLosesNothing kills a worker with SIGKILL (no
// drain) while it opens sessions and stores results, then starts another:
// every lookup must still end in exactly one terminal event. A duplicate
// session can only come from the one window the design names (a session
// created but not yet recorded when the process died), so there are at most
// as many as lookups in flight.
func TestWorkerKilledMidWorkLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := build(t)
	natsAddr, sandboxAddr := freeAddr(t), freeAddr(t)
	host, port, _ := net.SplitHostPort(natsAddr)
	natsURL := "nats://" + natsAddr
	start(t, "nats-server", filepath.Join(bin, "nats-server"), nil, "-js", "-a", host, "-p", port, "-sd", t.TempDir())
	sandbox := start(t, "aml-sandbox", filepath.Join(bin, "aml-sandbox"), []string{
		"SANDBOX_LISTEN=" + sandboxAddr, "SANDBOX_READY_AFTER=500ms", "SANDBOX_LATENCY=150ms",
	})
	waitHTTP(t, "http://"+sandboxAddr+"/auth/realms/sandbox/.well-known/openid-configuration", sandbox)

	const concurrency = 4
	blobDir := t.TempDir()
	workerEnv := func(ops string) []string {
		return []string{
			"NATS_URL=" + natsURL, "AML_API_URL=http://" + sandboxAddr,
			"AML_ISSUER_URL=http://" + sandboxAddr + "/auth/realms/sandbox",
			"AML_CLIENT_ID=sandbox", "AML_CLIENT_SECRET=sandbox-secret", "BLOB_DIR=" + blobDir,
			"HTTP_ADDR=" + ops, "POLL_INITIAL=200ms", "POLL_MAX=500ms", "ACK_WAIT=3s", "OPEN_LEASE=10s",
			"AML_RETRY_MAX_ELAPSED=5s", fmt.Sprintf("WORKER_CONCURRENCY=%d", concurrency), "LOG_LEVEL=warn",
		}
	}
	opsA := freeAddr(t)
	a := start(t, "worker A", filepath.Join(bin, "worker"), workerEnv(opsA))
	waitHTTP(t, "http://"+opsA+"/readyz", a)

	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	terminal := watchTerminal(t, ctx, js)

	const n = 30
	for i := range n {
		id := fmt.Sprintf("crash-%02d", i)
		body := fmt.Sprintf(`{"lookupId":%q,"type":"organization","identifier":"923609016","reports":["aml"]}`, id)
		if _, err := js.Publish(ctx, "aml.commands.lookup", []byte(body), jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	// Kill it in the middle: some sessions opened, some results stored.
	for deadline := time.Now().Add(30 * time.Second); sessions(t, sandboxAddr) < 8; {
		if time.Now().After(deadline) {
			t.Fatal("worker A opened no sessions")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
	a.done <- nil
	t.Logf("killed worker A with %d sessions opened and %d lookups finished", sessions(t, sandboxAddr), len(terminal()))

	opsB := freeAddr(t)
	b := start(t, "worker B", filepath.Join(bin, "worker"), workerEnv(opsB))
	waitHTTP(t, "http://"+opsB+"/readyz", b)

	for deadline := time.Now().Add(2 * time.Minute); len(terminal()) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d lookups finished after the crash", len(terminal()), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // late duplicates would arrive now
	for id, kinds := range terminal() {
		if len(kinds) != 1 || kinds[0] != "completed" {
			t.Errorf("%s: terminal events %v, want exactly one completed", id, kinds)
		}
	}
	dups := sessions(t, sandboxAddr) - n
	t.Logf("%d lookups, %d sessions: %d duplicate(s) from the crash window", n, n+dups, dups)
	if dups < 0 || dups > concurrency {
		t.Errorf("%d duplicate sessions; at most %d (the lookups in flight) can come from the crash", dups, concurrency)
	}
}

// sessions is how many sessions the sandbox has opened.
func sessions(t *testing.T, sandboxAddr string) int {
	t.Helper()
	resp, err := http.Get("http://" + sandboxAddr + "/_sandbox/inspect")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ins struct {
		Sessions []json.RawMessage `json:"sessions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ins); err != nil {
		t.Fatal(err)
	}
	return len(ins.Sessions)
}

// watchTerminal collects the terminal event kinds of every lookup from
// AML_EVENTS, as a downstream service would.
func watchTerminal(t *testing.T, ctx context.Context, js jetstream.JetStream) func() map[string][]string {
	t.Helper()
	var mu sync.Mutex
	got := map[string][]string{}
	var cons jetstream.Consumer
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		cons, err = js.OrderedConsumer(ctx, "AML_EVENTS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"aml.events.>"}})
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		parts := strings.Split(m.Subject(), ".")
		if kind := parts[len(parts)-1]; kind == "completed" || kind == "failed" {
			mu.Lock()
			got[parts[2]] = append(got[parts[2]], kind)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return func() map[string][]string {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string][]string, len(got))
		for k, v := range got {
			out[k] = append([]string(nil), v...)
		}
		return out
	}
}
