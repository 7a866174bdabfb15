package e2e

// A fault scenario's measured run and its outcome: audit, failures, summary, diagnosis.

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// faultRun is one scenario's measured part and what its outcome is judged by.
type faultRun struct {
	b           *testing.B
	began       time.Time // the measured part began: the platform's start
	js          jetstream.JetStream
	plat        *faultPlatform
	watch       *faultWatch
	sandboxAddr string
	workers     func() []*fproc // every worker process started
	others      []*fproc        // the sandbox and the NATS servers
	notes       []string
}

// diagnoseLost describes where lost lookups stopped, for the failure
// report: the events they have, their state records and the consumers (read
// only, for diagnosis), the workers' readiness, and the workers' goroutines
// (SIGQUIT, which ends them; their output is printed with the failure).
func (r *faultRun) diagnoseLost(ctx context.Context, lost []string, events map[string][]faultSighting) string {
	var d strings.Builder
	kv, kvErr := r.js.KeyValue(ctx, "AML_LOOKUPS")
	for _, id := range lost[:min(10, len(lost))] {
		var kinds []string
		for _, ev := range events[id] {
			kinds = append(kinds, fmt.Sprintf("%s@%d", ev.kind, ev.seq))
		}
		rec := fmt.Sprint(kvErr)
		if kv != nil {
			if e, err := kv.Get(ctx, id); err != nil {
				rec = err.Error()
			} else {
				rec = fmt.Sprintf("rev %d %s", e.Revision(), faultTruncate(string(e.Value()), 700))
			}
		}
		fmt.Fprintf(&d, "  %s: events [%s]; record: %s\n", id, strings.Join(kinds, " "), rec)
	}
	for _, c := range [][2]string{{"AML_COMMANDS", "worker-commands"}, {"AML_CHECKS", "worker-checks"}, {"AML_WEBHOOKS", "worker-webhooks"}} {
		cons, err := r.js.Consumer(ctx, c[0], c[1])
		if err != nil {
			fmt.Fprintf(&d, "  consumer %s: %v\n", c[1], err)
			continue
		}
		ci, leader := cons.CachedInfo(), ""
		if ci.Cluster != nil {
			leader = ci.Cluster.Leader
		}
		fmt.Fprintf(&d, "  consumer %s: pending %d, ack pending %d, redelivered %d, waiting pulls %d, leader %q\n",
			c[1], ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting, leader)
	}
	for _, w := range r.workers() {
		select {
		case <-w.exited():
			continue
		default:
		}
		if addr := w.envValue("HTTP_ADDR"); addr != "" {
			fmt.Fprintf(&d, "  %s /readyz: %s\n", w.name, faultHTTPBody("http://"+addr+"/readyz"))
		}
		w.quit()
	}
	return d.String()
}

func faultTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func faultHTTPBody(url string) string {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

func (r *faultRun) notef(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// finish waits for the terminal events, audits AML_EVENTS, fails the
// benchmark for lost, doubly ended or unpublished lookups and for processes
// that exited by themselves, logs a summary and returns the metrics. after
// runs once the waiting is over (the timer stopped) and returns more notes.
func (r *faultRun) finish(after func() []string) map[string]float64 {
	b := r.b
	ids := r.plat.ackedIDs()
	r.watch.waitEnded(ids, faultEndWait)
	lastEnd := time.Now()
	time.Sleep(faultSettle) // sleep: a window for second endings to show (see faultSettle): a check that nothing more happens
	b.StopTimer()
	elapsed := time.Since(r.began)
	endWait := lastEnd.Sub(r.began)

	// The audit: every terminal event in the stream, read again from the
	// start now that nothing is failing, so a lookup counts as lost or ended
	// twice by what AML_EVENTS holds, not by what the live watcher caught.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events, err := faultAuditEvents(ctx, r.js)
	if err != nil {
		b.Errorf("audit of AML_EVENTS: %v", err)
	}
	audit := map[string][]faultSighting{}
	for id, evs := range events {
		for _, ev := range evs {
			if ev.kind == "completed" || ev.kind == "failed" {
				audit[id] = append(audit[id], ev)
			}
		}
	}
	seen := r.watch.snapshot()

	var lost, twice, missed []string
	var lat, latStream []float64
	type slow struct {
		id    string
		s     float64
		first time.Time
	}
	var slowest []slow
	var maxLag time.Duration
	for _, i := range r.plat.ackedIndexes() {
		id, first := r.plat.ids[i], r.plat.first[i]
		ends, sights := audit[id], seen[id]
		if len(ends) > 1 || len(sights) > 1 {
			twice = append(twice, fmt.Sprintf("%s (%d in the stream, %d seen)", id, len(ends), len(sights)))
		}
		var at time.Time
		switch {
		case len(sights) > 0:
			at = sights[0].seen
			maxLag = max(maxLag, sights[0].seen.Sub(sights[0].stored))
		case len(ends) > 0:
			missed = append(missed, id)
			at = ends[0].stored // the best there is: when the stream stored it
		default:
			lost = append(lost, id)
			at = lastEnd // a lower bound of a lost lookup's latency
		}
		if len(ends) > 0 {
			latStream = append(latStream, ends[0].stored.Sub(first).Seconds())
		} else {
			latStream = append(latStream, at.Sub(first).Seconds())
		}
		s := at.Sub(first).Seconds()
		lat = append(lat, s)
		slowest = append(slowest, slow{id, s, first})
	}
	slices.Sort(lat)
	slices.Sort(latStream)
	slices.SortFunc(slowest, func(a, c slow) int { return cmp.Compare(c.s, a.s) })

	var exits, infraExits []string
	for _, w := range r.workers() {
		exits = append(exits, w.unexpectedExits()...)
	}
	for _, p := range r.others {
		infraExits = append(infraExits, p.unexpectedExits()...)
	}
	ins, sessErr := faultInspectSandbox(r.sandboxAddr)
	sessions := len(ins.Sessions)
	if sessErr != nil {
		b.Errorf("sandbox sessions: %v", sessErr)
	}
	dupSessions := sessions - len(ids)
	notes := after()

	// Failures: what the acceptance check is about.
	if len(lost) > 0 {
		b.Errorf("%d of %d lookups lost: no terminal event in AML_EVENTS %s after the faults stopped: %s\n%s",
			len(lost), len(ids), faultEndWait, strings.Join(lost, " "), r.diagnoseLost(ctx, lost, events))
	}
	if len(twice) > 0 {
		b.Errorf("%d lookups ended more than once: %s", len(twice), strings.Join(twice, ", "))
	}
	if len(exits) > 0 {
		b.Errorf("%d worker exits that were not caused by the benchmark:\n%s", len(exits), strings.Join(exits, "\n"))
	}
	if len(infraExits) > 0 {
		b.Errorf("harness: the sandbox or a NATS server exited by itself:\n%s", strings.Join(infraExits, "\n"))
	}
	if unpub := r.plat.unacked(); len(unpub) > 0 {
		b.Errorf("%d lookups never acknowledged by JetStream within %s of retrying (not counted as lost): %s",
			len(unpub), faultPublishGiveUp, strings.Join(unpub, " "))
	}
	if len(missed) > 0 {
		b.Errorf("harness: the watcher missed the terminal events of %d lookups that AML_EVENTS holds (their latency is taken from the stream): %s",
			len(missed), strings.Join(missed, " "))
	}

	p50, p90, p99 := faultPercentile(lat, 0.50), faultPercentile(lat, 0.90), faultPercentile(lat, 0.99)
	var maxLat float64
	if len(lat) > 0 {
		maxLat = lat[len(lat)-1]
	}
	var tbl strings.Builder
	tw := tabwriter.NewWriter(&tbl, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "lookups\tlost\ttwice\tworker-exits\tdup-sessions\tp50\tp90\tp99 (target ≤90s)\tmax\tlast end")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%.1fs\t%.1fs\t%.1fs\t%.1fs\tt+%s\n", len(ids), len(lost), len(twice), len(exits),
		dupSessions, p50, p90, p99, maxLat, faultRound(endWait))
	tw.Flush()
	b.Log("\n" + strings.TrimRight(tbl.String(), "\n"))
	for _, n := range r.notes {
		b.Log(n)
	}
	b.Log(r.plat.summary())
	// The slowest lookups, with when each of their events was stored
	// (seconds after the first publish attempt): where the time went.
	var top []string
	for k, s := range slowest[:min(5, len(slowest))] {
		line := fmt.Sprintf("%s %.1fs", s.id, s.s)
		if k < 3 {
			var steps []string
			for _, ev := range events[s.id] {
				steps = append(steps, fmt.Sprintf("%s +%.1f", ev.kind, ev.stored.Sub(s.first).Seconds()))
				if ev.kind != "session_opened" || ev.session == "" {
					continue
				}
				for _, dl := range ins.Downloads { // when the sandbox served its results
					if dl.SessionID == ev.session {
						steps = append(steps, fmt.Sprintf("GET %s %d +%.1f", dl.Entity, dl.Status, dl.Time.Sub(s.first).Seconds()))
					}
				}
			}
			line += fmt.Sprintf(" (published at t+%.1fs; %s)", s.first.Sub(r.began).Seconds(), strings.Join(steps, ", "))
		}
		top = append(top, line)
	}
	b.Logf("slowest: %s; by the stream's timestamps p50 %.1fs p99 %.1fs; watcher: %s, its largest lag behind the stream %s; %s",
		strings.Join(top, ", "), faultPercentile(latStream, 0.5), faultPercentile(latStream, 0.99), r.watch.errSummary(), faultRound(maxLag), strings.Join(notes, "; "))
	b.Log(faultWorkerLogSummary(r.workers()))
	if p99 > faultTargetP99.Seconds() {
		b.Logf("p99 %.1fs is above the target of %s (reported, not enforced)", p99, faultTargetP99)
	}

	return map[string]float64{
		"p50-s":               p50,
		"p99-s":               p99,
		"lookups-lost":        float64(len(lost)),
		"lookups-ended-twice": float64(len(twice)),
		"worker-exits":        float64(len(exits)),
		"duplicate-sessions":  float64(dupSessions),
		// The same latencies up to when AML_EVENTS stored the terminal
		// event, without the watcher's own recovery from the faults.
		"p50-stored-s": faultPercentile(latStream, 0.50),
		"p99-stored-s": faultPercentile(latStream, 0.99),
		// The one run's duration, also when a later call reports it again.
		"ns/op": float64(elapsed.Nanoseconds()),
	}
}
