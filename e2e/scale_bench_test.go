package e2e

// Benchmark programs of throughput and memory at scale, black-box: the
// worker, the sandbox and nats-server run as separate processes (built as
// the fault benchmarks build them), MinIO is testenv.MinIO's process, and the
// benchmark publishes commands and reads AML_EVENTS with plain nats.go, as a
// platform would. Numbers are reported, never enforced: a benchmark fails
// only when a lookup is lost, fails or ends twice, or a process exits by
// itself. Each scenario runs once whatever b.N (see faultReportCached).
//
//   - BenchmarkPipelineVsStorageCeiling: SCALE_LOOKUPS lookups (default
//     1000), each storing the JSON result and the AML PDF report of an
//     organization lookup (NO 923609016, natural size). First the ceiling:
//     the very same two artifacts, downloaded once from the sandbox, PUT
//     straight into a fresh bucket of the same MinIO with minio-go, two PUTs
//     per lookup at concurrency 32 (after a warm-up of 100 lookups, not
//     counted). Then the pipeline: one worker process
//     (WORKER_CONCURRENCY=32, polling every 5-20 ms, no request cap of our
//     own) against the sandbox with results ready at once; lookups/s from
//     the first publish to the last completed event (with SCALE_PPROF_DIR
//     set, a 4 s CPU profile of the worker from that phase is saved there
//     as worker.cpu). Then a plain peer: the
//     same job written plainly in the benchmark with nats.go, minio-go and
//     net/http, at concurrency 32, as a yardstick. Then a Watermill peer:
//     the pipeline a user would write instead (bench/watermill-peer, a
//     module of its own: watermill-nats on JetStream, x/oauth2, minio-go),
//     built and run as a process at concurrency 32 (the phase is skipped if
//     it does not build). Reported: lookups/s of each, pipeline/ceiling,
//     kybflow/peer and kybflow/watermill, and the CPU time per lookup of
//     every process (worker, or the Watermill peer in its row, sandbox,
//     nats-server, minio, the benchmark itself) from /proc/<pid>/stat,
//     utime+stime, around each phase.
//   - BenchmarkWorkerRSSLargeReports: a worker with default settings
//     (concurrency 8) and the sandbox padding PDF reports to 100 MB; eight
//     lookups published at once. Reported: the worker's peak RSS (VmHWM) and
//     its RSS after (target: a peak under 64 MB).
//   - BenchmarkWorkerRSSWaitingSessions: a worker with default settings but
//     for AML_RATE_LIMIT, and a sandbox whose results are never ready during
//     the run; SCALE_SESSIONS commands (default 10,000) published at once.
//     Once every session is opened and after some seconds of polling:
//     the worker's VmRSS and VmHWM (target: under 100 MB).
//
// Run one with:
//
//	go test -run '^$' -bench PipelineVsStorageCeiling -benchtime 1x -timeout 30m ./e2e/
//
// (or -bench WorkerRSSLargeReports, -bench WorkerRSSWaitingSessions);
// `make bench` runs them all with the fault benchmarks.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

const (
	scaleDefaultLookups  = 1000
	scaleDefaultSessions = 10000
	// scaleConcurrency is the pipeline worker's WORKER_CONCURRENCY, and the
	// concurrency of the ceiling's PUTs and of the plain peer.
	scaleConcurrency = 32
	// scalePollInitial and scalePollMax are the pipeline's polling (the
	// worker's POLL_INITIAL and POLL_MAX, and the peer's).
	scalePollInitial = 5 * time.Millisecond
	scalePollMax     = 20 * time.Millisecond
	// scaleNoRateCap is AML_RATE_LIMIT where the worker's own cap on requests
	// to the API (20/s by default, about 5 lookups/s) is not what is measured.
	scaleNoRateCap = "1000000"
	// scaleIdentifier is the organization every lookup is about.
	scaleIdentifier = "923609016"
	// scaleStall: waiting for events fails when none came for this long
	// (a hang, not a timing target).
	scaleStall = 3 * time.Minute
	// scaleSettle: after the last terminal event, how long the watcher keeps
	// watching for second endings.
	scaleSettle = 3 * time.Second
	// scaleWaitingSettle: polling after the last session opened, before the
	// waiting sessions' RSS is read: longer than the default POLL_MAX (30s),
	// so every session has been polled several times (after 2, 4, 8 and 16 s).
	scaleWaitingSettle = 35 * time.Second
	// Targets, reported next to the numbers (not enforced).
	scaleTargetLargeRSSMB   = 64
	scaleTargetWaitingRSSMB = 100
)

