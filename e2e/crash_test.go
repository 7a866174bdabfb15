package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
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
	bin, natsURL, sandboxAddr := natsAndSandbox(t, "SANDBOX_READY_AFTER=500ms", "SANDBOX_LATENCY=150ms")

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

	js := connect(t, natsURL)
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
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := sessions(t, sandboxAddr); n < 8 {
			return fmt.Errorf("worker A opened %d sessions", n)
		}
		return nil
	})
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done //nolint:errcheck // killed on purpose: the exit error is "signal: killed"
	a.done <- nil
	t.Logf("killed worker A with %d sessions opened and %d lookups finished", sessions(t, sandboxAddr), len(terminal.terminal()))

	opsB := freeAddr(t)
	b := start(t, "worker B", filepath.Join(bin, "worker"), workerEnv(opsB))
	waitHTTP(t, "http://"+opsB+"/readyz", b)

	for id, evs := range waitTerminal(t, terminal, sandboxAddr, n, 2*time.Minute) {
		if len(evs) != 1 || evs[0].Kind != "completed" {
			t.Errorf("%s: %d terminal events (first %s), want exactly one completed", id, len(evs), evs[0].Kind)
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
