package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

func TestSandboxFaultsOnlyDelayResults(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{Seed: 7, Faults: sandbox.Faults{
		ErrorRate: 0.3, RateLimitRate: 0.2, RetryAfter: time.Second, Latency: 20 * time.Millisecond,
	}}})
	e.start(true, 2)
	runEveryKindOfLookup(t, e, "faulty")
	ins := e.sb.Sandbox().Inspect()
	t.Logf("requests under faults: %v", ins.Requests)
}

func TestFailedSessionsEndFailed(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(true, 1)
	e.publish(cmd{LookupID: "always-fails", Type: "organization", Country: "NO", Identifier: sandbox.FailNO, Reports: []string{"aml"}}, "")
	e.publish(cmd{LookupID: "always-fails-se", Type: "organization", Country: "SE", Identifier: sandbox.FailSE}, "")
	for _, id := range []string{"always-fails", "always-fails-se"} {
		d := failedData(t, e.terminal(id, 30*time.Second))
		if d.Code != kybflow.CodeSessionFailed || !d.Retryable || d.SessionID == "" {
			t.Errorf("%s: failed %+v, want session_failed, retryable, with the session id", id, d)
		}
		e.assertExactlyOnce(id)
	}
}

func TestResultsThatExpireBeforeTheyAreFetchedEndExpired(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(false, 0)
	cfg := e.config(false)
	cfg.PollInitial, cfg.PollMax, cfg.PollMaxWebhook = 2*time.Second, 2*time.Second, 2*time.Second // slower than the result's 1s lifetime
	e.startWorker(cfg)
	e.publish(cmd{LookupID: "too-late", Type: "organization", Country: "NO", Identifier: sandbox.ExpiresNO}, "")
	d := failedData(t, e.terminal("too-late", 30*time.Second))
	if d.Code != kybflow.CodeExpired || !d.Retryable {
		t.Fatalf("failed %+v, want expired and retryable", d)
	}
	e.assertExactlyOnce("too-late")
}

func TestStorageDownOnlyDelaysResults(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(false, 0)
	app, _ := e.startWorkerApp(e.config(false))
	// Break the store: a file where the results' directory must go.
	blocker := filepath.Join(e.blobDir, "lookups")
	if err := os.WriteFile(blocker, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.publish(cmd{LookupID: "store-down", Type: "organization", Identifier: "923609016", Reports: []string{"aml"}}, "")
	// The results are ready and an attempt to store them has failed and
	// ended: the JSON was downloaded, and every check that asked for the
	// session's status has been acknowledged.
	testenv.Eventually(t, 30*time.Second, func() error {
		in := e.sb.Sandbox().Inspect()
		downloads := 0
		for _, d := range in.Downloads {
			if d.Entity == "json" && d.Status == http.StatusOK {
				downloads++
			}
		}
		calls, checks := in.Requests["GET /organization/session/{id}"], handled(t, app, RoleChecks)
		if downloads == 0 || checks < calls {
			return fmt.Errorf("the JSON downloaded %d times; %d of %d checks that asked for the status ended", downloads, checks, calls)
		}
		return nil
	})
	if got := e.eventsOf("store-down"); len(got) != 2 {
		t.Fatalf("events while storage is down: %v, want accepted and session_opened only", got)
	}
	if err := os.Remove(blocker); err != nil { // storage is back
		t.Fatal(err)
	}
	e.verifyArtifacts(completedData(t, e.terminal("store-down", 60*time.Second)), "json", "report:aml")
	e.assertExactlyOnce("store-down")
}

func TestAPIDownPastMaxWaitEndsUnavailable(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{Faults: sandbox.Faults{ErrorRate: 1}}})
	e.start(false, 0)
	cfg := e.config(false)
	cfg.AML.RetryBudget, cfg.MaxWait = 300*time.Millisecond, 2*time.Second
	e.startWorker(cfg)
	e.publish(cmd{LookupID: "api-down", Type: "organization", Identifier: "923609016"}, "")
	d := failedData(t, e.terminal("api-down", 60*time.Second))
	if d.Code != kybflow.CodeUnavailable || !d.Retryable || !strings.Contains(d.Reason, "503") && !strings.Contains(d.Reason, "500") {
		t.Fatalf("failed %+v, want unavailable, retryable, naming the API's answer", d)
	}
	if n := e.totalSessions(); n != 0 {
		t.Errorf("%d sessions opened while the API answered only errors", n)
	}
	e.assertExactlyOnce("api-down")
}

