package e2e

// The scale benchmarks' publishing and watching, and the storage ceiling.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

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

// scaleSettleWindow waits scaleSettle after the last terminal event, for
// second endings to show: a check that nothing more happens, which no
// condition can stand for.
func scaleSettleWindow() {
	time.Sleep(scaleSettle) // sleep: a window for second endings to show (see scaleSettle): a check that nothing more happens
}

// scaleWatch reads a stream of events <prefix>.events.<lookupId>.<kind>
// with an ordered consumer and counts them by lookup and kind.
type scaleWatch struct {
	mu      sync.Mutex
	lastSeq uint64
	got     map[string]map[string]int // lookupId → kind → events
	first   map[string]int            // kind → lookups with one at least
	lastAt  map[string]time.Time      // kind → when the last lookup's first was seen
	endedAt map[string]time.Time      // lookupId → when its first terminal event was seen
	runs    map[string]scaleRun       // lookupId → a monitor's run's completed event says
	report  map[string]int64          // lookupId → size of its stored report (completed)
	bad     []string                  // completed events not as expected
	last    time.Time                 // when any event was last seen
	errs    int
	lastErr string
	changed chan struct{} // signalled after each event handled
}

// scaleRun is what a completed event says of a monitor's run compared
// with the run before it (absent on a monitor's first run).
type scaleRun struct {
	PreviousLookupID string `json:"previousLookupId"`
	Changed          *bool  `json:"changed"`
}

// scaleTerminalEvents are the filters of the terminal events under an
// events prefix (aml.events): what a platform waiting for results
// subscribes to, and all the throughput phases' watchers read, so that the
// watcher's work per lookup is the same in every phase.
func scaleTerminalEvents(prefix string) []string {
	return []string{prefix + ".*.completed", prefix + ".*.failed"}
}

// scaleWatchEvents watches the events of stream that match filters.
func scaleWatchEvents(b *testing.B, js jetstream.JetStream, stream string, filters ...string) *scaleWatch {
	b.Helper()
	w := &scaleWatch{changed: make(chan struct{}, 1), got: map[string]map[string]int{}, first: map[string]int{}, lastAt: map[string]time.Time{},
		endedAt: map[string]time.Time{}, runs: map[string]scaleRun{}, report: map[string]int64{}, last: time.Now()}
	var cons jetstream.Consumer
	err := testenv.Poll(30*time.Second, func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cons, err = js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: filters})
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
	defer w.signal()
	now := time.Now()
	parts := strings.Split(m.Subject(), ".")
	md, err := m.Metadata()
	if len(parts) != 4 || err != nil {
		return
	}
	id, kind := parts[2], parts[3]
	var size int64 = -1
	var bad string
	var run *scaleRun
	if kind == "completed" {
		var ev struct {
			Data struct {
				Monitor   *scaleRun `json:"monitor"`
				Artifacts []struct {
					Name   string `json:"name"`
					Size   int64  `json:"size"`
					SHA256 string `json:"sha256"`
				} `json:"artifacts"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			bad = fmt.Sprintf("%s: completed event is not JSON: %v", id, err)
		} else if run = ev.Data.Monitor; len(ev.Data.Artifacts) != 2 {
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
	if (kind == "completed" || kind == "failed") && w.endedAt[id].IsZero() {
		w.endedAt[id] = now
	}
	if kinds[kind] == 1 {
		w.first[kind]++
		w.lastAt[kind] = now
	}
	if size >= 0 {
		w.report[id] = size
	}
	if run != nil {
		w.runs[id] = *run
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

// signal wakes wait: an event was handled.
func (w *scaleWatch) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
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
		// The next event, or a look at the processes and the stall.
		select {
		case <-w.changed:
		case <-time.After(time.Second):
		}
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
