package e2e

// Benchmark programs of lookup latency under faults, black-box: the
// binaries run as separate processes (nats-server too), a platform
// publishes lookups at a steady pace, and an independent watcher reads the
// terminal events from AML_EVENTS while servers or workers are killed with
// SIGKILL. Each reports p50 and p99 latency (first publish attempt to
// terminal event) and the counts the acceptance check is about, and fails
// when a lookup is lost or ended twice, or a worker exits by itself. Timing
// targets are reported, never enforced.
//
//	go test -run '^$' -bench LatencyWhile -benchtime 1x -timeout 20m ./e2e/
//
// With E2E_FAULTS_LOG_DIR set, every process's output is also written
// there (one file per process); otherwise it is printed only on failure.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	// faultLookups are published evenly over faultPublishSpan.
	faultLookups     = 200
	faultPublishSpan = 60 * time.Second
	// faultEndWait is how long, after the faults stopped, every lookup has
	// to reach its terminal event before it counts as lost.
	faultEndWait = 3 * time.Minute
	// faultSettle is how long the watcher keeps watching after the last
	// terminal event, for second endings: longer than the default ack wait
	// and opening lease (15 s), after which a lost claim is taken over.
	faultSettle = 20 * time.Second
	// faultPublishTimeout bounds one publish attempt; faultPublishGiveUp all
	// of a lookup's attempts.
	faultPublishTimeout = 5 * time.Second
	faultPublishGiveUp  = 3 * time.Minute
	// Our targets, reported next to the numbers (not enforced).
	faultTargetP99 = 90 * time.Second
)

// BenchmarkLatencyWhileNATSServerKilled runs three workers against a
// three-server JetStream cluster (R3 streams) of nats-server processes,
// one of which is killed with SIGKILL every 10 s (every other time the
// leader of AML_COMMANDS), kept down 4 s and started again on its store,
// while a platform publishes lookups.
func BenchmarkLatencyWhileNATSServerKilled(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs a NATS cluster, the sandbox and three workers as processes")
	}
	if faultReportCached(b) {
		return
	}
	const (
		servers   = 3
		killEvery = 10 * time.Second
		downFor   = 4 * time.Second
	)
	setupBegan := time.Now()
	bin := faultBuild(b)
	built := time.Now()
	cluster := faultStartNATS(b, bin, servers)
	nc := faultClient(b, cluster.urls(), "e2e platform")
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if err := faultWaitJetStream(js, servers, time.Minute); err != nil {
		b.Fatalf("the cluster did not form: %v", err)
	}
	formed := time.Now()

	// The sandbox and the three workers start at the same moment.
	sandboxAddr, blobDir := faultAddr(b), b.TempDir()
	sandbox := newFproc("aml-sandbox", filepath.Join(bin, "aml-sandbox"), faultSandboxEnv(sandboxAddr))
	faultCleanup(b, func() []*fproc { return []*fproc{sandbox} })
	workers := make([]*fproc, 3)
	opsAddrs := make([]string, len(workers))
	for i := range workers {
		opsAddrs[i] = faultAddr(b)
		env := faultWorkerEnv(cluster.urls(), sandboxAddr, blobDir, opsAddrs[i], "STREAM_REPLICAS=3")
		workers[i] = newFproc(fmt.Sprintf("worker %d", i+1), filepath.Join(bin, "worker"), env)
	}
	faultCleanup(b, func() []*fproc { return workers })
	for _, p := range append([]*fproc{sandbox}, workers...) {
		if err := p.start(); err != nil {
			b.Fatal(err)
		}
	}
	var ready sync.WaitGroup
	readyErrs := make([]error, len(workers)+1)
	ready.Go(func() {
		readyErrs[0] = faultWaitOK("http://"+sandboxAddr+"/auth/realms/sandbox/.well-known/openid-configuration", sandbox, time.Minute)
	})
	for i, w := range workers {
		ready.Go(func() { readyErrs[i+1] = faultWaitOK("http://"+opsAddrs[i]+"/readyz", w, 3*time.Minute) })
	}
	ready.Wait()
	if err := errors.Join(readyErrs...); err != nil {
		b.Fatal(err)
	}
	allReady := time.Now()
	watch := faultWatchEvents(b, cluster.urls())

	run := &faultRun{b: b, js: js, watch: watch, sandboxAddr: sandboxAddr,
		workers: func() []*fproc { return workers }, others: append([]*fproc{sandbox}, cluster.servers...)}
	run.notef("setup: binaries built in %s, %d-server cluster formed %s later, sandbox and 3 workers ready %s after starting together",
		faultRound(built.Sub(setupBegan)), servers, faultRound(formed.Sub(built)), faultRound(allReady.Sub(formed)))

	b.ResetTimer()
	run.began = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run.plat = faultPublishSteadily(ctx, js, faultLookups, faultPublishSpan)

	stop, faultsDone := make(chan struct{}), make(chan struct{})
	var kills []string
	var faultErrs []error
	go func() {
		defer close(faultsDone)
		kills, faultErrs = faultKillNATSServers(stop, js, cluster.servers, run.began, killEvery, downFor)
	}()
	<-run.plat.done
	close(stop)
	<-faultsDone
	for _, err := range faultErrs {
		b.Errorf("fault injection: %v", err)
	}
	run.notef("faults: %d server kills (t+, victim, why; AML_COMMANDS leader and replicas before the kill): %s",
		len(kills), strings.Join(kills, " | "))

	metrics := run.finish(func() []string {
		var notes []string
		var ok int
		for i, w := range workers {
			if faultWaitOK("http://"+opsAddrs[i]+"/readyz", w, time.Minute) == nil {
				ok++
			}
		}
		notes = append(notes, fmt.Sprintf("workers ready after the faults: %d of %d", ok, len(workers)))
		return notes
	})
	faultReportMetrics(b, metrics)
}