// BenchmarkPipelineVsStorageCeiling compares lookups through the whole
// pipeline with plain PUTs of the same artifacts to the same MinIO, and with
// a plain peer doing the same job (see the file comment).
func BenchmarkPipelineVsStorageCeiling(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs nats-server, the sandbox, MinIO and a worker as processes")
	}
	if faultReportCached(b) {
		return
	}
	began := time.Now()
	n := scaleEnvInt(b, "SCALE_LOOKUPS", scaleDefaultLookups)
	e := newScaleEnv(b, "SANDBOX_READY_AFTER=1ns", "SANDBOX_REPORT_INTERVAL=1ns")
	ctx := context.Background()
	api := newPeerAPI(e.sandboxAddr)

	// The ceiling: the very artifacts of one lookup, PUT n times each.
	jsonDoc, pdf, err := api.sample(ctx)
	if err != nil {
		b.Fatalf("download the sample artifacts: %v", err)
	}
	b.Logf("artifacts per lookup: JSON %d bytes, AML PDF report %d bytes (as the sandbox serves an organization lookup of %s with reports [aml])",
		len(jsonDoc), len(pdf), scaleIdentifier)
	if err := e.mc.MakeBucket(ctx, "ceiling", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	// A warm-up first, so that MinIO's first requests after its start do
	// not count.
	if _, err := scalePuts(ctx, e.mc, "ceiling", "warm", scaleCeilingWarmUp, jsonDoc, pdf); err != nil {
		b.Fatalf("ceiling warm-up: %v", err)
	}
	cpu := e.cpuProcs(nil)
	before := scaleSampleCPU(b, cpu)
	ceilTook, err := scalePuts(ctx, e.mc, "ceiling", "ceil", n, jsonDoc, pdf)
	ceilCPU := scaleSampleCPU(b, cpu).minus(before)
	if err != nil {
		b.Fatalf("ceiling: %v", err)
	}
	ceilRate := float64(n) / ceilTook.Seconds()

	// The pipeline.
	profDir := os.Getenv("SCALE_PPROF_DIR")
	worker, ops := e.startWorker("worker", "S3_BUCKET=kyb-results",
		fmt.Sprintf("WORKER_CONCURRENCY=%d", scaleConcurrency), "POLL_INITIAL="+scalePollInitial.String(),
		"POLL_MAX="+scalePollMax.String(), "AML_RATE_LIMIT="+scaleNoRateCap, fmt.Sprintf("PPROF=%t", profDir != ""))
	watch := scaleWatchEvents(b, e.js, "AML_EVENTS", "aml.events.>")
	ids := scaleIDs("pipe", n)
	var profiled chan error
	if profDir != "" {
		// A CPU profile of the worker while it runs the lookups (the
		// first seconds of the phase).
		profiled = make(chan error, 1)
		go func() { profiled <- scaleProfile("http://"+ops, filepath.Join(profDir, "worker.cpu"), 4) }()
	}
	cpu = e.cpuProcs(worker)
	before = scaleSampleCPU(b, cpu)
	first, err := scalePublish(ctx, e.js, "aml.commands.lookup", ids, scaleCommand)
	if err != nil {
		b.Fatalf("publish: %v", err)
	}
	last := watch.waitTerminal(b, ids, e.procs(worker))
	pipeCPU := scaleSampleCPU(b, cpu).minus(before)
	pipeTook := last.Sub(first)
	pipeRate := float64(n) / pipeTook.Seconds()
	if profiled != nil {
		if err := <-profiled; err != nil {
			b.Errorf("worker CPU profile: %v", err)
		} else {
			b.Logf("worker CPU profile: %s (go tool pprof -top %s)", filepath.Join(profDir, "worker.cpu"), filepath.Join(profDir, "worker.cpu"))
		}
	}
	time.Sleep(scaleSettle)
	watch.checkEnded(b, ids, "completed")
	e.checkExits(b, worker)
	// The worker stops before the peer runs, so that its idle work does not
	// count in the peer's numbers.
	worker.stop(30 * time.Second)

	// The plain peer.
	peer := &plainPeer{api: api, mc: e.mc, js: e.js, bucket: "peer"}
	if err := peer.setup(ctx); err != nil {
		b.Fatalf("peer: %v", err)
	}
	peerWatch := scaleWatchEvents(b, e.js, "PEER_EVENTS", "peer.events.>")
	peerIDs := scaleIDs("peer", n)
	cpu = e.cpuProcs(nil)
	before = scaleSampleCPU(b, cpu)
	stopPeer := peer.run(ctx)
	peerFirst, err := scalePublish(ctx, e.js, "peer.commands.lookup", peerIDs, scaleCommand)
	if err != nil {
		b.Fatalf("publish to the peer: %v", err)
	}
	peerLast := peerWatch.waitTerminal(b, peerIDs, e.procs(nil))
	peerCPU := scaleSampleCPU(b, cpu).minus(before)
	stopPeer()
	peerTook := peerLast.Sub(peerFirst)
	peerRate := float64(n) / peerTook.Seconds()
	peerWatch.checkEnded(b, peerIDs, "completed")
	e.checkExits(b, nil)

	// The Watermill peer, when it builds.
	wm, wmRan := e.runWatermillPeer(n)

	var tbl strings.Builder
	tw := tabwriter.NewWriter(&tbl, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tlookups\ttook\tlookups/s\tCPU ms/lookup:\tworker\tsandbox\tnats-server\tminio\tbenchmark\t")
	rows := []scaleRow{{"ceiling (PUTs)", ceilTook, ceilRate, ceilCPU}, {"pipeline", pipeTook, pipeRate, pipeCPU}, {"plain peer", peerTook, peerRate, peerCPU}}
	if wmRan {
		rows = append(rows, wm)
	}
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t\t%s\t%s\t%s\t%s\t%s\t\n", row.name, n, row.took.Round(time.Millisecond), row.rate,
			row.cpu.perLookup("worker", n), row.cpu.perLookup("sandbox", n), row.cpu.perLookup("nats-server", n),
			row.cpu.perLookup("minio", n), row.cpu.perLookup("benchmark", n))
	}
	tw.Flush()
	b.Logf("\n%s", strings.TrimRight(tbl.String(), "\n"))
	b.Logf("pipeline/ceiling %.3f, kybflow/peer %.3f; the benchmark's CPU is the PUT client (ceiling), the publisher and watcher (pipeline), or the peer itself with them (plain peer); peer retries: %d",
		pipeRate/ceilRate, pipeRate/peerRate, peer.retries.Load())
	if wmRan {
		b.Logf("kybflow/watermill %.3f; the worker column of the watermill peer row is the watermill-peer process (bench/watermill-peer)", pipeRate/wm.rate)
	}

	m := map[string]float64{
		"ceiling-lookups/s":  ceilRate,
		"pipeline-lookups/s": pipeRate,
		"peer-lookups/s":     peerRate,
		"pipeline/ceiling":   pipeRate / ceilRate,
		"kybflow/peer":       pipeRate / peerRate,
		"ns/op":              float64(time.Since(began).Nanoseconds()),
	}
	for _, p := range []struct{ unit, name string }{{"worker", "worker"}, {"sandbox", "sandbox"}, {"nats", "nats-server"}, {"minio", "minio"}} {
		if v, ok := pipeCPU.ms(p.name, n); ok {
			m[p.unit+"-cpu-ms/lookup"] = v
		}
	}
	if v, ok := ceilCPU.ms("minio", n); ok {
		m["ceiling-minio-cpu-ms/lookup"] = v
	}
	if v, ok := peerCPU.ms("benchmark", n); ok {
		m["peer-cpu-ms/lookup"] = v
	}
	if wmRan {
		m["watermill-lookups/s"] = wm.rate
		m["kybflow/watermill"] = pipeRate / wm.rate
		if v, ok := wm.cpu.ms("worker", n); ok {
			m["watermill-cpu-ms/lookup"] = v
		}
	}
	faultReportMetrics(b, m)
}

