package e2e

// The scale benchmarks' environment: processes, their CPU and memory from /proc.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

// ---- the environment ----

// scaleEnv is nats-server, MinIO and the sandbox as processes, and a
// platform's connection.
type scaleEnv struct {
	bench       *testing.B
	bin         string
	natsURL     string
	natsProf    string // nats-server's profiling base URL, with SCALE_PPROF_DIR
	nats        *faultNATS
	js          jetstream.JetStream
	sandbox     *fproc
	sandboxAddr string
	s3          testenv.MinIOServer
	minioPID    int // 0 if not found
	mc          *minio.Client
	// For the phases of BenchmarkPipelineVsStorageCeiling (scale_phases_test.go).
	watches     map[string]*scaleWatch // by stream
	peerRetries int64                  // the plain peer's, over the rounds
	wmBin       string                 // the Watermill peer, once built
	wmErr       error                  // why it did not build
}

func newScaleEnv(b *testing.B, sandboxEnv ...string) *scaleEnv {
	b.Helper()
	e := &scaleEnv{bench: b, bin: faultBuild(b)}
	var natsFlags []string
	if os.Getenv("SCALE_PPROF_DIR") != "" {
		// nats-server serves /debug/pprof, for the pipeline's profiles.
		_, port, _ := net.SplitHostPort(faultAddr(b))
		natsFlags = append(natsFlags, "--profile", port)
		e.natsProf = "http://127.0.0.1:" + port
	}
	e.nats = faultStartNATS(b, e.bin, 1, natsFlags...)
	e.natsURL = e.nats.urls()
	js, err := jetstream.New(faultClient(b, e.natsURL, "e2e platform"), jetstream.WithPublishAsyncMaxPending(scalePublishBatch))
	if err != nil {
		b.Fatal(err)
	}
	if err := faultWaitJetStream(js, 1, time.Minute); err != nil {
		b.Fatalf("nats-server did not come up: %v", err)
	}
	e.js = js
	e.freshMinIO()
	e.sandboxAddr = faultAddr(b)
	e.sandbox = newFproc("aml-sandbox", filepath.Join(e.bin, "aml-sandbox"),
		append([]string{"SANDBOX_LISTEN=" + e.sandboxAddr, "SANDBOX_LOG_LEVEL=warn"}, sandboxEnv...))
	faultCleanup(b, func() []*fproc { return []*fproc{e.sandbox} })
	if err := e.sandbox.start(); err != nil {
		b.Fatal(err)
	}
	if err := faultWaitOK("http://"+e.sandboxAddr+"/auth/realms/sandbox/.well-known/openid-configuration", e.sandbox, time.Minute); err != nil {
		b.Fatal(err)
	}
	return e
}

// freshMinIO starts a MinIO of its own for the next phase, and stops the
// one before: MinIO slows down as it fills (an empty one took 3,400-byte
// PUTs at 1,440/s, the same one with 18,000 objects at 900/s), so phases
// that follow one another on one MinIO would not be compared fairly.
func (e *scaleEnv) freshMinIO() {
	b := e.bench
	if e.minioPID != 0 {
		if p, err := os.FindProcess(e.minioPID); err == nil {
			_ = p.Signal(syscall.SIGTERM) // testenv's cleanup waits for it
		}
	}
	e.s3 = testenv.MinIO(b)
	e.minioPID = scaleFindPID("--address", e.s3.Endpoint)
	if e.minioPID == 0 {
		b.Logf("the MinIO process was not found in /proc: its CPU is not reported")
	}
	mc, err := minio.New(e.s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(e.s3.AccessKey, e.s3.SecretKey, ""), Region: e.s3.Region})
	if err != nil {
		b.Fatal(err)
	}
	e.mc = mc
	// A warm-up, so that a new MinIO's first requests (and the work it does
	// after its start) count in no phase.
	ctx := context.Background()
	if err := e.mc.MakeBucket(ctx, "warm-up", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := scalePuts(ctx, e.mc, "warm-up", "warm", scaleCeilingWarmUp, scaleWarmUpJSON, scaleWarmUpPDF); err != nil {
		b.Fatalf("MinIO warm-up: %v", err)
	}
}

// The warm-up's objects: the sizes of a lookup's JSON and report.
var (
	scaleWarmUpJSON = bytes.Repeat([]byte("j"), 1931)
	scaleWarmUpPDF  = bytes.Repeat([]byte("p"), 3421)
)

// startWorker starts a worker storing in MinIO with the default settings
// but for where things are, warnings-only logs and extra, and waits until it
// is ready. It returns the worker and its HTTP_ADDR.
func (e *scaleEnv) startWorker(name string, extra ...string) (*fproc, string) {
	b := e.bench
	ops := faultAddr(b)
	env := append([]string{
		"NATS_URL=" + e.natsURL, "AML_API_URL=http://" + e.sandboxAddr,
		"AML_ISSUER_URL=http://" + e.sandboxAddr + "/auth/realms/sandbox",
		"AML_CLIENT_ID=sandbox", "AML_CLIENT_SECRET=sandbox-secret",
		"S3_ENDPOINT=" + e.s3.Endpoint, "S3_ACCESS_KEY=" + e.s3.AccessKey, "S3_SECRET_KEY=" + e.s3.SecretKey,
		"S3_REGION=" + e.s3.Region, "S3_SECURE=false", "HTTP_ADDR=" + ops, "LOG_LEVEL=warn",
	}, extra...)
	w := newFproc(name, filepath.Join(e.bin, "worker"), env)
	faultCleanup(b, func() []*fproc { return []*fproc{w} })
	if err := w.start(); err != nil {
		b.Fatal(err)
	}
	if err := faultWaitOK("http://"+ops+"/readyz", w, 3*time.Minute); err != nil {
		b.Fatal(err)
	}
	return w, ops
}