// BenchmarkLatencyWhileWorkersKilled runs three workers (default settings,
// ACK_WAIT and OPEN_LEASE included; only polling is quicker) against one
// nats-server process; every 3 s one of them is killed with SIGKILL
// (round-robin) and a replacement started at once, while a platform
// publishes lookups.
func BenchmarkLatencyWhileWorkersKilled(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs nats-server, the sandbox and three workers as processes")
	}
	if faultReportCached(b) {
		return
	}
	const (
		replicas  = 3
		killEvery = 3 * time.Second
	)
	setupBegan := time.Now()
	bin := faultBuild(b)
	built := time.Now()
	server := faultStartNATS(b, bin, 1)
	nc := faultClient(b, server.urls(), "e2e platform")
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if err := faultWaitJetStream(js, 1, time.Minute); err != nil {
		b.Fatalf("nats-server did not come up: %v", err)
	}

	sandboxAddr, blobDir := faultAddr(b), b.TempDir()
	sandbox := newFproc("aml-sandbox", filepath.Join(bin, "aml-sandbox"), faultSandboxEnv(sandboxAddr))
	faultCleanup(b, func() []*fproc { return []*fproc{sandbox} })
	if err := sandbox.start(); err != nil {
		b.Fatal(err)
	}
	pool := &faultWorkerPool{spawn: func(name, ops string) *fproc {
		env := faultWorkerEnv(server.urls(), sandboxAddr, blobDir, ops)
		return newFproc(name, filepath.Join(bin, "worker"), env)
	}}
	faultCleanup(b, pool.everyWorker)
	for range replicas {
		if err := pool.add(); err != nil {
			b.Fatal(err)
		}
	}
	if err := faultWaitOK("http://"+sandboxAddr+"/auth/realms/sandbox/.well-known/openid-configuration", sandbox, time.Minute); err != nil {
		b.Fatal(err)
	}
	if err := pool.waitReady(); err != nil {
		b.Fatal(err)
	}
	allReady := time.Now()
	watch := faultWatchEvents(b, server.urls())

	run := &faultRun{b: b, js: js, watch: watch, sandboxAddr: sandboxAddr,
		workers: pool.everyWorker, others: append([]*fproc{sandbox}, server.servers...)}
	run.notef("setup: binaries built in %s, nats-server, sandbox and %d workers ready %s later",
		faultRound(built.Sub(setupBegan)), replicas, faultRound(allReady.Sub(built)))

	b.ResetTimer()
	run.began = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run.plat = faultPublishSteadily(ctx, js, faultLookups, faultPublishSpan)

	stop, faultsDone := make(chan struct{}), make(chan struct{})
	var faultErrs []error
	go func() {
		defer close(faultsDone)
		faultErrs = pool.killRoundRobin(stop, run.began, killEvery)
	}()
	<-run.plat.done
	close(stop)
	<-faultsDone
	for _, err := range faultErrs {
		b.Errorf("fault injection: %v", err)
	}
	pool.readiness.Wait()
	run.notef("faults: %s", pool.summary())

	metrics := run.finish(func() []string {
		if err := pool.waitReady(); err != nil {
			return []string{fmt.Sprintf("workers after the faults: %v", err)}
		}
		return []string{fmt.Sprintf("workers ready after the faults: %d of %d", replicas, replicas)}
	})
	faultReportMetrics(b, metrics)
}
