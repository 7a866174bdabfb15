package e2e

// Processes: building the binaries, their environments, fproc, and stopping them at cleanup.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/testenv"
)

// faultBuild compiles the binaries these benchmarks run.
func faultBuild(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/",
		"github.com/kybflow/kybflow/cmd/worker",
		"github.com/kybflow/kybflow/cmd/aml-sandbox",
		"github.com/nats-io/nats-server/v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func faultSandboxEnv(addr string) []string {
	return []string{"SANDBOX_LISTEN=" + addr, "SANDBOX_READY_AFTER=500ms", "SANDBOX_LOG_LEVEL=warn"}
}

// faultWorkerEnv is a worker's environment: the default settings but for
// where things are, quicker polling and warnings only.
func faultWorkerEnv(natsURL, sandboxAddr, blobDir, ops string, extra ...string) []string {
	return append([]string{
		"NATS_URL=" + natsURL, "AML_API_URL=http://" + sandboxAddr,
		"AML_ISSUER_URL=http://" + sandboxAddr + "/auth/realms/sandbox",
		"AML_CLIENT_ID=sandbox", "AML_CLIENT_SECRET=sandbox-secret", "BLOB_DIR=" + blobDir,
		"HTTP_ADDR=" + ops, "POLL_INITIAL=500ms", "POLL_MAX=2s", "LOG_LEVEL=warn",
	}, extra...)
}

// fproc is a binary that can be killed and started again with the same
// arguments and environment. Its output is kept across runs; an exit the
// benchmark did not ask for is recorded.
type fproc struct {
	name string
	bin  string
	env  []string
	args []string
	out  testenv.Buffer

	mu         sync.Mutex
	cmd        *exec.Cmd
	done       chan struct{} // closed when the current run has exited
	told       bool          // the current run was told to exit
	runs       int
	unexpected []string
}

func newFproc(name, bin string, env []string, args ...string) *fproc {
	return &fproc{name: name, bin: bin, env: env, args: args}
}

// start starts a run; the previous one must have exited.
func (p *fproc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("start %s: still running", p.name)
		}
	}
	p.runs++
	run := p.runs
	fmt.Fprintf(&p.out, "==== %s run %d started at %s ====\n", p.name, run, time.Now().Format("15:04:05.000"))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, p.env...)
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.told = cmd, done, false
	go func() {
		err := cmd.Wait()
		at := time.Now().Format("15:04:05.000")
		p.mu.Lock()
		if !p.told {
			p.unexpected = append(p.unexpected, fmt.Sprintf("%s (run %d) exited by itself at %s: %v", p.name, run, at, err))
		}
		p.mu.Unlock()
		fmt.Fprintf(&p.out, "==== %s run %d ended at %s: %v ====\n", p.name, run, at, err)
		close(done)
	}()
	return nil
}

// exited is closed when the current run has exited (at once if none).
func (p *fproc) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

func (p *fproc) signal(sig os.Signal) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	select {
	case <-p.done:
	default:
		p.told = true
		// An error means it has exited already: p.done says when.
		_ = p.cmd.Process.Signal(sig)
	}
	return p.done
}

// quit ends the current run with SIGQUIT, so that a Go program prints its
// goroutines, and waits for its exit (killing it after 10 s).
func (p *fproc) quit() {
	select {
	case <-p.signal(syscall.SIGQUIT):
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

func (p *fproc) envValue(name string) string {
	for _, kv := range p.env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// kill kills the current run with SIGKILL and waits for its exit.
func (p *fproc) kill() { <-p.signal(syscall.SIGKILL) }

// stop asks the current run to exit with SIGTERM, and kills it after grace.
func (p *fproc) stop(grace time.Duration) {
	select {
	case <-p.signal(syscall.SIGTERM):
	case <-time.After(grace):
		p.kill()
	}
}

func (p *fproc) unexpectedExits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.unexpected)
}

// faultCleanup stops the processes procs returns at the end of the
// benchmark, all at once, and prints their output if it failed (and writes
// it to E2E_FAULTS_LOG_DIR if set). Cleanups run last-registered first, so
// register the NATS servers before the processes that use them.
func faultCleanup(tb testing.TB, procs func() []*fproc) {
	tb.Cleanup(func() {
		ps := procs()
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Go(func() { p.stop(30 * time.Second) }) // longer than the workers' DRAIN_TIMEOUT
		}
		wg.Wait()
		dir := os.Getenv("E2E_FAULTS_LOG_DIR")
		for _, p := range ps {
			out := p.out.String()
			if dir != "" {
				name := strings.NewReplacer("/", "_", " ", "-").Replace(tb.Name() + "-" + p.name + ".log")
				if err := os.WriteFile(filepath.Join(dir, name), []byte(out), 0o644); err != nil {
					tb.Logf("write %s's output: %v", p.name, err)
				}
			}
			if tb.Failed() {
				const keep = 256 << 10
				if len(out) > keep {
					out = fmt.Sprintf("[first %d bytes left out]\n%s", len(out)-keep, out[len(out)-keep:])
				}
				tb.Logf("---- %s output ----\n%s", p.name, out)
			}
		}
	})
}