// procs are the processes that must not exit while the scenario runs.
func (e *scaleEnv) procs(worker *fproc) []*fproc {
	ps := append([]*fproc{e.sandbox}, e.nats.servers...)
	if worker != nil {
		ps = append(ps, worker)
	}
	return ps
}

// checkExits fails the benchmark for every process that exited by itself.
func (e *scaleEnv) checkExits(b *testing.B, worker *fproc) {
	b.Helper()
	for _, p := range e.procs(worker) {
		for _, x := range p.unexpectedExits() {
			b.Error(x)
		}
	}
	if e.minioPID != 0 && !scaleAlive(e.minioPID) {
		b.Errorf("minio (pid %d) exited", e.minioPID)
	}
}

// pid is the process id of the current run (0 if none).
func (p *fproc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// ---- CPU and memory from /proc ----

type scaleProc struct {
	name string
	pid  int
}

// cpuProcs are the processes whose CPU is measured: the worker when
// given, the sandbox, nats-server, MinIO and this benchmark.
func (e *scaleEnv) cpuProcs(worker *fproc) []scaleProc {
	var ps []scaleProc
	if worker != nil {
		ps = append(ps, scaleProc{"worker", worker.pid()})
	}
	ps = append(ps, scaleProc{"sandbox", e.sandbox.pid()}, scaleProc{"nats-server", e.nats.servers[0].pid()})
	if e.minioPID != 0 {
		ps = append(ps, scaleProc{"minio", e.minioPID})
	}
	return append(ps, scaleProc{"benchmark", os.Getpid()})
}

// scaleCPU is CPU time (user and system) by process name.
type scaleCPU map[string]time.Duration

func (c scaleCPU) minus(before scaleCPU) scaleCPU {
	out := scaleCPU{}
	for k, v := range c {
		if b, ok := before[k]; ok {
			out[k] = v - b
		}
	}
	return out
}

func (c scaleCPU) ms(name string, lookups int) (float64, bool) {
	d, ok := c[name]
	return float64(d) / float64(time.Millisecond) / float64(lookups), ok
}

func (c scaleCPU) perLookup(name string, lookups int) string {
	v, ok := c.ms(name, lookups)
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

var scaleTicks = sync.OnceValue(func() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
})

func scaleSampleCPU(b *testing.B, ps []scaleProc) scaleCPU {
	b.Helper()
	out := scaleCPU{}
	for _, p := range ps {
		d, err := scaleProcCPU(p.pid)
		if err != nil {
			b.Logf("CPU of %s: %v", p.name, err)
			continue
		}
		out[p.name] = d
	}
	return out
}

// scaleProcCPU is utime+stime of pid, from /proc/<pid>/stat.
func scaleProcCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command, which is in parentheses and may hold
	// anything: state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / time.Duration(scaleTicks()), nil
}

// scaleMem is a process's resident set, now and at its peak, in MB (2^20).
type scaleMem struct{ rss, hwm float64 }

func scaleMemory(b *testing.B, pid int) scaleMem {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("memory of %d: %v", pid, err)
	}
	var m scaleMem
	for line := range strings.Lines(string(raw)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			b.Fatalf("/proc/%d/status: %q", pid, line)
		}
		if name == "VmRSS" {
			m.rss = kb / 1024
		} else {
			m.hwm = kb / 1024
		}
	}
	return m
}

// scaleWaitPolls waits until the worker has made at least want session
// status calls (kybflow_session_status_calls_total), or fails after
// scaleStall. It scrapes /metrics at most once a second, so that the
// scrapes (each reads every stream's info) weigh little on the worker
// whose memory is measured.
func scaleWaitPolls(b *testing.B, ops string, want int) {
	b.Helper()
	var scraped time.Time
	last := errors.New("not scraped yet")
	testenv.Eventually(b, scaleStall, func() error {
		if time.Since(scraped) < time.Second {
			return last
		}
		scraped = time.Now()
		_, _, polls := scaleWorkerMetrics(ops)
		got, err := strconv.ParseFloat(polls, 64)
		switch {
		case err != nil:
			last = fmt.Errorf("kybflow_session_status_calls_total not read from http://%s/metrics", ops)
		case got < float64(want):
			last = fmt.Errorf("%.0f session status calls, want %d", got, want)
		default:
			last = nil
		}
		return last
	})
}

// scaleWorkerMetrics reads the worker's /metrics: its goroutines, heap in
// use (MB) and session status calls, for the log ("?" when unreadable).
func scaleWorkerMetrics(ops string) (goroutines, heapMB, polls string) {
	goroutines, heapMB, polls = "?", "?", "?"
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + ops + "/metrics")
	if err != nil {
		return goroutines, heapMB, polls
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	for line := range strings.Lines(string(body)) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "go_goroutines":
			goroutines = fmt.Sprint(v)
		case "go_memstats_heap_inuse_bytes":
			heapMB = fmt.Sprintf("%.1f", v/(1<<20))
		case "kybflow_session_status_calls_total":
			polls = fmt.Sprint(v)
		}
	}
	return goroutines, heapMB, polls
}

// scaleFindPID is the process whose command line has arg followed by value
// (0 if none): MinIO's, whose process testenv does not hand out.
func scaleFindPID(arg, value string) int {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		if i := slices.Index(args, arg); i >= 0 && i+1 < len(args) && args[i+1] == value {
			return pid
		}
	}
	return 0
}

func scaleAlive(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(raw, ')')
	return i >= 0 && !bytes.HasPrefix(bytes.TrimSpace(raw[i+1:]), []byte("Z"))
}
