package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/internal/tracing"
)

const testWebhookSecret = "cGlwZWxpbmUtdGVzdC1zZWNyZXQ=" // "pipeline-test-secret", base64 as Standard Webhooks secrets are

// env is one pipeline under test: a real NATS server, the sandbox, the
// webhook bridge and any number of workers, all in this process.
type env struct {
	t       testing.TB
	natsURL string
	sb      *sandbox.Server
	bridge  *bridge.App
	js      jetstream.JetStream
	blobDir string
	s3      *testenv.MinIOServer
	bucket  string
	cluster *testenv.Cluster
	logs    *testenv.Buffer   // when set, the workers' logs, every level
	tracing *tracing.Provider // the workers' and bridges' (nil: none)

	mu      sync.Mutex
	events  map[string][]kybflow.Event // by lookupId, in stream order
	markers int                        // marker lookups run so far
}

type envOptions struct {
	// cluster, when set, is the NATS cluster to run on (streams with 3
	// replicas) instead of a single embedded server.
	cluster *testenv.Cluster
	// natsURL, when set, is a NATS server the test runs itself.
	natsURL string
	sandbox sandbox.Config
	s3      bool // store in a real MinIO instead of a directory
	// tracing, when set, is the workers' and bridges' tracer provider.
	tracing *tracing.Provider
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, events: map[string][]kybflow.Event{}, cluster: o.cluster, tracing: o.tracing}
	switch {
	case o.cluster != nil:
		e.natsURL = o.cluster.URLs()
	case o.natsURL != "":
		e.natsURL = o.natsURL
	default:
		e.natsURL = testenv.NATS(t)
	}
	sc := o.sandbox
	sc.WebhookSecret = testWebhookSecret
	if sc.ReadyAfter == 0 {
		sc.ReadyAfter = 150 * time.Millisecond
	}
	if sc.ReportInterval == 0 {
		sc.ReportInterval = 50 * time.Millisecond
	}
	if sc.WebhookRetry.Initial == 0 {
		sc.WebhookRetry = sandbox.RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Attempts: 8}
	}
	sb, err := sandbox.Start(sc, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	e.sb = sb

	if o.s3 {
		srv := testenv.MinIO(t)
		e.s3 = &srv
		e.bucket = "results"
	} else {
		e.blobDir = t.TempDir()
	}

	nc, err := nats.Connect(e.natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if e.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}

	// The first worker makes the streams; the bridge needs them.
	return e
}

// config is a worker configuration for this env, as a user would set it.
func (e *env) config(webhooks bool) Config {
	c := Defaults()
	c.NATSURL, c.APIURL, c.IssuerURL = e.natsURL, e.sb.URL(), e.sb.IssuerURL()
	c.ClientID, c.ClientSecret = "sandbox", "sandbox-secret"
	c.RateLimit, c.RetryBudget, c.HTTPAddr, c.Concurrency = 200, 10*time.Second, "127.0.0.1:0", 4
	c.PollInitial, c.PollMax, c.PollMaxWebhook = 100*time.Millisecond, 400*time.Millisecond, 2*time.Second
	c.MaxWait, c.DrainTimeout, c.EventsMaxAge, c.Duplicates, c.LookupsMaxAge = time.Hour, 5*time.Second, time.Hour, time.Hour, 24*time.Hour
	c.EventSource, c.LogFormat, c.LogLevel = "urn:test", "text", "warn"
	if e.cluster != nil {
		c.StreamReplicas = 3
	}
	if e.s3 != nil {
		c.S3Endpoint, c.S3Bucket, c.S3AccessKey, c.S3SecretKey, c.S3Secure = e.s3.Endpoint, e.bucket, e.s3.AccessKey, e.s3.SecretKey, false
	} else {
		c.BlobDir = e.blobDir
	}
	if webhooks && e.bridge != nil {
		c.WebhookURL = "http://" + e.bridge.Addr().String() + "/webhooks"
	}
	return c
}

// startWorker boots a worker with cfg and stops it when the test ends. It
// returns a function that stops it earlier (SIGTERM) and waits.
func (e *env) startWorker(cfg Config) (stop func() error) {
	e.t.Helper()
	_, stop = e.startWorkerApp(cfg)
	return stop
}