// scaleProfile saves a CPU profile of seconds from the ops server at base.
func scaleProfile(base, path string, seconds int) error {
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, seconds)) //nolint:noctx // bounded by the server's profile length
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BenchmarkWorkerRSSLargeReports stores eight 100 MB reports at once
// through a worker with default settings and reports its peak RSS.
func BenchmarkWorkerRSSLargeReports(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs nats-server, the sandbox, MinIO and a worker as processes")
	}
	if faultReportCached(b) {
		return
	}
	const (
		lookups    = 8
		reportSize = 100_000_000 // SANDBOX_REPORT_SIZE=100MB
	)
	began := time.Now()
	e := newScaleEnv(b, "SANDBOX_READY_AFTER=1ns", "SANDBOX_REPORT_INTERVAL=1ns", "SANDBOX_REPORT_SIZE=100MB")
	worker, ops := e.startWorker("worker", "S3_BUCKET=kyb-results")
	pid := worker.pid()
	startRSS := scaleMemory(b, pid)
	watch := scaleWatchEvents(b, e.js, "AML_EVENTS", "aml.events.>")
	ids := scaleIDs("large", lookups)
	first, err := scalePublish(context.Background(), e.js, "aml.commands.lookup", ids, scaleCommand)
	if err != nil {
		b.Fatalf("publish: %v", err)
	}
	last := watch.waitTerminal(b, ids, e.procs(worker))
	took := last.Sub(first)
	mem := scaleMemory(b, pid)
	time.Sleep(scaleSettle)
	watch.checkEnded(b, ids, "completed")
	e.checkExits(b, worker)
	sizes := watch.reportSizes()
	for _, id := range ids {
		if s := sizes[id]; s < reportSize*9/10 {
			b.Errorf("%s: report stored with %d bytes, want about %d", id, s, reportSize)
		}
	}
	gor, heap, _ := scaleWorkerMetrics(ops)

	b.Logf("%d lookups with a %d MB report each, stored in %s (%.0f MB/s of reports); worker (default settings: WORKER_CONCURRENCY 8, S3_PART_SIZE 8 MiB, S3_UPLOAD_MEMORY 32 MiB) RSS at start %.1f MB, peak (VmHWM) %.1f MB (target < %d MB, not enforced), after %.1f MB; %s goroutines, %s MB heap in use after",
		lookups, reportSize/1_000_000, took.Round(time.Millisecond), float64(lookups*reportSize)/1e6/took.Seconds(),
		startRSS.rss, mem.hwm, scaleTargetLargeRSSMB, mem.rss, gor, heap)
	if mem.hwm >= scaleTargetLargeRSSMB {
		b.Logf("peak RSS %.1f MB is above the target of %d MB (reported, not enforced)", mem.hwm, scaleTargetLargeRSSMB)
	}
	faultReportMetrics(b, map[string]float64{
		"peak-rss-MB":  mem.hwm,
		"rss-after-MB": mem.rss,
		"target-MB":    scaleTargetLargeRSSMB,
		"store-s":      took.Seconds(),
		"ns/op":        float64(time.Since(began).Nanoseconds()),
	})
}

