package e2e

// BenchmarkMonitorRunsDue (issue 20, item 8, its second half): a
// portfolio's runs falling due at once, against as many ordinary lookups.
// MONITOR_RUNS_N (default 10,000) of each, through worker processes with
// the default settings but for AML_RATE_LIMIT (the worker's own cap on
// requests to the API, 20/s by default, is not what is measured), on a
// sandbox whose results are ready at once:
//
//  1. Ordinary lookups. N lookup commands are published at once (as the
//     scale benchmarks publish them); the phase lasts from the first
//     publish to the last terminal event.
//  2. Monitors' runs. On a fresh MinIO and a new worker, N monitors are
//     created with one cron schedule (UTC) that fires at two times,
//     MONITOR_RUNS_GAP_MIN minutes apart (default 3): every monitor falls
//     due at the same second, twice. A round lasts from that second to
//     the last terminal event of its runs. The first round has no previous
//     run to compare with; the second compares each run's JSON with the
//     first's, as every run of a portfolio in steady state does, and is
//     the one set against the ordinary lookups.
//
// Every lookup and run must end completed exactly once, and the sandbox
// must have opened one session for each (3N in all). The worker's peak RSS
// (VmHWM) over the phase is reported against the target of 100 MB,
// not enforced.
//
// Run it with:
//
//	MINIO_BIN="$(./scripts/install-tools.sh | tail -n 1)" MONITOR_RUNS_N=10000 \
//	  go test -run '^$' -bench '^BenchmarkMonitorRunsDue$' -benchtime 1x -timeout 40m ./e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/testenv"
)

const (
	monitorRunsDefaultN = 10_000
	// monitorRunsTargetRSSMB is the target for the worker's peak.
	monitorRunsTargetRSSMB = 100
)

// monitorRunsCreate is the create command of monitor id: the lookup of the
// ordinary phase (scaleCommand), on the schedule cron.
func monitorRunsCreate(cron string) func(id string) []byte {
	return func(id string) []byte {
		return fmt.Appendf(nil, `{"action":"create","monitorId":%q,"lookup":{"type":"organization","country":"NO","identifier":%q,"reports":["aml"]},"schedule":{"cron":%q,"timeZone":"UTC"}}`,
			id, scaleIdentifier, cron)
	}
}

// monitorRunsCron is a cron expression (UTC) that fires at first and at
// then, both whole minutes less than an hour apart, and at no time between
// them. Its hours and minutes combine: when the two are in different hours,
// it also fires at first's hour with then's minute (before first) and at
// then's hour with first's minute (after then).
func monitorRunsCron(first, then time.Time) string {
	first, then = first.UTC(), then.UTC()
	field := func(a, b int) string {
		if a == b {
			return strconv.Itoa(a)
		}
		return strconv.Itoa(a) + "," + strconv.Itoa(b)
	}
	return fmt.Sprintf("0 %s %s * * *", field(first.Minute(), then.Minute()), field(first.Hour(), then.Hour()))
}

// monitorRound is one round of runs: the lookupIds of the runs that ended
// and when the last of them did.
type monitorRound struct {
	ids  []string
	last time.Time
}

