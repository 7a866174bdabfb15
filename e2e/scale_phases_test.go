package e2e

// The phases of BenchmarkPipelineVsStorageCeiling. Each round of a phase
// runs on a MinIO of its own, just started and warmed up, and starts (and
// stops) its own processes, so that no phase inherits a fuller MinIO or a
// warmer process from another. The benchmark runs the phases in rounds and
// rotates their order from round to round (scaleRounds), so that the
// machine's drift weighs on every phase alike.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// A scalePhase is one way of doing the job, run for a round of lookups.
type scalePhase struct {
	name string
	key  string // its name in SCALE_PHASES
	// round runs lookups with ids of the given prefix (unique per round)
	// and reports the row; ok is false if the phase cannot run here (the
	// Watermill peer that does not build).
	round func(prefix string, n int) (row scaleRow, ok bool)
}

// scalePhases are the benchmark's phases, in their first round's order:
// the ceiling, the pipeline, the plain peer and the Watermill peer. With
// SCALE_PHASES set (names, comma-separated: ceiling, pipeline, plain,
// watermill), only those run; the others are reported skipped.
func (e *scaleEnv) scalePhases(sample scaleSample) []scalePhase {
	phases := e.allPhases(sample)
	only := os.Getenv("SCALE_PHASES")
	if only == "" {
		return phases
	}
	for i := range phases {
		if !slices.Contains(strings.Split(only, ","), phases[i].key) {
			phases[i].round = func(string, int) (scaleRow, bool) { return scaleRow{}, false }
		}
	}
	return phases
}

func (e *scaleEnv) allPhases(sample scaleSample) []scalePhase {
	api := newPeerAPI(e.sandboxAddr)
	var profiled bool
	return []scalePhase{
		{"ceiling (PUTs)", "ceiling", func(prefix string, n int) (scaleRow, bool) {
			return e.ceilingRound(prefix, n, sample), true
		}},
		{"pipeline", "pipeline", func(prefix string, n int) (scaleRow, bool) {
			// A CPU profile of the worker, in the first round only.
			profile := !profiled && os.Getenv("SCALE_PPROF_DIR") != ""
			profiled = true
			return e.pipelineRound(prefix, n, profile), true
		}},
		{"plain peer", "plain", func(prefix string, n int) (scaleRow, bool) {
			return e.plainPeerRound(api, prefix, n), true
		}},
		{"watermill peer", "watermill", e.watermillRound},
	}
}

// scaleSample is the JSON result and AML report of one lookup, as the
// sandbox serves them: what the ceiling stores.
type scaleSample struct{ jsonDoc, pdf []byte }