// BenchmarkWorkerRSSWaitingSessions opens many sessions whose results are
// never ready during the run and reports the worker's RSS while they wait.
func BenchmarkWorkerRSSWaitingSessions(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs nats-server, the sandbox, MinIO and a worker as processes")
	}
	if faultReportCached(b) {
		return
	}
	began := time.Now()
	n := scaleEnvInt(b, "SCALE_SESSIONS", scaleDefaultSessions)
	e := newScaleEnv(b, "SANDBOX_READY_AFTER=24h")
	// Default settings, but for the cap on our own requests to the API: at
	// 20 a second, opening 10,000 sessions (and polling them) would take
	// more than ten minutes. It bounds requests, not memory.
	worker, ops := e.startWorker("worker", "S3_BUCKET=kyb-results", "AML_RATE_LIMIT="+scaleNoRateCap)
	pid := worker.pid()
	startRSS := scaleMemory(b, pid)
	watch := scaleWatchEvents(b, e.js, "AML_EVENTS", "aml.events.>")
	ids := scaleIDs("wait", n)
	first, err := scalePublish(context.Background(), e.js, "aml.commands.lookup", ids, scaleCommand)
	if err != nil {
		b.Fatalf("publish: %v", err)
	}
	published := time.Now()
	last := watch.waitKind(b, ids, "session_opened", e.procs(worker))
	opened := scaleMemory(b, pid)
	time.Sleep(scaleWaitingSettle)
	mem := scaleMemory(b, pid)
	gor, heap, polls := scaleWorkerMetrics(ops)
	watch.checkOpened(b, ids)
	e.checkExits(b, worker)
	ins, err := faultInspectSandbox(e.sandboxAddr)
	if err != nil {
		b.Errorf("sandbox sessions: %v", err)
	}

	b.Logf("%d commands published in %s; %d sessions opened %s after the first publish (%.0f/s; %d sessions in the sandbox); worker RSS at start %.1f MB, when all were open %.1f MB, after %s more of polling %.1f MB, peak (VmHWM) %.1f MB (target < %d MB, not enforced); %s goroutines, %s MB heap in use, %s session status calls so far",
		n, published.Sub(first).Round(time.Millisecond), n, last.Sub(first).Round(time.Millisecond), float64(n)/last.Sub(first).Seconds(),
		len(ins.Sessions), startRSS.rss, opened.rss, scaleWaitingSettle, mem.rss, mem.hwm, scaleTargetWaitingRSSMB, gor, heap, polls)
	if mem.hwm >= scaleTargetWaitingRSSMB {
		b.Logf("peak RSS %.1f MB is above the target of %d MB (reported, not enforced)", mem.hwm, scaleTargetWaitingRSSMB)
	}
	faultReportMetrics(b, map[string]float64{
		"rss-MB":          mem.rss,
		"peak-rss-MB":     mem.hwm,
		"target-MB":       scaleTargetWaitingRSSMB,
		"open-s":          last.Sub(first).Seconds(),
		"sessions-opened": float64(n),
		"ns/op":           float64(time.Since(began).Nanoseconds()),
	})
}

// ---- the environment ----

// scaleEnv is nats-server, MinIO and the sandbox as processes, and a
// platform's connection.
type scaleEnv struct {
	bench       *testing.B
	bin         string
	natsURL     string
	nats        *faultNATS
	js          jetstream.JetStream
	sandbox     *fproc
	sandboxAddr string
	s3          testenv.MinIOServer
	minioPID    int // 0 if not found
	mc          *minio.Client
}

func newScaleEnv(b *testing.B, sandboxEnv ...string) *scaleEnv {
	b.Helper()
	e := &scaleEnv{bench: b, bin: faultBuild(b)}
	e.nats = faultStartNATS(b, e.bin, 1)
	e.natsURL = e.nats.urls()
	js, err := jetstream.New(faultClient(b, e.natsURL, "e2e platform"), jetstream.WithPublishAsyncMaxPending(scalePublishBatch))
	if err != nil {
		b.Fatal(err)
	}
	if err := faultWaitJetStream(js, 1, time.Minute); err != nil {
		b.Fatalf("nats-server did not come up: %v", err)
	}
	e.js = js
	e.s3 = testenv.MinIO(b)
	e.minioPID = scaleFindPID("--address", e.s3.Endpoint)
	if e.minioPID == 0 {
		b.Logf("the MinIO process was not found in /proc: its CPU is not reported")
	}
	e.mc, err = minio.New(e.s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(e.s3.AccessKey, e.s3.SecretKey, ""), Region: e.s3.Region})
	if err != nil {
		b.Fatal(err)
	}
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

// ---- publishing and watching ----

func scaleEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a whole number ≥ 1", name, v)
	}
	return n
}

func scaleIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return ids
}

func scaleCommand(id string) []byte {
	return fmt.Appendf(nil, `{"lookupId":%q,"type":"organization","country":"NO","identifier":%q,"reports":["aml"]}`, id, scaleIdentifier)
}

// scalePublishBatch is how many asynchronous publishes are outstanding at
// most.
const scalePublishBatch = 1000

// scalePublish publishes a command for each id, asynchronously in batches,
// with the id as Nats-Msg-Id; a publish that fails is retried
// synchronously. It returns when the first publish began.
func scalePublish(ctx context.Context, js jetstream.JetStream, subject string, ids []string, body func(string) []byte) (time.Time, error) {
	first := time.Now()
	for start := 0; start < len(ids); start += scalePublishBatch {
		batch := ids[start:min(start+scalePublishBatch, len(ids))]
		futures := make([]jetstream.PubAckFuture, len(batch))
		for i, id := range batch {
			f, err := js.PublishAsync(subject, body(id), jetstream.WithMsgID(id))
			if err != nil {
				return first, fmt.Errorf("publish %s: %w", id, err)
			}
			futures[i] = f
		}
		for i, f := range futures {
			select {
			case <-f.Ok():
				continue
			case asyncErr := <-f.Err():
				if err := scaleRepublish(ctx, js, subject, batch[i], body(batch[i])); err != nil {
					return first, fmt.Errorf("publish %s: %w (asynchronously: %w)", batch[i], err, asyncErr)
				}
			case <-time.After(time.Minute):
				return first, fmt.Errorf("publish %s: no acknowledgement within a minute", batch[i])
			}
		}
	}
	return first, nil
}