// monitorRunsWait waits until runs of n monitors (lookupIds
// <prefix>-NNNNN-r<unix>) have ended for rounds rounds, and returns the
// rounds, oldest first (a round is the runs of one fire: one -r<unix>).
// It fails on a process's exit, and when they have not ended within.
func monitorRunsWait(b *testing.B, w *scaleWatch, prefix string, n, rounds int, within time.Duration, procs []*fproc) []monitorRound {
	b.Helper()
	var out []monitorRound
	testenv.Eventually(b, within, func() error {
		for _, p := range procs {
			if x := p.unexpectedExits(); len(x) > 0 {
				b.Fatalf("%s", strings.Join(x, "; "))
			}
		}
		w.mu.Lock()
		byFire := map[string]*monitorRound{}
		for id, at := range w.endedAt {
			if !strings.HasPrefix(id, prefix+"-") {
				continue
			}
			i := strings.LastIndex(id, "-r")
			r := byFire[id[i:]]
			if r == nil {
				r = &monitorRound{}
				byFire[id[i:]] = r
			}
			r.ids = append(r.ids, id)
			if at.After(r.last) {
				r.last = at
			}
		}
		w.mu.Unlock()
		out = out[:0]
		for _, r := range byFire {
			out = append(out, *r)
		}
		slices.SortFunc(out, func(a, b monitorRound) int { return a.last.Compare(b.last) })
		if len(out) > rounds {
			return fmt.Errorf("%d fires, want %d", len(out), rounds)
		}
		if len(out) < rounds || len(out[rounds-1].ids) < n {
			have := 0
			if len(out) > 0 {
				have = len(out[len(out)-1].ids)
			}
			return fmt.Errorf("%d of %d rounds begun; %d of %d runs of the last ended", len(out), rounds, have, n)
		}
		return nil
	})
	for i := range out {
		slices.Sort(out[i].ids)
	}
	return out
}