func TestTwoWorkersShareTheWork(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{Faults: sandbox.Faults{Latency: 10 * time.Millisecond}}})
	e.start(true, 0)
	second := e.startBridge() // two bridges as well: each worker gives BankID another one
	a, b := e.config(true), e.config(true)
	b.WebhookURL = "http://" + second.Addr().String() + "/webhooks"
	var apps [2]*App
	for i, cfg := range []Config{a, b} {
		ctx, cancel := context.WithCancel(context.Background())
		app, err := Start(ctx, cfg, testLogger(t), Options{})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker %d: Run = %v", i, err)
			}
		})
		apps[i] = app
	}
	const n = 24
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("shared-%02d", i)
		country, id := "NO", "923609016"
		switch i % 3 {
		case 1:
			country, id = "SE", "5560360793"
		case 2:
			country, id = "FI", "2077474-0"
		}
		e.publish(cmd{LookupID: ids[i], Type: "organization", Country: country, Identifier: id, Reports: []string{"aml"}}, ids[i])
	}
	for _, id := range ids {
		e.verifyArtifacts(completedData(t, e.terminal(id, 60*time.Second)), "json", "report:aml")
	}
	e.marker() // one more lookup, and session: duplicates would come before its ending
	for _, id := range ids {
		e.assertExactlyOnce(id)
	}
	if got := e.totalSessions(); got != n+1 {
		t.Errorf("%d sessions opened for %d lookups and the marker", got, n)
	}
	opened := [2]float64{counter(t, apps[0], "kybflow_sessions_opened_total"), counter(t, apps[1], "kybflow_sessions_opened_total")}
	t.Logf("sessions opened per worker: %v", opened)
	if opened[0]+opened[1] != n+1 || opened[0] == 0 || opened[1] == 0 {
		t.Errorf("sessions opened per worker %v: want both to share %d (and the marker)", opened, n)
	}
}

// counter reads a counter from an app's own registry.
func counter(t *testing.T, a *App, name string) float64 {
	t.Helper()
	mfs, err := a.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += metricValue(m)
			}
			return sum
		}
	}
	return 0
}

// handled is how many messages a consume loop of an app has handled (and
// acknowledged), whatever the acknowledgement.
func handled(t *testing.T, a *App, role string) int {
	t.Helper()
	mfs, err := a.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != "kybflow_messages_handled_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "consumer" && l.GetValue() == role {
					n += int(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	return n
}

func metricValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return 0
}

func TestSIGTERMDrainsAndAnotherWorkerFinishes(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{Faults: sandbox.Faults{Latency: 200 * time.Millisecond}}})
	e.start(false, 0)
	stop := e.startWorker(e.config(false))
	const n = 12
	for i := range n {
		e.publish(cmd{LookupID: fmt.Sprintf("drain-%02d", i), Type: "organization", Identifier: "974760673"}, "")
	}
	// Stop the first worker while it is busy.
	testenv.Eventually(t, 10*time.Second, func() error {
		if e.totalSessions() == 0 {
			return errors.New("no session opened yet")
		}
		return nil
	})
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("drain: %v", err)
	}
	t.Logf("drained in %s with %d sessions opened", time.Since(start), e.totalSessions())
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("drain took %s, more than DRAIN_TIMEOUT allows", d)
	}
	// A second worker takes over whatever was released or left.
	e.startWorker(e.config(false))
	for i := range n {
		id := fmt.Sprintf("drain-%02d", i)
		completedData(t, e.terminal(id, 60*time.Second))
	}
	e.marker() // what the first worker released would be redelivered before its command
	for i := range n {
		e.assertExactlyOnce(fmt.Sprintf("drain-%02d", i))
	}
	if got := e.totalSessions(); got != n+1 {
		t.Errorf("%d sessions for %d lookups and the marker across a restart", got, n)
	}
}