// startWorkerApp is startWorker that also returns the app. A worker whose
// Run returns before it is stopped fails the test: nothing that happens to
// NATS may end a worker.
func (e *env) startWorkerApp(cfg Config) (app *App, stop func() error) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := testLogger(e.t)
	if e.logs != nil { // every line, at debug, also into e.logs
		log = slog.New(slog.NewJSONHandler(io.MultiWriter(tWriter{e.t}, e.logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	app, err := Start(ctx, cfg, log, Options{Tracing: e.tracing})
	if err != nil {
		cancel()
		e.t.Fatalf("start worker: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		err := app.Run(ctx)
		if ctx.Err() == nil {
			e.t.Errorf("worker Run returned before it was stopped: %v", err)
		}
		done <- err
	}()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	e.t.Cleanup(func() {
		if err := stop(); err != nil {
			e.t.Errorf("worker run: %v", err)
		}
	})
	return app, stop
}

// ready is nil once app's /readyz answers 200, and else what it says.
func ready(app *App) error {
	resp, err := http.Get("http://" + app.OpsAddr().String() + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz %d: %s", resp.StatusCode, body)
	}
	return nil
}

// startBridge boots a webhook bridge (after a worker made the streams); the
// first one is the one config(true) points workers at.
func (e *env) startBridge() *bridge.App {
	e.t.Helper()
	app, err := bridge.Start(bridge.Config{
		NATSURL: e.natsURL, ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", WebhookSecret: testWebhookSecret,
		SubjectPrefix: "aml", MaxBody: 64 << 10,
	}, testLogger(e.t), bridge.Options{Tracing: e.tracing})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("bridge run: %v", err)
		}
	})
	if e.bridge == nil {
		e.bridge = app
	}
	return app
}

// start makes the streams (as any worker does at start), then boots a
// bridge (when webhooks) and n workers, and starts watching events.
func (e *env) start(webhooks bool, n int) {
	e.t.Helper()
	app, err := Start(context.Background(), e.config(false), testLogger(e.t), Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := app.EnsureTopology(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	app.Close()
	if webhooks {
		e.startBridge()
	}
	for range n {
		e.startWorker(e.config(webhooks))
	}
	e.watchEvents()
}

// watchEvents collects every event of AML_EVENTS, as a downstream service
// would, with an ordered consumer.
func (e *env) watchEvents() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	cons, err := e.js.OrderedConsumer(ctx, "AML_EVENTS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"aml.events.>"}})
	if err != nil {
		e.t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev, err := kybflow.DecodeEvent(m.Data())
		if err != nil {
			e.t.Errorf("undecodable event on %s: %v", m.Subject(), err)
			return
		}
		e.mu.Lock()
		e.events[ev.Subject] = append(e.events[ev.Subject], ev)
		e.mu.Unlock()
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cc.Stop)
}

// publish sends a command as a platform would. msgID "" leaves Nats-Msg-Id
// out, so that deduplication is the worker's own.
func (e *env) publish(cmd any, msgID string) {
	e.t.Helper()
	var data []byte
	switch c := cmd.(type) {
	case []byte:
		data = c
	case string:
		data = []byte(c)
	default:
		b, err := json.Marshal(c)
		if err != nil {
			e.t.Fatal(err)
		}
		data = b
	}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	// While NATS is in trouble a publish may go unanswered; a platform
	// publishes again with the same Nats-Msg-Id until JetStream
	// acknowledges it. (Errorf, not Fatal: a test may publish from a
	// goroutine of its own.)
	err := testenv.Poll(time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := e.js.Publish(ctx, "aml.commands.lookup", data, opts...)
		return err
	})
	if err != nil {
		e.t.Errorf("publish a command: %v", err)
	}
}

// terminal waits for the terminal event of lookupID and returns it.
func (e *env) terminal(lookupID string, timeout time.Duration) kybflow.Event {
	e.t.Helper()
	var found kybflow.Event
	err := testenv.Poll(timeout, func() error {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, ev := range e.events[lookupID] {
			if k, _ := kybflow.KindOfEventType(ev.Type); k.Terminal() {
				found = ev
				return nil
			}
		}
		return fmt.Errorf("events: %v", kinds(e.events[lookupID]))
	})
	if err != nil {
		e.t.Fatalf("no terminal event for %s within %s; %v", lookupID, timeout, err)
	}
	return found
}

// markerIdentifier is the organization number of marker lookups, looked up
// by no test.
const markerIdentifier = "987654325"

// marker runs one more lookup, after everything a test did, and waits for
// its ending: the positive sign that nothing more comes of the lookups
// before it. Its command queues behind theirs (a redelivered command comes
// first), its checks and webhooks behind theirs, so what those would still
// publish (an ending twice, a late duplicate) is published before the
// marker's own ending. It opens a session of its own, for
// markerIdentifier.
func (e *env) marker() {
	e.t.Helper()
	e.mu.Lock()
	e.markers++
	id := fmt.Sprintf("marker-%d", e.markers)
	e.mu.Unlock()
	e.publish(cmd{LookupID: id, Type: "organization", Country: "NO", Identifier: markerIdentifier}, id)
	if k, _ := kybflow.KindOfEventType(e.terminal(id, time.Minute).Type); k != kybflow.KindCompleted {
		e.t.Fatalf("marker lookup %s ended %s, want completed", id, k)
	}
}

// eventsOf returns the kinds of lookupID's events so far.
func (e *env) eventsOf(lookupID string) []kybflow.Kind {
	e.mu.Lock()
	defer e.mu.Unlock()
	return kinds(e.events[lookupID])
}

func kinds(evs []kybflow.Event) []kybflow.Kind {
	var out []kybflow.Kind
	for _, ev := range evs {
		k, _ := kybflow.KindOfEventType(ev.Type)
		out = append(out, k)
	}
	return out
}

// assertExactlyOnce checks that lookupID has exactly one terminal event and
// no event twice (run a marker first: duplicates come late).
func (e *env) assertExactlyOnce(lookupID string) {
	e.t.Helper()
	seen := map[kybflow.Kind]int{}
	terminal := 0
	for _, k := range e.eventsOf(lookupID) {
		seen[k]++
		if k.Terminal() {
			terminal++
		}
	}
	for k, n := range seen {
		if n > 1 {
			e.t.Errorf("%s: event %s published %d times", lookupID, k, n)
		}
	}
	if terminal != 1 {
		e.t.Errorf("%s: %d terminal events, want exactly 1 (%v)", lookupID, terminal, e.eventsOf(lookupID))
	}
}

func completedData(t *testing.T, ev kybflow.Event) kybflow.CompletedData {
	t.Helper()
	d, ok := ev.Data.(kybflow.CompletedData)
	if !ok {
		t.Fatalf("event %s is %s with data %T, want completed: %+v", ev.ID, ev.Type, ev.Data, ev.Data)
	}
	return d
}

func failedData(t *testing.T, ev kybflow.Event) kybflow.FailedData {
	t.Helper()
	d, ok := ev.Data.(kybflow.FailedData)
	if !ok {
		t.Fatalf("event %s is %s with data %T, want failed: %+v", ev.ID, ev.Type, ev.Data, ev.Data)
	}
	return d
}

// verifyArtifacts reads every artifact back from the store, as a downstream
// service would, and checks size, sha256 and content type.
func (e *env) verifyArtifacts(d kybflow.CompletedData, wantNames ...string) {
	e.t.Helper()
	ctx := context.Background()
	got := map[string]bool{}
	for _, a := range d.Artifacts {
		got[a.Name] = true
		var rc io.ReadCloser
		var err error
		if e.s3 != nil {
			st, serr := blob.NewS3(ctx, blob.S3Config{Endpoint: e.s3.Endpoint, Bucket: a.Bucket, AccessKey: e.s3.AccessKey, SecretKey: e.s3.SecretKey})
			if serr != nil {
				e.t.Fatal(serr)
			}
			rc, _, err = st.Get(ctx, a.Key)
		} else {
			st, derr := blob.NewDir(e.blobDir)
			if derr != nil {
				e.t.Fatal(derr)
			}
			rc, _, err = st.Get(ctx, a.Key)
		}
		if err != nil {
			e.t.Fatalf("artifact %s at %s: %v", a.Name, a.Key, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		if n != a.Size || hex.EncodeToString(h.Sum(nil)) != a.SHA256 {
			e.t.Errorf("artifact %s: stored %d bytes sha256 %x; event says %d bytes sha256 %s", a.Name, n, h.Sum(nil), a.Size, a.SHA256)
		}
		if n == 0 {
			e.t.Errorf("artifact %s is empty", a.Name)
		}
		wantCT := kybflow.ArtifactContentType(a.Name)
		if !strings.HasPrefix(a.ContentType, wantCT) {
			e.t.Errorf("artifact %s content type %q, want %q", a.Name, a.ContentType, wantCT)
		}
	}
	for _, n := range wantNames {
		if !got[n] {
			e.t.Errorf("artifact %s missing from %v", n, d.Artifacts)
		}
	}
	if len(d.Artifacts) != len(wantNames) {
		e.t.Errorf("%d artifacts, want %d (%v)", len(d.Artifacts), len(wantNames), wantNames)
	}
}

// sessions is how many sessions the sandbox opened for an identifier.
func (e *env) sessions(kind, country, identifier string) int {
	ins := e.sb.Sandbox().Inspect()
	if kind == "beneficial" {
		return ins.SessionsPerIdentifier["beneficial/"+identifier] + ins.SessionsPerIdentifier["beneficial/NO/"+identifier]
	}
	return ins.SessionsPerIdentifier[fmt.Sprintf("organization/%s/%s", country, identifier)]
}

func (e *env) totalSessions() int { return len(e.sb.Sandbox().Inspect().Sessions) }

// testLogger logs to the test at warn level; set KYBFLOW_TEST_LOG=debug
// for everything.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("KYBFLOW_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// postWebhook sends a webhook to the bridge as an attacker or BankID would.
func (e *env) postWebhook(lookupID string, body []byte, header http.Header) int {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+e.bridge.Addr().String()+"/webhooks/"+lookupID, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// consumerIdle is nil once the named consumer of the worker has nothing to
// deliver and nothing delivered but not acknowledged.
func (e *env) consumerIdle(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream := map[string]string{
		streams.ConsumerCommands: kybflow.Subjects{}.CommandsStream(),
		streams.ConsumerChecks:   kybflow.Subjects{}.ChecksStream(),
		streams.ConsumerWebhooks: kybflow.Subjects{}.WebhooksStream(),
	}[name]
	cons, err := e.js.Consumer(ctx, stream, name)
	if err != nil {
		return err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		return fmt.Errorf("consumer %s: %d to deliver, %d not acknowledged", name, info.NumPending, info.NumAckPending)
	}
	return nil
}
