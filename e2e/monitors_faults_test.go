package e2e

// Monitors through faults, black-box: the binaries as processes, monitors
// at a few seconds' cadence on sandbox organizations that change from one
// session to the next, a worker SIGKILLed and a NATS server SIGKILLed and
// restarted during the runs.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

// monitorWatch keeps what the events stream says of monitors' runs.
type monitorWatch struct {
	mu      sync.Mutex
	ends    map[string][]kybflow.Kind          // run lookupId → its terminal events
	done    map[string]kybflow.CompletedData   // run lookupId → its completed data
	changed map[string]kybflow.ChangedData     // run lookupId → its changed data
	begun   map[string]bool                    // run lookupIds with any event
	actions map[string][]kybflow.MonitorAction // monitorId → monitor events applied
}

func watchMonitors(t *testing.T, js jetstream.JetStream) *monitorWatch {
	t.Helper()
	w := &monitorWatch{ends: map[string][]kybflow.Kind{}, done: map[string]kybflow.CompletedData{}, changed: map[string]kybflow.ChangedData{},
		begun: map[string]bool{}, actions: map[string][]kybflow.MonitorAction{}}
	var cons jetstream.Consumer
	if err := testenv.Poll(30*time.Second, func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cons, err = js.OrderedConsumer(ctx, "AML_EVENTS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"aml.events.>"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var last uint64
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		ev, err := kybflow.DecodeEvent(m.Data())
		w.mu.Lock()
		defer w.mu.Unlock()
		if md.Sequence.Stream <= last { // the ordered consumer was reset: seen already
			return
		}
		last = md.Sequence.Stream
		if err != nil {
			t.Errorf("event %s: %v", m.Subject(), err)
			return
		}
		switch d := ev.Data.(type) {
		case kybflow.MonitorData:
			if d.Code == "" {
				w.actions[d.MonitorID] = append(w.actions[d.MonitorID], d.Action)
			}
			return
		case kybflow.CompletedData:
			w.done[d.LookupID] = d
		case kybflow.ChangedData:
			w.changed[d.LookupID] = d
		}
		parts := strings.Split(m.Subject(), ".")
		if len(parts) != 4 {
			return
		}
		id, kind := parts[2], kybflow.Kind(parts[3])
		w.begun[id] = true
		if kind.Terminal() {
			w.ends[id] = append(w.ends[id], kind)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return w
}

// completed is how many runs of monitorID have completed.
func (w *monitorWatch) completed(monitorID string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for id := range w.done {
		if strings.HasPrefix(id, monitorID+"-r") {
			n++
		}
	}
	return n
}

// waitRuns waits until every monitor has completed at least more runs than
// it had.
func (w *monitorWatch) waitRuns(t *testing.T, what string, monitorIDs []string, more int, procs ...*fproc) {
	t.Helper()
	base := map[string]int{}
	for _, m := range monitorIDs {
		base[m] = w.completed(m)
	}
	testenv.Eventually(t, 3*time.Minute, func() error {
		for _, p := range procs {
			if x := p.unexpectedExits(); len(x) > 0 {
				t.Fatalf("%s: %s", what, strings.Join(x, "; "))
			}
		}
		for _, m := range monitorIDs {
			if n := w.completed(m); n < base[m]+more {
				return fmt.Errorf("%s: monitor %s has %d runs completed, want %d", what, m, n, base[m]+more)
			}
		}
		return nil
	})
}

// TestMonitorsThroughWorkerKillsAndNATSRestart: every run ends exactly once,
// completed, with one session; every change the sandbox planted is
// reported once, by the run that first sees it, and nothing else.
func TestMonitorsThroughWorkerKillsAndNATSRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := faultBuild(t)
	nats := faultStartNATS(t, bin, 1)
	natsURL := nats.urls()
	sandboxAddr := faultAddr(t)
	sb := newFproc("aml-sandbox", filepath.Join(bin, "aml-sandbox"), faultSandboxEnv(sandboxAddr))
	blobDir := t.TempDir()
	newWorker := func(name string) (*fproc, string) {
		ops := faultAddr(t)
		return newFproc(name, filepath.Join(bin, "worker"), faultWorkerEnv(natsURL, sandboxAddr, blobDir, ops,
			"ACK_WAIT=3s", "OPEN_LEASE=3s", "WORKER_CONCURRENCY=4")), ops
	}
	a, opsA := newWorker("worker A")
	b, opsB := newWorker("worker B")
	faultCleanup(t, func() []*fproc { return slices.Concat(nats.servers, []*fproc{sb, a, b}) })
	if err := sb.start(); err != nil {
		t.Fatal(err)
	}
	if err := faultWaitOK("http://"+sandboxAddr+"/auth/realms/sandbox/.well-known/openid-configuration", sb, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		p   *fproc
		ops string
	}{{a, opsA}, {b, opsB}} {
		if err := w.p.start(); err != nil {
			t.Fatal(err)
		}
		if err := faultWaitOK("http://"+w.ops+"/readyz", w.p, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	js, err := jetstream.New(faultClient(t, natsURL, "e2e platform"))
	if err != nil {
		t.Fatal(err)
	}
	watch := watchMonitors(t, js)

	monitors := []struct {
		id, identifier string
		expands        []string
		block          string // the block its changes are in
	}{
		{"m-roles", sandbox.ChangingRolesNO, []string{"roles"}, "roles"},
		{"m-status", sandbox.ChangingStatusNO, nil, "keyInformation"},
		{"m-steady", sandbox.SteadyNO, []string{"roles"}, ""},
	}
	var ids []string
	ctx := context.Background()
	for _, m := range monitors {
		ids = append(ids, m.id)
		lookup, _ := json.Marshal(map[string]any{"type": "organization", "country": "NO", "identifier": m.identifier, "expands": m.expands})
		body := fmt.Sprintf(`{"action":"create","monitorId":%q,"lookup":%s,"schedule":{"every":"3s"}}`, m.id, lookup)
		if err := scaleRepublish(ctx, js, "aml.commands.monitor", "create-"+m.id, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}

	watch.waitRuns(t, "before any fault", ids, 2, a, b, sb)
	a.kill() // SIGKILL, in the middle of whatever runs it holds
	watch.waitRuns(t, "worker A killed", ids, 2, b, sb)
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	if err := faultWaitOK("http://"+opsA+"/readyz", a, time.Minute); err != nil {
		t.Fatal(err)
	}
	n0 := nats.servers[0]
	n0.kill()
	if err := n0.start(); err != nil {
		t.Fatal(err)
	}
	watch.waitRuns(t, "NATS restarted", ids, 3, a, b, sb)

	// Delete them; wait until every run begun has ended.
	for _, m := range monitors {
		body := fmt.Sprintf(`{"action":"delete","monitorId":%q}`, m.id)
		if err := scaleRepublish(ctx, js, "aml.commands.monitor", "delete-"+m.id, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 2*time.Minute, func() error {
		watch.mu.Lock()
		defer watch.mu.Unlock()
		for _, m := range ids {
			if !slices.Contains(watch.actions[m], kybflow.MonitorDelete) {
				return fmt.Errorf("monitor %s not deleted yet", m)
			}
		}
		for id := range watch.begun {
			if len(watch.ends[id]) == 0 {
				return fmt.Errorf("run %s has not ended", id)
			}
		}
		return nil
	})
	for _, p := range []*fproc{a, b, sb, n0} {
		if x := p.unexpectedExits(); len(x) > 0 {
			t.Errorf("%s", strings.Join(x, "; "))
		}
	}

	// The sandbox's sessions: which document each run got.
	var ins struct {
		Sessions []struct {
			ID         string `json:"id"`
			Identifier string `json:"identifier"`
			Sequence   int    `json:"sequence"`
		} `json:"sessions"`
	}
	resp, err := http.Get("http://" + sandboxAddr + "/_sandbox/inspect")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&ins)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sequence := map[string]int{} // session id → its number among its identifier's
	sessions := map[string]int{} // identifier → sessions
	for _, s := range ins.Sessions {
		sequence[s.ID] = s.Sequence
		sessions[s.Identifier]++
	}
	// The document of session n: they change up to ChangingSessions.
	doc := func(seq int) int { return min(seq, sandbox.ChangingSessions) }

	watch.mu.Lock()
	defer watch.mu.Unlock()
	for _, m := range monitors {
		var runs []kybflow.CompletedData
		for id := range watch.begun {
			if !strings.HasPrefix(id, m.id+"-r") {
				continue
			}
			if ends := watch.ends[id]; len(ends) != 1 || ends[0] != kybflow.KindCompleted {
				t.Errorf("run %s ended %v, want completed once", id, ends)
				continue
			}
			runs = append(runs, watch.done[id])
		}
		// In the order they were due: a run is named by the fire after it
		// (-r<Unix seconds>), so by name.
		slices.SortFunc(runs, func(x, y kybflow.CompletedData) int { return runNumber(t, x.LookupID) - runNumber(t, y.LookupID) })
		if sessions[m.identifier] != len(runs) {
			t.Errorf("monitor %s: %d runs, %d sessions of %s: want one each", m.id, len(runs), sessions[m.identifier], m.identifier)
		}
		reported := 0
		for i, r := range runs {
			if i == 0 {
				if r.Monitor != nil && r.Monitor.PreviousLookupID != "" {
					t.Errorf("%s: the first run compared with %s", r.LookupID, r.Monitor.PreviousLookupID)
				}
				continue
			}
			prev := runs[i-1]
			if r.Monitor == nil || r.Monitor.PreviousLookupID != prev.LookupID {
				t.Errorf("%s: compared with %+v, want the run due before it, %s", r.LookupID, r.Monitor, prev.LookupID)
				continue
			}
			want := doc(sequence[r.SessionID]) != doc(sequence[prev.SessionID])
			if m.block == "" {
				want = false
			}
			ch, hasEvent := watch.changed[r.LookupID]
			if r.Monitor.Changed == nil || *r.Monitor.Changed != want || hasEvent != want {
				t.Errorf("%s (session %d after %d): changed %v, changed event %v; want %v", r.LookupID,
					sequence[r.SessionID], sequence[prev.SessionID], r.Monitor.Changed, hasEvent, want)
				continue
			}
			if want {
				reported++
				if len(ch.Blocks) != 1 || ch.Blocks[0].Block != m.block || ch.PreviousLookupID != prev.LookupID {
					t.Errorf("%s: changed %+v; want block %s only, since %s", r.LookupID, ch, m.block, prev.LookupID)
				}
			}
		}
		// Documents 1, 2, 3 differ: two changes planted, each reported once.
		if m.block != "" && reported != sandbox.ChangingSessions-1 {
			t.Errorf("monitor %s: %d changes reported over %d runs, want %d", m.id, reported, len(runs), sandbox.ChangingSessions-1)
		}
		t.Logf("monitor %s: %d runs, %d sessions, %d changes reported", m.id, len(runs), sessions[m.identifier], reported)
	}
}

// runNumber is the Unix seconds that name a run (kybflow.RunLookupID).
func runNumber(t *testing.T, lookupID string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(lookupID[strings.LastIndex(lookupID, "-r")+2:], "%d", &n); err != nil {
		t.Fatalf("run %s: %v", lookupID, err)
	}
	return n
}