// scaleRepublish publishes one command synchronously, up to five times.
func scaleRepublish(ctx context.Context, js jetstream.JetStream, subject, id string, body []byte) error {
	var err error
	for range 5 {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = js.Publish(pctx, subject, body, jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}

// scaleWatch reads a stream of events <prefix>.events.<lookupId>.<kind>
// with an ordered consumer and counts them by lookup and kind.
type scaleWatch struct {
	mu      sync.Mutex
	lastSeq uint64
	got     map[string]map[string]int // lookupId → kind → events
	first   map[string]int            // kind → lookups with one at least
	lastAt  map[string]time.Time      // kind → when the last lookup's first was seen
	report  map[string]int64          // lookupId → size of its stored report (completed)
	bad     []string                  // completed events not as expected
	last    time.Time                 // when any event was last seen
	errs    int
	lastErr string
}

func scaleWatchEvents(b *testing.B, js jetstream.JetStream, stream, filter string) *scaleWatch {
	b.Helper()
	w := &scaleWatch{got: map[string]map[string]int{}, first: map[string]int{}, lastAt: map[string]time.Time{},
		report: map[string]int64{}, last: time.Now()}
	var cons jetstream.Consumer
	err := testenv.Poll(30*time.Second, func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cons, err = js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
		return err
	})
	if err != nil {
		b.Fatalf("watch %s: %v", stream, err)
	}
	cc, err := cons.Consume(w.handle, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		w.mu.Lock()
		w.errs++
		w.lastErr = err.Error()
		w.mu.Unlock()
	}))
	if err != nil {
		b.Fatalf("watch %s: %v", stream, err)
	}
	b.Cleanup(cc.Stop)
	return w
}