// BenchmarkMonitorRunsDue runs MONITOR_RUNS_N ordinary lookups, then two
// rounds of as many monitors' runs falling due at once, and reports the
// time to finish each and the workers' peak RSS.
func BenchmarkMonitorRunsDue(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs nats-server, the sandbox, MinIO and workers as processes")
	}
	if faultReportCached(b) {
		return
	}
	began := time.Now()
	n := scaleEnvInt(b, "MONITOR_RUNS_N", monitorRunsDefaultN)
	gap := time.Duration(scaleEnvInt(b, "MONITOR_RUNS_GAP_MIN", 3)) * time.Minute
	if gap >= time.Hour {
		b.Fatalf("MONITOR_RUNS_GAP_MIN=%d: want less than 60", int(gap.Minutes()))
	}
	e := newScaleEnv(b, "SANDBOX_READY_AFTER=1ns", "SANDBOX_REPORT_INTERVAL=1ns")
	settings := []string{"S3_BUCKET=kyb-results", "AML_RATE_LIMIT=" + scaleNoRateCap}
	ctx := context.Background()

	// 1. Ordinary lookups.
	worker, _ := e.startWorker("worker-lookups", settings...)
	watch := scaleWatchEvents(b, e.js, "AML_EVENTS", scaleTerminalEvents("aml.events")...)
	ids := scaleIDs("look", n)
	first, err := scalePublish(ctx, e.js, "aml.commands.lookup", ids, scaleCommand)
	if err != nil {
		b.Fatalf("publish: %v", err)
	}
	lastLookup := watch.waitTerminal(b, ids, e.procs(worker))
	lookups := lastLookup.Sub(first)
	lookupsMem := scaleMemory(b, worker.pid())
	scaleSettleWindow()
	watch.checkEnded(b, ids, "completed")
	e.checkExits(b, worker)
	worker.stop(30 * time.Second)

	// 2. Monitors' runs, on a fresh MinIO (it slows as it fills) and a new
	// worker. The first fire leaves time to create every monitor (at about
	// 2,500 a second here) and to spare.
	e.freshMinIO()
	worker, ops := e.startWorker("worker-monitors", settings...)
	pid := worker.pid()
	idle := scaleMemory(b, pid)
	due1 := time.Now().UTC().Add(20*time.Second + time.Duration(n)*time.Millisecond).Truncate(time.Minute).Add(time.Minute)
	due2 := due1.Add(gap)
	cron := monitorRunsCron(due1, due2)
	mids := scaleIDs("mon", n)
	if _, err := scalePublish(ctx, e.js, "aml.commands.monitor", mids, monitorRunsCreate(cron)); err != nil {
		b.Fatalf("publish: %v", err)
	}
	testenv.Eventually(b, time.Until(due1), func() error {
		s, err := monitorsRead(ctx, e.js)
		if err != nil {
			return err
		}
		if s.records < uint64(n) || s.schedules < uint64(n) {
			return fmt.Errorf("%d of %d records, %d schedules", s.records, n, s.schedules)
		}
		return nil
	})
	created := time.Now()
	rounds := monitorRunsWait(b, watch, "mon", n, 2, time.Until(due2)+10*time.Minute, e.procs(worker))
	mem := scaleMemory(b, pid)
	scaleSettleWindow()
	gor, heap, _ := scaleWorkerMetrics(ops)
	e.checkExits(b, worker)
	took := make([]time.Duration, len(rounds))
	for i, r := range rounds {
		watch.checkEnded(b, r.ids, "completed")
		due := []time.Time{due1, due2}[i]
		took[i] = r.last.Sub(due)
		if !strings.HasPrefix(r.ids[0], "mon-00000-r") {
			b.Errorf("round %d: run %s is not a run of mon-00000", i+1, r.ids[0])
		}
	}
	// The second round compares every run with the first's, and finds
	// nothing changed: the sandbox's organization does not change.
	var compared, changed int
	watch.mu.Lock()
	for _, id := range rounds[1].ids {
		run, ok := watch.runs[id]
		if ok && run.PreviousLookupID != "" {
			compared++
		}
		if ok && run.Changed != nil && *run.Changed {
			changed++
		}
	}
	for _, id := range rounds[0].ids {
		if run := watch.runs[id]; run.PreviousLookupID != "" || run.Changed != nil {
			b.Errorf("%s: a first run says it was compared with %q", id, run.PreviousLookupID)
		}
	}
	watch.mu.Unlock()
	if compared != n || changed != 0 {
		b.Errorf("second round: %d of %d runs compared with the first, %d changed; want all compared, none changed", compared, n, changed)
	}
	ins, err := faultInspectSandbox(e.sandboxAddr)
	if err != nil {
		b.Errorf("sandbox sessions: %v", err)
	} else if len(ins.Sessions) != 3*n {
		b.Errorf("the sandbox opened %d sessions for %d lookups and 2×%d runs", len(ins.Sessions), n, n)
	}

	b.Logf("%d ordinary lookups (published at once) ended %s after the first publish (%.0f/s), worker peak RSS (VmHWM) %.1f MB; "+
		"%d monitors created by %s before their first fire (cron %q, UTC); first round (no previous run) ended %s after it was due (%.0f/s), second round (each run compared with the first) %s after (%.0f/s): %.2f× the ordinary lookups' time; "+
		"worker RSS before any monitor %.1f MB, after both rounds %.1f MB, peak (VmHWM) %.1f MB (target < %d MB, not enforced); %s goroutines, %s MB heap in use",
		n, lookups.Round(time.Millisecond), float64(n)/lookups.Seconds(), lookupsMem.hwm,
		n, due1.Sub(created).Round(time.Second), cron, took[0].Round(time.Millisecond), float64(n)/took[0].Seconds(),
		took[1].Round(time.Millisecond), float64(n)/took[1].Seconds(), took[1].Seconds()/lookups.Seconds(),
		idle.rss, mem.rss, mem.hwm, monitorRunsTargetRSSMB, gor, heap)
	if mem.hwm >= monitorRunsTargetRSSMB {
		b.Logf("peak RSS %.1f MB is above the target of %d MB (reported, not enforced)", mem.hwm, monitorRunsTargetRSSMB)
	}
	faultReportMetrics(b, map[string]float64{
		"runs":                 float64(n),
		"lookups-s":            lookups.Seconds(),
		"round1-s":             took[0].Seconds(),
		"round2-s":             took[1].Seconds(),
		"round2/lookups":       took[1].Seconds() / lookups.Seconds(),
		"lookups-peak-rss-MB":  lookupsMem.hwm,
		"monitors-peak-rss-MB": mem.hwm,
		"target-MB":            monitorRunsTargetRSSMB,
		"ns/op":                float64(time.Since(began).Nanoseconds()),
	})
}
