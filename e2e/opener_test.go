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

// TestOpenerKilledMidCreateIsTakenOverQuickly kills, with SIGKILL, the
// worker whose create-session call is in flight. With default settings,
// another replica must finish the lookup within 30 s of the kill: the dead
// opener's lease ends within one lease (15 s), and its command comes back
// within one ack wait (15 s), not after minutes.
func TestOpenerKilledMidCreateIsTakenOverQuickly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, natsURL, sandboxAddr := natsAndSandbox(t, "SANDBOX_READY_AFTER=200ms", "SANDBOX_CREATE_LATENCY=4s")

	blobDir := t.TempDir()
	workerEnv := func(ops string) []string { // the defaults, but for where things are
		return []string{
			"NATS_URL=" + natsURL, "AML_API_URL=http://" + sandboxAddr,
			"AML_ISSUER_URL=http://" + sandboxAddr + "/auth/realms/sandbox",
			"AML_CLIENT_ID=sandbox", "AML_CLIENT_SECRET=sandbox-secret", "BLOB_DIR=" + blobDir,
			"HTTP_ADDR=" + ops, "LOG_LEVEL=warn",
		}
	}
	opsA := freeAddr(t)
	a := start(t, "worker A", filepath.Join(bin, "worker"), workerEnv(opsA))
	waitHTTP(t, "http://"+opsA+"/readyz", a)

	js := connect(t, natsURL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	terminal := watchTerminal(t, ctx, js)
	body := `{"lookupId":"opener-killed","type":"organization","identifier":"923609016","reports":["aml"]}`
	if _, err := js.Publish(ctx, "aml.commands.lookup", []byte(body), jetstream.WithMsgID("opener-killed")); err != nil {
		t.Fatal(err)
	}
	// Worker A is the opener once its create call reaches the sandbox. It
	// is killed there; worker B, the other replica, starts after (its
	// start-up counts in the 30 s).
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := createRequests(t, sandboxAddr); n < 1 {
			return fmt.Errorf("%d create calls", n)
		}
		return nil
	})
	killed := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done //nolint:errcheck // killed on purpose: the exit error is "signal: killed"
	a.done <- nil
	if sessions(t, sandboxAddr) != 0 {
		t.Fatal("worker A's create call had already ended when it was killed")
	}
	opsB := freeAddr(t)
	b := start(t, "worker B", filepath.Join(bin, "worker"), workerEnv(opsB))
	waitHTTP(t, "http://"+opsB+"/readyz", b)

	evs := waitTerminal(t, terminal, sandboxAddr, 1, 60*time.Second)["opener-killed"]
	took := time.Since(killed)
	t.Logf("lookup finished %s after its opener was killed mid-create", took.Round(100*time.Millisecond))
	if len(evs) != 1 || evs[0].Kind != "completed" {
		t.Fatalf("terminal events %v, want one completed", evs)
	}
	if took > 30*time.Second {
		t.Errorf("another replica finished the lookup %s after its opener died; want within 30s", took.Round(time.Second))
	}
	if n := sessions(t, sandboxAddr); n != 1 {
		t.Errorf("%d sessions; the killed create was cut before the session existed, so want 1", n)
	}
}

// createRequests is how many create-session calls the sandbox has had.
func createRequests(t *testing.T, sandboxAddr string) int {
	t.Helper()
	resp, err := http.Get("http://" + sandboxAddr + "/_sandbox/inspect")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ins struct {
		Requests map[string]int `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ins); err != nil {
		t.Fatal(err)
	}
	return ins.Requests["POST /organization/session/no"]
}
