package e2e

// Benchmark programs of throughput and memory at scale, black-box: the
// worker, the sandbox and nats-server run as separate processes (built as
// the fault benchmarks build them), MinIO is testenv.MinIO's process, and the
// benchmark publishes commands and reads AML_EVENTS with plain nats.go, as a
// platform would. Numbers are reported, never enforced: a benchmark fails
// only when a lookup is lost, fails or ends twice, or a process exits by
// itself. Each scenario runs once whatever b.N (see faultReportCached).
//
//   - BenchmarkPipelineVsStorageCeiling: four ways of doing the same job,
//     SCALE_LOOKUPS lookups each (default 2000) in each of SCALE_ROUNDS
//     rounds (default 3), the order of the phases rotated from round to
//     round so that the machine's drift (its speed changes by the minute
//     here) weighs on every phase alike. Each lookup stores the JSON result
//     and the AML PDF report of an organization lookup (NO 923609016,
//     natural size). Each round of each phase has a MinIO of its own, just
//     started and warmed up (MinIO slows as it fills), and its own processes
//     (scale_phases_test.go). The ceiling: the very same two artifacts,
//     downloaded once from the sandbox, PUT straight into MinIO with
//     minio-go, two PUTs per lookup at concurrency 32. The pipeline: one
//     worker process (WORKER_CONCURRENCY=32, polling every 5-20 ms, no
//     request cap of our own) against the sandbox with results ready at
//     once; lookups/s from the first publish to the last completed event
//     (with SCALE_PPROF_DIR set, a CPU profile of the worker from its first
//     round, SCALE_PPROF_SECONDS long (default 4), is saved there as
//     worker.cpu). A plain peer: the same job written plainly in the
//     benchmark with nats.go, minio-go and net/http, at concurrency 32, as a
//     yardstick. A Watermill peer: the pipeline a user would write instead
//     (bench/watermill-peer, a module of its own: watermill-nats on
//     JetStream, x/oauth2, minio-go), built and run as a process at
//     concurrency 32 (the phase is skipped if it does not build). Reported:
//     each round's lookups/s and ratios, and over all rounds the lookups/s
//     of each phase, pipeline/ceiling, kybflow/peer and kybflow/watermill,
//     and the CPU time per lookup of every process (worker, or the
//     Watermill peer in its row, sandbox, nats-server, minio, the benchmark
//     itself) from /proc/<pid>/stat, utime+stime, around each phase.
//   - BenchmarkWorkerRSSLargeReports: a worker with default settings
//     (concurrency 8) and the sandbox padding PDF reports to 100 MB; eight
//     lookups published at once. Reported: the worker's peak RSS (VmHWM) and
//     its RSS after (target: a peak under 64 MB).
//   - BenchmarkWorkerRSSWaitingSessions: a worker with default settings but
//     for AML_RATE_LIMIT, and a sandbox whose results are never ready during
//     the run; SCALE_SESSIONS commands (default 10,000) published at once.
//     Once every session is opened and has been polled about five times
//     (scaleWaitingPolls): the worker's VmRSS and VmHWM (target: under
//     100 MB).
//
// Run one with:
//
//	go test -run '^$' -bench PipelineVsStorageCeiling -benchtime 1x -timeout 30m ./e2e/
//
// (or -bench WorkerRSSLargeReports, -bench WorkerRSSWaitingSessions);
// `make bench` runs them all with the fault benchmarks.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

const (
	// scaleDefaultLookups is the lookups of each phase in each round, and
	// scaleDefaultRounds the rounds.
	scaleDefaultLookups  = 2000
	scaleDefaultRounds   = 3
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
	// scaleWaitingPolls: session status calls per waiting session before
	// their RSS is read: the opening command's first poll, then those after
	// 2, 4, 8 and 16 s (the default POLL_INITIAL, doubling), so that every
	// session has been polled several times.
	scaleWaitingPolls = 5
	// Targets, reported next to the numbers (not enforced).
	scaleTargetLargeRSSMB   = 64
	scaleTargetWaitingRSSMB = 100
)