// TestWaitingSessionsCostNoGoroutines opens many sessions whose results
// take minutes, and checks that waiting for them costs no goroutine each:
// each one is a message held by JetStream, not a timer or goroutine here.
func TestWaitingSessionsCostNoGoroutines(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{ReadyAfter: 10 * time.Minute}})
	e.start(false, 0)
	cfg := e.config(false)
	cfg.Concurrency = 16
	cfg.PollInitial, cfg.PollMax, cfg.PollMaxWebhook = 5*time.Second, 10*time.Second, 10*time.Second
	e.startWorker(cfg)

	openAll := func(from, to int) {
		for i := from; i < to; i++ {
			e.publish(cmd{LookupID: fmt.Sprintf("wait-%04d", i), Type: "organization", Identifier: "923609016"}, "")
		}
		testenv.Eventually(t, 2*time.Minute, func() error {
			opened := 0
			for i := from; i < to; i++ {
				for _, k := range e.eventsOf(fmt.Sprintf("wait-%04d", i)) {
					if k == kybflow.KindSessionOpened {
						opened++
					}
				}
			}
			if opened != to-from {
				return fmt.Errorf("sessions %d..%d: %d of %d opened", from, to, opened, to-from)
			}
			return nil
		})
		// Opening is over once every command is acknowledged: no handler of
		// one runs any more.
		testenv.Eventually(t, time.Minute, func() error { return e.consumerIdle(streams.ConsumerCommands) })
	}
	openAll(0, 20)
	runtime.GC()
	base := runtime.NumGoroutine()
	const many = 400
	openAll(20, 20+many)
	// What stays is what waiting costs: goroutines that only come and go
	// (a check being made) are given the time to end.
	var after int
	_ = testenv.Poll(10*time.Second, func() error {
		runtime.GC()
		if after = runtime.NumGoroutine(); after-base > 40 {
			return errors.New("more goroutines than the bound")
		}
		return nil
	})
	t.Logf("goroutines: %d with 20 sessions waiting, %d with %d waiting", base, after, 20+many)
	if after-base > 40 {
		t.Errorf("goroutines grew by %d for %d more waiting sessions: waiting should cost none", after-base, many)
	}
	if n := e.totalSessions(); n != 20+many {
		t.Errorf("%d sessions, want %d", n, 20+many)
	}
}

// TestLargeReportStreamsWithBoundedMemory stores a 100 MB report and
// samples the heap while it streams: the worker (and the in-process
// sandbox) must stay far below the report's size.
func TestLargeReportStreamsWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 100 MB through the pipeline")
	}
	const size = 100 << 20
	e := newEnv(t, envOptions{s3: true, sandbox: sandbox.Config{ReportSize: size}})
	e.start(false, 0)
	cfg := e.config(false)
	cfg.Storage.PartSize = 5 << 20
	e.startWorker(cfg)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	var mu sync.Mutex
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				mu.Lock()
				peak = max(peak, m.HeapInuse)
				mu.Unlock()
			}
		}
	}()
	e.publish(cmd{LookupID: "big", Type: "organization", Identifier: "923609016", Reports: []string{"aml"}}, "")
	d := completedData(t, e.terminal("big", 5*time.Minute))
	close(stop)
	<-sampled
	var report kybflow.Artifact
	for _, a := range d.Artifacts {
		if a.Name == "report:aml" {
			report = a
		}
	}
	if report.Size < size*99/100 {
		t.Fatalf("report is %d bytes, want at least %d", report.Size, size)
	}
	e.verifyArtifacts(d, "json", "report:aml")
	growth := int64(peak) - int64(base)
	t.Logf("stored a %d MB report; heap in use peaked %d MB above the %d MB baseline", report.Size>>20, growth>>20, base>>20)
	if growth > 48<<20 {
		t.Errorf("heap grew by %d MB while streaming a %d MB report", growth>>20, report.Size>>20)
	}
}