func (w *scaleWatch) handle(m jetstream.Msg) {
	now := time.Now()
	parts := strings.Split(m.Subject(), ".")
	md, err := m.Metadata()
	if len(parts) != 4 || err != nil {
		return
	}
	id, kind := parts[2], parts[3]
	var size int64 = -1
	var bad string
	if kind == "completed" {
		var ev struct {
			Data struct {
				Artifacts []struct {
					Name   string `json:"name"`
					Size   int64  `json:"size"`
					SHA256 string `json:"sha256"`
				} `json:"artifacts"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			bad = fmt.Sprintf("%s: completed event is not JSON: %v", id, err)
		} else if len(ev.Data.Artifacts) != 2 {
			bad = fmt.Sprintf("%s: %d artifacts, want the JSON and the AML report", id, len(ev.Data.Artifacts))
		}
		for _, a := range ev.Data.Artifacts {
			if a.Name != "json" {
				size = a.Size
			}
			if len(a.SHA256) != 64 {
				bad = fmt.Sprintf("%s: artifact %s has sha256 %q", id, a.Name, a.SHA256)
			}
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if md.Sequence.Stream <= w.lastSeq {
		return // the ordered consumer was reset: seen already
	}
	w.lastSeq, w.last = md.Sequence.Stream, now
	kinds := w.got[id]
	if kinds == nil {
		kinds = map[string]int{}
		w.got[id] = kinds
	}
	kinds[kind]++
	if kinds[kind] == 1 {
		w.first[kind]++
		w.lastAt[kind] = now
	}
	if size >= 0 {
		w.report[id] = size
	}
	if bad != "" {
		w.bad = append(w.bad, bad)
	}
}

// count is how many of ids have an event of one of kinds.
func (w *scaleWatch) count(ids []string, kinds ...string) (int, time.Time, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int
	var at time.Time
	for _, id := range ids {
		for _, k := range kinds {
			if w.got[id][k] > 0 {
				n++
				break
			}
		}
	}
	for _, k := range kinds {
		if w.lastAt[k].After(at) {
			at = w.lastAt[k]
		}
	}
	return n, at, w.last
}

// waitTerminal waits until every id has a terminal event and returns when
// the last was seen.
func (w *scaleWatch) waitTerminal(b *testing.B, ids []string, procs []*fproc) time.Time {
	b.Helper()
	return w.wait(b, ids, procs, "completed", "failed")
}

// waitKind waits until every id has an event of kind.
func (w *scaleWatch) waitKind(b *testing.B, ids []string, kind string, procs []*fproc) time.Time {
	b.Helper()
	return w.wait(b, ids, procs, kind)
}

// wait waits until every id has an event of one of kinds; it fails the
// benchmark when a process exits or no event came for scaleStall.
func (w *scaleWatch) wait(b *testing.B, ids []string, procs []*fproc, kinds ...string) time.Time {
	b.Helper()
	for {
		n, at, last := w.count(ids, kinds...)
		if n == len(ids) {
			return at
		}
		for _, p := range procs {
			if x := p.unexpectedExits(); len(x) > 0 {
				b.Fatalf("%s; %d of %d lookups have a %s event", strings.Join(x, "; "), n, len(ids), strings.Join(kinds, " or "))
			}
		}
		if time.Since(last) > scaleStall {
			w.mu.Lock()
			errs := fmt.Sprintf("%d consumer errors, last %q", w.errs, w.lastErr)
			w.mu.Unlock()
			b.Fatalf("lost: %d of %d lookups have a %s event, and no event came for %s (watcher: %s)",
				len(ids)-n, len(ids), strings.Join(kinds, " or "), scaleStall, errs)
		}
		time.Sleep(50 * time.Millisecond) // the poll of a condition wait (testenv takes a *testing.T, not a B)
	}
}

// checkEnded fails the benchmark for every id without exactly one terminal
// event, which must be of kind want, and for completed events not as
// expected.
func (w *scaleWatch) checkEnded(b *testing.B, ids []string, want string) {
	b.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var lost, twice, other []string
	for _, id := range ids {
		ends := w.got[id]["completed"] + w.got[id]["failed"]
		switch {
		case ends == 0:
			lost = append(lost, id)
		case ends > 1:
			twice = append(twice, fmt.Sprintf("%s (%d completed, %d failed)", id, w.got[id]["completed"], w.got[id]["failed"]))
		case w.got[id][want] != 1:
			other = append(other, id)
		}
	}
	scaleFailList(b, "lookups lost", lost)
	scaleFailList(b, "lookups ended twice", twice)
	scaleFailList(b, "lookups that did not end "+want, other)
	scaleFailList(b, "completed events not as expected", w.bad)
}

// checkOpened fails the benchmark for every id whose session was not opened
// exactly once, or that ended (its results are never ready).
func (w *scaleWatch) checkOpened(b *testing.B, ids []string) {
	b.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var lost, twice, ended []string
	for _, id := range ids {
		switch k := w.got[id]; {
		case k["session_opened"] == 0:
			lost = append(lost, id)
		case k["session_opened"] > 1:
			twice = append(twice, fmt.Sprintf("%s (%d session_opened)", id, k["session_opened"]))
		case k["completed"]+k["failed"] > 0:
			ended = append(ended, fmt.Sprintf("%s (%d completed, %d failed)", id, k["completed"], k["failed"]))
		}
	}
	scaleFailList(b, "lookups without a session", lost)
	scaleFailList(b, "lookups whose session was opened twice", twice)
	scaleFailList(b, "lookups that ended though their results are never ready", ended)
}

func scaleFailList(b *testing.B, what string, ids []string) {
	b.Helper()
	if len(ids) > 0 {
		b.Errorf("%d %s: %s", len(ids), what, strings.Join(ids[:min(20, len(ids))], ", "))
	}
}

func (w *scaleWatch) reportSizes() map[string]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int64, len(w.report))
	for k, v := range w.report {
		out[k] = v
	}
	return out
}

// ---- the ceiling ----

// scaleCeilingWarmUp lookups are stored before the ceiling is measured, so
// that MinIO's first requests after its start do not count.
const scaleCeilingWarmUp = 100

// scalePuts PUTs jsonDoc and pdf n times each (lookups <prefix>-<i>) into
// bucket, at concurrency scaleConcurrency, named and labelled as the worker
// names and labels them, and returns how long that took.
func scalePuts(ctx context.Context, mc *minio.Client, bucket, prefix string, n int, jsonDoc, pdf []byte) (time.Duration, error) {
	var next atomic.Int64
	errs := make([]error, scaleConcurrency)
	var wg sync.WaitGroup
	begin := time.Now()
	for g := range scaleConcurrency {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				id := fmt.Sprintf("%s-%05d", prefix, i)
				for _, a := range []struct {
					name, file, ct string
					body           []byte
				}{{"json", "json.json", "application/json", jsonDoc}, {"report:aml", "report-aml.pdf", "application/pdf", pdf}} {
					_, err := mc.PutObject(ctx, bucket, "lookups/"+id+"/"+a.file, bytes.NewReader(a.body), int64(len(a.body)), minio.PutObjectOptions{
						ContentType:  a.ct,
						UserMetadata: map[string]string{"lookup-id": id, "session-id": "ceiling", "artifact": a.name},
					})
					if err != nil {
						errs[g] = err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return time.Since(begin), errors.Join(errs...)
}

// ---- the plain peer ----

// peerAPI calls the AML API (the sandbox) with net/http: a client
// credentials token, create session, GET session, download.
type peerAPI struct {
	base string
	hc   *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

func newPeerAPI(addr string) *peerAPI {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * scaleConcurrency
	return &peerAPI{base: "http://" + addr, hc: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (a *peerAPI) bearer(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && time.Now().Before(a.expires) {
		return a.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"aml_organization/basic"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/auth/realms/sandbox/protocol/openid-connect/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("sandbox", "sandbox-secret")
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := a.do(req, http.StatusOK, &tok); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	a.token, a.expires = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second-30*time.Second)
	return a.token, nil
}

// do sends req and decodes a JSON answer of status want into out.
func (a *peerAPI) do(req *http.Request, want int, out any) error {
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (a *peerAPI) request(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	tok, err := a.bearer(ctx)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// peerSession is the part of a GET session answer the peer reads.
type peerSession struct {
	Status   string `json:"status"`
	JSONData struct {
		Status string `json:"status"`
		Link   string `json:"link"`
	} `json:"jsonData"`
	Reports map[string]struct {
		Status string `json:"status"`
		Link   string `json:"link"`
	} `json:"reports"`
}

// open creates an organization session asking for the AML report (the
// reports parameter and the links.reports.aml expand, as the worker asks)
// and polls it until everything is ready.
func (a *peerAPI) open(ctx context.Context, identifier string) (string, peerSession, error) {
	body := fmt.Appendf(nil, `{"identifier":%q,"expands":["links.reports.aml"],"reports":["aml"]}`, identifier)
	req, err := a.request(ctx, http.MethodPost, a.base+"/organization/session/no", body)
	if err != nil {
		return "", peerSession{}, err
	}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	if err := a.do(req, http.StatusCreated, &created); err != nil {
		return "", peerSession{}, err
	}
	wait := scalePollInitial
	for {
		select {
		case <-ctx.Done():
			return created.SessionID, peerSession{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, scalePollMax)
		req, err := a.request(ctx, http.MethodGet, a.base+"/organization/session/"+created.SessionID, nil)
		if err != nil {
			return created.SessionID, peerSession{}, err
		}
		var s peerSession
		if err := a.do(req, http.StatusOK, &s); err != nil {
			return created.SessionID, peerSession{}, err
		}
		switch s.Status {
		case "DONE":
			return created.SessionID, s, nil
		case "FAILED":
			return created.SessionID, s, errors.New("session failed")
		}
	}
}

// download GETs a result link; the caller closes the body.
func (a *peerAPI) download(ctx context.Context, link string) (*http.Response, error) {
	req, err := a.request(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %d", link, resp.StatusCode)
	}
	return resp, nil
}

// sample downloads the JSON and the AML report of one lookup.
func (a *peerAPI) sample(ctx context.Context) (jsonDoc, pdf []byte, err error) {
	_, s, err := a.open(ctx, scaleIdentifier)
	if err != nil {
		return nil, nil, err
	}
	get := func(link string) ([]byte, error) {
		resp, err := a.download(ctx, link)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if jsonDoc, err = get(s.JSONData.Link); err != nil {
		return nil, nil, err
	}
	if pdf, err = get(s.Reports["aml"].Link); err != nil {
		return nil, nil, err
	}
	return jsonDoc, pdf, nil
}

// plainPeer is the worker's job written plainly: consume a command, open
// and poll the session, stream the JSON and the PDF into the bucket with
// their sha256 computed on the way, publish a completed event, ack.
type plainPeer struct {
	api     *peerAPI
	mc      *minio.Client
	js      jetstream.JetStream
	bucket  string
	cons    jetstream.Consumer
	retries atomic.Int64
}

func (p *plainPeer) setup(ctx context.Context) error {
	if err := p.mc.MakeBucket(ctx, p.bucket, minio.MakeBucketOptions{}); err != nil {
		return err
	}
	for name, subjects := range map[string]string{"PEER_COMMANDS": "peer.commands.>", "PEER_EVENTS": "peer.events.>"} {
		if _, err := p.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subjects},
			Storage: jetstream.FileStorage, Duplicates: 2 * time.Hour}); err != nil {
			return err
		}
	}
	var err error
	p.cons, err = p.js.CreateOrUpdateConsumer(ctx, "PEER_COMMANDS", jetstream.ConsumerConfig{
		Durable: "peer", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		MaxAckPending: 2 * scaleConcurrency, FilterSubject: "peer.commands.lookup",
	})
	return err
}

// run handles commands with scaleConcurrency goroutines until the returned
// function is called.
func (p *plainPeer) run(ctx context.Context) (stop func()) {
	msgs, err := p.cons.Messages(jetstream.PullMaxMessages(2 * scaleConcurrency))
	if err != nil {
		panic(err) // a consumer just made
	}
	work := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range scaleConcurrency {
		wg.Go(func() {
			for m := range work {
				if err := p.handle(ctx, m); err != nil {
					p.retries.Add(1)
					_ = m.NakWithDelay(100 * time.Millisecond) // if lost, it comes back after AckWait
				}
			}
		})
	}
	wg.Go(func() {
		defer close(work)
		for {
			m, err := msgs.Next()
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			if err == nil {
				work <- m
			}
		}
	})
	return func() {
		msgs.Stop()
		wg.Wait()
	}
}

type peerArtifact struct {
	Name        string `json:"name"`
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"contentType"`
}

func (p *plainPeer) handle(ctx context.Context, m jetstream.Msg) error {
	var cmd struct {
		LookupID   string `json:"lookupId"`
		Identifier string `json:"identifier"`
	}
	if err := json.Unmarshal(m.Data(), &cmd); err != nil {
		return m.Term()
	}
	sid, s, err := p.api.open(ctx, cmd.Identifier)
	if err != nil {
		return err
	}
	var arts []peerArtifact
	for _, a := range []struct{ name, file, link string }{
		{"json", "json.json", s.JSONData.Link}, {"report:aml", "report-aml.pdf", s.Reports["aml"].Link},
	} {
		art, err := p.store(ctx, cmd.LookupID, sid, a.name, "lookups/"+cmd.LookupID+"/"+a.file, a.link)
		if err != nil {
			return err
		}
		arts = append(arts, art)
	}
	ev, err := json.Marshal(map[string]any{
		"specversion": "1.0", "type": "peer.completed", "source": "urn:e2e:peer", "id": cmd.LookupID + ".completed",
		"data": map[string]any{"lookupId": cmd.LookupID, "sessionId": sid, "artifacts": arts},
	})
	if err != nil {
		return err
	}
	if _, err := p.js.Publish(ctx, "peer.events."+cmd.LookupID+".completed", ev, jetstream.WithMsgID(cmd.LookupID+".completed")); err != nil {
		return err
	}
	return m.Ack()
}

// store streams one result into the bucket, hashing it on the way.
func (p *plainPeer) store(ctx context.Context, lookupID, sessionID, name, key, link string) (peerArtifact, error) {
	resp, err := p.api.download(ctx, link)
	if err != nil {
		return peerArtifact{}, err
	}
	defer resp.Body.Close()
	h := sha256.New()
	ct := resp.Header.Get("Content-Type")
	info, err := p.mc.PutObject(ctx, p.bucket, key, io.TeeReader(resp.Body, h), resp.ContentLength, minio.PutObjectOptions{
		ContentType:  ct,
		UserMetadata: map[string]string{"lookup-id": lookupID, "session-id": sessionID, "artifact": name},
	})
	if err != nil {
		return peerArtifact{}, err
	}
	return peerArtifact{Name: name, Bucket: p.bucket, Key: key, Size: info.Size, SHA256: hex.EncodeToString(h.Sum(nil)), ContentType: ct}, nil
}

// ---- the Watermill peer ----

// scaleRow is a phase's line in the table.
type scaleRow struct {
	name string
	took time.Duration
	rate float64
	cpu  scaleCPU
}

// scaleWatermillReady is the line the Watermill peer prints once its
// subscriptions are up.
const scaleWatermillReady = "watermill-peer: ready"

// runWatermillPeer builds bench/watermill-peer (a module of its own), runs
// it against streams (WM_COMMANDS, WM_EVENTS) and a bucket of its own,
// publishes n commands and waits for n completed events. Its CPU is the
// row's "worker". It reports false, and the phase is skipped, if the peer
// does not build (its modules cannot be downloaded, say) or does not start.
func (e *scaleEnv) runWatermillPeer(n int) (scaleRow, bool) {
	b := e.bench
	ctx := context.Background()
	bin := filepath.Join(b.TempDir(), "watermill-peer")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "bench", "watermill-peer")
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		b.Logf("the Watermill peer phase is skipped: go build in bench/watermill-peer: %v\n%s", err, out)
		return scaleRow{}, false
	}
	if err := e.mc.MakeBucket(ctx, "watermill", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	for name, subjects := range map[string]string{"WM_COMMANDS": "wm.commands.>", "WM_EVENTS": "wm.events.>"} {
		if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subjects},
			Storage: jetstream.FileStorage, Duplicates: 2 * time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	api := "http://" + e.sandboxAddr
	p := newFproc("watermill-peer", bin, []string{
		"NATS_URL=" + e.natsURL, "COMMAND_SUBJECT=wm.commands.lookup", "EVENT_PREFIX=wm.events", "DURABLE=watermill-peer",
		"AML_API_URL=" + api, "AML_TOKEN_URL=" + api + "/auth/realms/sandbox/protocol/openid-connect/token",
		"AML_CLIENT_ID=sandbox", "AML_CLIENT_SECRET=sandbox-secret",
		"S3_ENDPOINT=" + e.s3.Endpoint, "S3_ACCESS_KEY=" + e.s3.AccessKey, "S3_SECRET_KEY=" + e.s3.SecretKey,
		"S3_REGION=" + e.s3.Region, "S3_BUCKET=watermill",
		fmt.Sprintf("CONCURRENCY=%d", scaleConcurrency), "POLL_INITIAL=" + scalePollInitial.String(), "POLL_MAX=" + scalePollMax.String(),
	})
	faultCleanup(b, func() []*fproc { return []*fproc{p} })
	if err := p.start(); err != nil {
		b.Errorf("the Watermill peer phase is skipped: %v", err)
		return scaleRow{}, false
	}
	var exits []string
	err := testenv.Poll(time.Minute, func() error {
		if exits = p.unexpectedExits(); len(exits) == 0 && !strings.Contains(p.out.String(), scaleWatermillReady) {
			return errors.New("not ready within a minute")
		}
		return nil
	})
	if err == nil && len(exits) > 0 {
		err = errors.New(strings.Join(exits, "; "))
	}
	if err != nil {
		b.Errorf("the Watermill peer phase is skipped: the peer did not start: %v\n%s", err, p.out.String())
		p.stop(10 * time.Second)
		return scaleRow{}, false
	}
	watch := scaleWatchEvents(b, e.js, "WM_EVENTS", "wm.events.>")
	ids := scaleIDs("wm", n)
	cpu := append(e.cpuProcs(nil), scaleProc{"worker", p.pid()})
	before := scaleSampleCPU(b, cpu)
	first, err := scalePublish(ctx, e.js, "wm.commands.lookup", ids, scaleCommand)
	if err != nil {
		b.Fatalf("publish to the Watermill peer: %v", err)
	}
	last := watch.waitTerminal(b, ids, append(e.procs(nil), p))
	used := scaleSampleCPU(b, cpu).minus(before)
	time.Sleep(scaleSettle)
	watch.checkEnded(b, ids, "completed")
	e.checkExits(b, nil)
	for _, x := range p.unexpectedExits() {
		b.Error(x)
	}
	p.stop(30 * time.Second)
	took := last.Sub(first)
	return scaleRow{"watermill peer", took, float64(n) / took.Seconds(), used}, true
}
