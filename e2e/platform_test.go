package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/testenv"
)

// TestPlatformProgramAgainstDevMode builds examples/platform, a program in
// a module of its own that uses only the public Go client, and runs it
// against development mode: the Swedish lookup completes with 2 artifacts,
// the Norwegian one with a wrong check digit fails invalid_identifier.
func TestPlatformProgramAgainstDevMode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := build(t)
	example := filepath.Join(t.TempDir(), "platform")
	cmd := exec.Command("go", "build", "-o", example, ".")
	cmd.Dir = filepath.Join("..", "examples", "platform")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build examples/platform in its own module: %v\n%s", err, out)
	}

	p := start(t, "kybflow-dev", filepath.Join(bin, "kybflow-dev"), []string{"SANDBOX_READY_AFTER=300ms"},
		"--data-dir", t.TempDir(), "--sample=false", "--nats-port", "0", "--sandbox-listen", "127.0.0.1:0",
		"--bridge-listen", "127.0.0.1:0", "--worker-http-addr", "127.0.0.1:0", "--bridge-http-addr", "127.0.0.1:0", "--console-listen", "127.0.0.1:0")
	natsURL := regexp.MustCompile(`NATS_URL=(nats://127\.0\.0\.1:[0-9]+)`)
	testenv.Eventually(t, 90*time.Second, func() error {
		select {
		case err := <-p.done:
			p.done <- err // for start's cleanup, which waits for the exit
			t.Fatalf("dev mode exited: %v\n%s", err, p.out.String())
		default:
		}
		if !natsURL.MatchString(p.out.String()) {
			return errNotYet
		}
		return nil
	})
	url := natsURL.FindStringSubmatch(p.out.String())[1]

	run := exec.Command(example)
	run.Env = append(os.Environ(), "NATS_URL="+url)
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("examples/platform: %v\n%s", err, out)
	}
	t.Logf("examples/platform:\n%s", out)
	for _, want := range []string{"completed with 2 artifacts", "failed: invalid_identifier"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("examples/platform did not say %q:\n%s", want, out)
		}
	}
}

var errNotYet = errorString("not yet")

type errorString string

func (e errorString) Error() string { return string(e) }