// ceilingRound PUTs the sample artifacts of n lookups straight into a fresh
// MinIO with minio-go, at concurrency scaleConcurrency.
func (e *scaleEnv) ceilingRound(prefix string, n int, sample scaleSample) scaleRow {
	b := e.bench
	e.freshMinIO()
	ctx := context.Background()
	if err := e.mc.MakeBucket(ctx, "ceiling", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	cpu := e.cpuProcs(nil)
	before := scaleSampleCPU(b, cpu)
	took, err := scalePuts(ctx, e.mc, "ceiling", prefix, n, sample.jsonDoc, sample.pdf)
	used := scaleSampleCPU(b, cpu).minus(before)
	if err != nil {
		b.Fatalf("ceiling: %v", err)
	}
	return scaleRow{"ceiling (PUTs)", took, float64(n) / took.Seconds(), used}
}

// pipelineRound runs n lookups through a worker process (started for the
// round, on a fresh MinIO), from the first publish to the last completed
// event. With profile, a CPU profile of the worker is saved in
// SCALE_PPROF_DIR (the first SCALE_PPROF_SECONDS of the round).
func (e *scaleEnv) pipelineRound(prefix string, n int, profile bool) scaleRow {
	b := e.bench
	e.freshMinIO()
	worker, ops := e.startWorker("worker", "S3_BUCKET=kyb-results",
		fmt.Sprintf("WORKER_CONCURRENCY=%d", scaleConcurrency), "POLL_INITIAL="+scalePollInitial.String(),
		"POLL_MAX="+scalePollMax.String(), "AML_RATE_LIMIT="+scaleNoRateCap, fmt.Sprintf("PPROF=%t", profile))
	// The worker stops after the round, so that its idle work counts in no
	// other phase.
	defer worker.stop(30 * time.Second)
	watch := e.watcher("AML_EVENTS", scaleTerminalEvents("aml.events")...)
	ids := scaleIDs(prefix, n)
	// CPU profiles of the worker and of nats-server while they run the
	// lookups.
	type profiling struct {
		path string
		done chan error
	}
	var profiles []profiling
	if profile {
		seconds := scaleEnvInt(b, "SCALE_PPROF_SECONDS", 4)
		for name, base := range map[string]string{"worker": "http://" + ops, "nats": e.natsProf} {
			p := profiling{filepath.Join(os.Getenv("SCALE_PPROF_DIR"), name+".cpu"), make(chan error, 1)}
			go func() { p.done <- scaleProfile(base, p.path, seconds) }() // owned: received below
			profiles = append(profiles, p)
		}
	}
	cpu := e.cpuProcs(worker)
	before := scaleSampleCPU(b, cpu)
	first, err := scalePublish(context.Background(), e.js, "aml.commands.lookup", ids, scaleCommand)
	if err != nil {
		b.Fatalf("publish: %v", err)
	}
	last := watch.waitTerminal(b, ids, e.procs(worker))
	used := scaleSampleCPU(b, cpu).minus(before)
	for _, p := range profiles {
		if err := <-p.done; err != nil {
			b.Errorf("CPU profile %s: %v", p.path, err)
		} else {
			b.Logf("CPU profile: %s (go tool pprof -top %s)", p.path, p.path)
		}
	}
	scaleSettleWindow()
	watch.checkEnded(b, ids, "completed")
	e.checkExits(b, worker)
	took := last.Sub(first)
	return scaleRow{"pipeline", took, float64(n) / took.Seconds(), used}
}

// plainPeerRound runs n lookups through the plain peer (in this process),
// on a fresh MinIO; its retries add up in e.peerRetries.
func (e *scaleEnv) plainPeerRound(api *peerAPI, prefix string, n int) scaleRow {
	b := e.bench
	ctx := context.Background()
	e.freshMinIO()
	peer := &plainPeer{api: api, mc: e.mc, js: e.js, bucket: "peer"}
	if err := peer.setup(ctx); err != nil {
		b.Fatalf("peer: %v", err)
	}
	watch := e.watcher("PEER_EVENTS", scaleTerminalEvents("peer.events")...)
	ids := scaleIDs(prefix, n)
	cpu := e.cpuProcs(nil)
	before := scaleSampleCPU(b, cpu)
	stop := peer.run(ctx)
	first, err := scalePublish(ctx, e.js, "peer.commands.lookup", ids, scaleCommand)
	if err != nil {
		b.Fatalf("publish to the peer: %v", err)
	}
	last := watch.waitTerminal(b, ids, e.procs(nil))
	used := scaleSampleCPU(b, cpu).minus(before)
	stop()
	watch.checkEnded(b, ids, "completed")
	e.checkExits(b, nil)
	e.peerRetries += peer.retries.Load()
	took := last.Sub(first)
	return scaleRow{"plain peer", took, float64(n) / took.Seconds(), used}
}

// watermillRound runs n lookups through the Watermill peer, on a fresh
// MinIO (see runWatermillPeer).
func (e *scaleEnv) watermillRound(prefix string, n int) (scaleRow, bool) {
	e.freshMinIO()
	return e.runWatermillPeer(prefix, n)
}

// watcher is the watch of a stream's events, made at its first use and
// kept for the rounds after.
func (e *scaleEnv) watcher(stream string, filters ...string) *scaleWatch {
	if w, ok := e.watches[stream]; ok {
		return w
	}
	if e.watches == nil {
		e.watches = map[string]*scaleWatch{}
	}
	w := scaleWatchEvents(e.bench, e.js, stream, filters...)
	e.watches[stream] = w
	return w
}