// BenchmarkPipelineVsStorageCeiling compares lookups through the whole
// pipeline with plain PUTs of the same artifacts to the same MinIO, and with
// a plain peer and a Watermill peer doing the same job (see the file
// comment), in rounds.
func BenchmarkPipelineVsStorageCeiling(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs nats-server, the sandbox, MinIO and a worker as processes")
	}
	if faultReportCached(b) {
		return
	}
	began := time.Now()
	n := scaleEnvInt(b, "SCALE_LOOKUPS", scaleDefaultLookups)
	rounds := scaleEnvInt(b, "SCALE_ROUNDS", scaleDefaultRounds)
	e := newScaleEnv(b, "SANDBOX_READY_AFTER=1ns", "SANDBOX_REPORT_INTERVAL=1ns")

	// The ceiling stores the very artifacts of one lookup, n times each.
	jsonDoc, pdf, err := newPeerAPI(e.sandboxAddr).sample(context.Background())
	if err != nil {
		b.Fatalf("download the sample artifacts: %v", err)
	}
	b.Logf("artifacts per lookup: JSON %d bytes, AML PDF report %d bytes (as the sandbox serves an organization lookup of %s with reports [aml])",
		len(jsonDoc), len(pdf), scaleIdentifier)

	// Round r runs the phases rotated by r: over the rounds each phase runs
	// early and late alike.
	phases := e.scalePhases(scaleSample{jsonDoc, pdf})
	res := make([][]scaleRow, rounds) // by round, then phase
	for r := range rounds {
		res[r] = make([]scaleRow, len(phases))
		for k := range phases {
			i := (k + r) % len(phases)
			row, ok := phases[i].round(fmt.Sprintf("r%d-%d", r, i), n)
			if !ok {
				row = scaleRow{name: phases[i].name} // rate 0: skipped
			}
			res[r][i] = row
		}
	}
	total := make([]scaleRow, len(phases))
	for i, ph := range phases {
		total[i] = scaleRow{name: ph.name, cpu: scaleCPU{}}
		for r := range rounds {
			total[i].took += res[r][i].took
			for k, v := range res[r][i].cpu {
				total[i].cpu[k] += v
			}
		}
		if total[i].took > 0 && res[0][i].rate > 0 {
			total[i].rate = float64(n*rounds) / total[i].took.Seconds()
		}
	}
	const ceil, pipe, plain, wm = 0, 1, 2, 3
	// The tables go to the output as they are: a benchmark's log keeps
	// only its first lines.
	fmt.Printf("%s\n\n%s\n", scaleTable(total, n*rounds), scaleRoundsTable(res, ceil, pipe, wm))
	b.Logf("over %d rounds of %d lookups per phase: pipeline/ceiling %.3f, kybflow/peer %.3f, kybflow/watermill %.3f (0: skipped); the benchmark's CPU is the PUT client (ceiling), the publisher and watcher (pipeline), or the peer itself with them (plain peer); the worker column of the watermill peer row is the watermill-peer process (bench/watermill-peer); plain peer retries: %d",
		rounds, n, scaleRatio(total[pipe].rate, total[ceil].rate), scaleRatio(total[pipe].rate, total[plain].rate),
		scaleRatio(total[pipe].rate, total[wm].rate), e.peerRetries)

	m := map[string]float64{
		"ceiling-lookups/s":  total[ceil].rate,
		"pipeline-lookups/s": total[pipe].rate,
		"peer-lookups/s":     total[plain].rate,
		"pipeline/ceiling":   scaleRatio(total[pipe].rate, total[ceil].rate),
		"kybflow/peer":       scaleRatio(total[pipe].rate, total[plain].rate),
		"ns/op":              float64(time.Since(began).Nanoseconds()),
	}
	all := n * rounds
	for _, p := range []struct{ unit, name string }{{"worker", "worker"}, {"sandbox", "sandbox"}, {"nats", "nats-server"}, {"minio", "minio"}} {
		if v, ok := total[pipe].cpu.ms(p.name, all); ok {
			m[p.unit+"-cpu-ms/lookup"] = v
		}
	}
	if v, ok := total[ceil].cpu.ms("minio", all); ok {
		m["ceiling-minio-cpu-ms/lookup"] = v
	}
	if v, ok := total[plain].cpu.ms("benchmark", all); ok {
		m["peer-cpu-ms/lookup"] = v
	}
	if total[wm].rate > 0 {
		m["watermill-lookups/s"] = total[wm].rate
		m["kybflow/watermill"] = total[pipe].rate / total[wm].rate
		if v, ok := total[wm].cpu.ms("worker", all); ok {
			m["watermill-cpu-ms/lookup"] = v
		}
	}
	faultReportMetrics(b, m)
}

// scaleRatio is a/b, or 0 when b is (a phase skipped).
func scaleRatio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// scaleTable is the phases' totals over the rounds: lookups/s and the CPU
// per lookup of every process.
func scaleTable(rows []scaleRow, n int) string {
	var tbl strings.Builder
	tw := tabwriter.NewWriter(&tbl, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tlookups\ttook\tlookups/s\tCPU ms/lookup:\tworker\tsandbox\tnats-server\tminio\tbenchmark\t")
	for _, row := range rows {
		if row.rate == 0 {
			fmt.Fprintf(tw, "%s\tskipped\t\t\t\t\t\t\t\t\t\n", row.name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t\t%s\t%s\t%s\t%s\t%s\t\n", row.name, n, row.took.Round(time.Millisecond), row.rate,
			row.cpu.perLookup("worker", n), row.cpu.perLookup("sandbox", n), row.cpu.perLookup("nats-server", n),
			row.cpu.perLookup("minio", n), row.cpu.perLookup("benchmark", n))
	}
	tw.Flush()
	return strings.TrimRight(tbl.String(), "\n")
}

// scaleRoundsTable is every round's lookups/s by phase, and the round's
// pipeline/ceiling and kybflow/watermill.
func scaleRoundsTable(res [][]scaleRow, ceil, pipe, wm int) string {
	var tbl strings.Builder
	tw := tabwriter.NewWriter(&tbl, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "round\t")
	for _, row := range res[0] {
		fmt.Fprintf(tw, "%s/s\t", row.name)
	}
	fmt.Fprintln(tw, "pipeline/ceiling\tkybflow/watermill\t")
	for r, rows := range res {
		fmt.Fprintf(tw, "%d\t", r+1)
		for _, row := range rows {
			fmt.Fprintf(tw, "%.1f\t", row.rate)
		}
		fmt.Fprintf(tw, "%.3f\t%.3f\t\n", scaleRatio(rows[pipe].rate, rows[ceil].rate), scaleRatio(rows[pipe].rate, rows[wm].rate))
	}
	tw.Flush()
	return strings.TrimRight(tbl.String(), "\n")
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
	scaleSettleWindow()
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
	scaleWaitPolls(b, ops, scaleWaitingPolls*n)
	polling := time.Since(last)
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
		len(ins.Sessions), startRSS.rss, opened.rss, polling.Round(time.Second), mem.rss, mem.hwm, scaleTargetWaitingRSSMB, gor, heap, polls)
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
