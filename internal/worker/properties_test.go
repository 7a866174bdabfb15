package worker

import (
	"context"
	"fmt"
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
	e.start(false, 1)
	// Break the store: a file where the results' directory must go.
	blocker := filepath.Join(e.blobDir, "lookups")
	if err := os.WriteFile(blocker, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.publish(cmd{LookupID: "store-down", Type: "organization", Identifier: "923609016", Reports: []string{"aml"}}, "")
	time.Sleep(2 * time.Second) // results are ready and every attempt to store them fails
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
	cfg.RetryBudget, cfg.MaxWait = 300*time.Millisecond, 2*time.Second
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
	time.Sleep(300 * time.Millisecond)
	for _, id := range ids {
		e.assertExactlyOnce(id)
	}
	if got := e.totalSessions(); got != n {
		t.Errorf("%d sessions opened for %d lookups", got, n)
	}
	opened := [2]float64{counter(t, apps[0], "kybflow_sessions_opened_total"), counter(t, apps[1], "kybflow_sessions_opened_total")}
	t.Logf("sessions opened per worker: %v", opened)
	if opened[0]+opened[1] != n || opened[0] == 0 || opened[1] == 0 {
		t.Errorf("sessions opened per worker %v: want both to share %d", opened, n)
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
	deadline := time.Now().Add(10 * time.Second)
	for e.totalSessions() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
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
	time.Sleep(300 * time.Millisecond)
	for i := range n {
		e.assertExactlyOnce(fmt.Sprintf("drain-%02d", i))
	}
	if got := e.totalSessions(); got != n {
		t.Errorf("%d sessions for %d lookups across a restart", got, n)
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
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			opened := 0
			for i := from; i < to; i++ {
				for _, k := range e.eventsOf(fmt.Sprintf("wait-%04d", i)) {
					if k == kybflow.KindSessionOpened {
						opened++
					}
				}
			}
			if opened == to-from {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("sessions %d..%d not all opened in time", from, to)
	}
	openAll(0, 20)
	settle := func() int {
		time.Sleep(500 * time.Millisecond)
		runtime.GC()
		return runtime.NumGoroutine()
	}
	base := settle()
	const many = 400
	openAll(20, 20+many)
	after := settle()
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
	cfg.S3PartSize = 5 << 20
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
