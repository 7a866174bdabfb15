package console

// BenchmarkConsoleAtScale (issue 22, item 4): the console on an events
// stream holding CONSOLE_N lookups (default 100,000). The stream is made
// by the worker's own topology step (worker.TopologyMain) in an embedded
// NATS server; the lookups' events are published into it as the worker
// publishes them (kybflow.NewEvent, EncodeEvent, the event id as
// Nats-Msg-Id, its headers), in the order of their times, asynchronously
// in batches. Then a console App (Start with a directory store and the
// local login on loopback, as harness_test.go starts one) is started cold,
// and the benchmark reports:
//
//   - catchup-s: from Start to the index ready (it has read what the
//     stream held);
//   - page-ms, filtered-ms, search-ms: the first GET / over HTTP, the
//     first GET /?state=failed&country=SE and the first search by a
//     correlationId, each from the request to the last byte of the page
//     (the median of four more is logged);
//   - heap-MB, rss-MB, peak-rss-MB: the whole test process after a GC
//     (HeapInuse; VmRSS and VmHWM of /proc/self/status), and
//     rss-returned-MB, its VmRSS once debug.FreeOSMemory has returned the
//     freed memory to the system. The process also holds the NATS server
//     and the test, so console-heap-MB is the console's own share: the
//     heap in use with the console ready less the heap in use once it is
//     stopped and dropped (the index keeps no estimate of its own);
//   - restart-catchup-s: the console stopped and a new one started on the
//     same stream, from Start to ready (the index is in memory only: a
//     restart reads the stream again), and restart-page-ms, a GET / sent
//     at once, while it catches up.
//
// Targets (issue 22): pages under 300 ms, memory under 200 MB; reported,
// not enforced. It runs once, whatever b.N (as the e2e benchmarks do):
// run it with -benchtime 1x,
//
//	CONSOLE_N=100000 go test -run '^$' -bench '^BenchmarkConsoleAtScale$' -benchtime 1x -timeout 30m ./internal/console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/logging"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/internal/worker"
	"github.com/kybflow/kybflow/natsconn"
)

const (
	scaleDefaultN = 100_000
	scaleBatch    = 1000               // asynchronous publishes outstanding at most
	scaleWindow   = 7 * 24 * time.Hour // lookups created over EVENTS_MAX_AGE's default
	scaleRepeats  = 4                  // requests of each page after the first, for the median
)

func BenchmarkConsoleAtScale(b *testing.B) {
	if testing.Short() {
		b.Skip("publishes CONSOLE_N lookups' events into an embedded NATS server")
	}
	n := 0
	if v := os.Getenv("CONSOLE_N"); v == "" {
		n = scaleDefaultN
	} else if n, _ = strconv.Atoi(v); n <= 0 {
		b.Fatalf("CONSOLE_N: want a positive number, got %q", v)
	}
	natsURL := testenv.NATS(b)
	if err := worker.TopologyMain(b.Context(), nil, envconfig.MapLookup(map[string]string{"NATS_URL": natsURL}), io.Discard, io.Discard); err != nil {
		b.Fatalf("worker topology: %v", err)
	}
	began := time.Now()
	pub := publishScale(b, natsURL, n)
	published := time.Since(began)
	dir := b.TempDir()

	debug.FreeOSMemory() // the publisher's garbage: a clean baseline
	base := readScaleMem(b)
	c, start := startScaleConsole(b, natsURL, dir)
	catchup := c.waitReady(b, start, n)
	page, pageMed := c.page(b, "/", n)
	filtered, filteredMed := c.page(b, "/?state=failed&country=SE", pub.failedSE)
	search, searchMed := c.page(b, "/?q="+pub.correlation, 1)
	ready := readScaleMem(b)
	debug.FreeOSMemory() // what of the RSS is freed memory not yet returned
	scavenged := readScaleMem(b)
	c.stop(b) // and drops the app, for the reading below
	stopped := readScaleMem(b)

	c2, start2 := startScaleConsole(b, natsURL, dir)
	restartPage, body := c2.get(b, "/")
	catchingUp := strings.Contains(body, "The index is not complete yet")
	restart := c2.waitReady(b, start2, n)
	restarted := readScaleMem(b)
	c2.stop(b)

	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.Logf("%d lookups (%d completed, %d failed, %d waiting; %d events, %.1f MB in %s) published in %s; "+
		"cold start to index ready %s (%.0f events/s); first pages: / %.1f ms, state=failed&country=SE (%d) %.1f ms, "+
		"search by correlationId %.1f ms (medians of %d more: %.1f, %.1f, %.1f ms); "+
		"process after a GC: heap in use %.1f MB (%.1f before the console, %.1f once it stopped: the console's own %.1f MB), "+
		"RSS %.1f MB (%.1f before the console; %.1f once freed memory is returned), peak RSS %.1f MB; "+
		"restart to index ready %s, a page during that catch-up %.1f ms (catching up: %t); after it heap %.1f MB, RSS %.1f MB",
		n, pub.completed, pub.failed, pub.waiting, pub.events, pub.streamMB, pub.stream, published.Round(time.Millisecond),
		catchup.Round(time.Millisecond), float64(pub.events)/catchup.Seconds(), ms(page), pub.failedSE, ms(filtered),
		ms(search), scaleRepeats, ms(pageMed), ms(filteredMed), ms(searchMed),
		ready.heap, base.heap, stopped.heap, ready.heap-stopped.heap, ready.rss, base.rss, scavenged.rss, ready.hwm,
		restart.Round(time.Millisecond), ms(restartPage), catchingUp, restarted.heap, restarted.rss)
	if ms(max(page, filtered, search)) > 300 || ready.heap-stopped.heap > 200 {
		b.Logf("over a target of issue 22 (pages under 300 ms, under 200 MB): reported, not enforced")
	}
	for name, v := range map[string]float64{
		"lookups": float64(n), "publish-s": published.Seconds(), "stream-MB": pub.streamMB,
		"catchup-s": catchup.Seconds(), "page-ms": ms(page), "filtered-ms": ms(filtered), "search-ms": ms(search),
		"heap-MB": ready.heap, "rss-MB": ready.rss, "rss-returned-MB": scavenged.rss, "peak-rss-MB": ready.hwm, "console-heap-MB": ready.heap - stopped.heap,
		"restart-catchup-s": restart.Seconds(), "restart-page-ms": ms(restartPage),
	} {
		b.ReportMetric(v, name)
	}
}

// scalePublished is what publishScale put in the stream.
type scalePublished struct {
	events, completed, failed, waiting int
	failedSE                           int    // failed lookups of country SE
	correlation                        string // one lookup's correlationId
	stream                             string
	streamMB                           float64
}

// scaleLookup is one lookup of the benchmark and where it ends.
type scaleLookup struct {
	cmd       kybflow.LookupCommand
	session   string // "" when it fails before one is opened
	code      kybflow.FailureCode
	missing   bool // completed without its certificate of incorporation
	sanction  kybflow.SanctionOutcome
	status    kybflow.OrganizationStatus
	traceID   string
	completes bool
}

// scaleEvent is one event to publish: the kind of lookups[lookup] at at.
type scaleEvent struct {
	at     time.Time
	lookup int32
	kind   kybflow.Kind
}

// publishScale publishes the events of n lookups created over the last
// seven days (a spread of types, countries, tenants; most completed, some
// failed, the newest still waiting), as the worker publishes them.
func publishScale(b *testing.B, natsURL string, n int) scalePublished {
	b.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(scaleBatch))
	if err != nil {
		b.Fatal(err)
	}
	subjects, _ := kybflow.NewSubjects("")
	rng := rand.New(rand.NewPCG(22, 4)) //nolint:gosec // a reproducible spread, not a secret
	pick := func(weights ...int) int {
		r := rng.IntN(100)
		for i, w := range weights {
			if r -= w; r < 0 {
				return i
			}
		}
		return len(weights)
	}
	now := time.Now().UTC()
	step := scaleWindow / time.Duration(n)
	var out scalePublished
	lookups := make([]scaleLookup, n)
	evs := make([]scaleEvent, 0, 3*n)
	for i := range lookups {
		country := []kybflow.Country{kybflow.CountryNO, kybflow.CountrySE, kybflow.CountryFI}[pick(50, 30)]
		typ := kybflow.TypeOrganization
		if country == kybflow.CountryNO && pick(60) == 1 { // beneficial owners: Norwegian only
			typ = kybflow.TypeBeneficialOwners
		}
		cmd := command(fmt.Sprintf("onb-%07d", i), typ, country, fmt.Sprintf("crm-%07d", i))
		cmd.Tenant = []string{"", "acme", "northwind", "globex"}[pick(60, 20, 15)]
		cmd.Reports = kybflow.ReportTypes(typ)
		cmd.Metadata = fmt.Appendf(nil, `{"crmAccount":"ACC-%07d","channel":"onboarding"}`, i)
		sum := sha256.Sum256([]byte(cmd.Key()))
		l := scaleLookup{cmd: cmd, session: "ses_" + hex.EncodeToString(sum[:16]), traceID: hex.EncodeToString(sum[16:]),
			sanction: []kybflow.SanctionOutcome{kybflow.SanctionNoHit, kybflow.SanctionHit}[pick(95)],
			status:   []kybflow.OrganizationStatus{kybflow.StatusActive, kybflow.StatusUnderLiquidation, kybflow.StatusBankrupt, kybflow.StatusDissolved}[pick(90, 3, 3)],
			missing:  typ == kybflow.TypeOrganization && pick(98) == 1}
		created := now.Add(-scaleWindow + time.Duration(i)*step + time.Duration(rng.Int64N(int64(step))))
		ended := created.Add(5*time.Second + time.Duration(rng.Int64N(int64(3*time.Minute))))
		if pick(90) == 1 { // a session that waits for a person
			ended = created.Add(10*time.Minute + time.Duration(rng.Int64N(int64(12*time.Hour))))
		}
		evs = append(evs, scaleEvent{at: created, lookup: int32(i), kind: kybflow.KindAccepted})
		switch pick(92, 2) {
		case 1: // refused before a session
			l.session, l.code = "", []kybflow.FailureCode{kybflow.CodeInvalidIdentifier, kybflow.CodeRejected}[pick(50)]
			ended = created.Add(100*time.Millisecond + time.Duration(rng.Int64N(int64(time.Second))))
		case 2:
			l.code = []kybflow.FailureCode{kybflow.CodeSessionFailed, kybflow.CodeUnavailable, kybflow.CodeExpired}[pick(50, 30)]
		default:
			l.completes = true
		}
		if l.session != "" {
			evs = append(evs, scaleEvent{at: created.Add(200*time.Millisecond + time.Duration(rng.Int64N(int64(2*time.Second)))), lookup: int32(i), kind: kybflow.KindSessionOpened})
		}
		switch {
		case ended.After(now):
			out.waiting++
		case l.completes:
			out.completed++
			evs = append(evs, scaleEvent{at: ended, lookup: int32(i), kind: kybflow.KindCompleted})
		default:
			out.failed++
			if country == kybflow.CountrySE {
				out.failedSE++
			}
			evs = append(evs, scaleEvent{at: ended, lookup: int32(i), kind: kybflow.KindFailed})
		}
		lookups[i] = l
	}
	slices.SortStableFunc(evs, func(x, y scaleEvent) int { return x.at.Compare(y.at) })
	out.events, out.correlation = len(evs), lookups[n/2].cmd.CorrelationID
	for start := 0; start < len(evs); start += scaleBatch {
		publishScaleBatch(b, js, subjects, lookups, evs[start:min(start+scaleBatch, len(evs))])
	}
	info, err := js.Stream(b.Context(), subjects.EventsStream())
	if err != nil {
		b.Fatal(err)
	}
	if st := info.CachedInfo().State; st.Msgs != uint64(len(evs)) {
		b.Fatalf("%s holds %d events, want %d", subjects.EventsStream(), st.Msgs, len(evs))
	} else {
		out.stream, out.streamMB = subjects.EventsStream(), float64(st.Bytes)/(1<<20)
	}
	return out
}

// publishScaleBatch publishes batch asynchronously and waits for every
// acknowledgement; one that fails is published again synchronously.
func publishScaleBatch(b *testing.B, js jetstream.JetStream, subjects kybflow.Subjects, lookups []scaleLookup, batch []scaleEvent) {
	b.Helper()
	msgs, ids := make([]*nats.Msg, len(batch)), make([]string, len(batch))
	futures := make([]jetstream.PubAckFuture, len(batch))
	for i, se := range batch {
		msg, id, err := lookups[se.lookup].message(subjects, se)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i], ids[i] = msg, id
		if futures[i], err = js.PublishMsgAsync(msg, jetstream.WithMsgID(id)); err != nil {
			b.Fatalf("publish %s: %v", msg.Subject, err)
		}
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case asyncErr := <-f.Err():
			if _, err := streams.Publish(b.Context(), js, msgs[i].Subject, msgs[i].Data, ids[i], msgs[i].Header); err != nil {
				b.Fatalf("publish %s: %v (asynchronously: %v)", msgs[i].Subject, err, asyncErr)
			}
		case <-time.After(time.Minute):
			b.Fatalf("publish %s: no acknowledgement within a minute", msgs[i].Subject)
		}
	}
}

// message is the event se as the worker publishes it (handler.publishEvent):
// its subject, body and headers, and its id for Nats-Msg-Id.
func (l *scaleLookup) message(subjects kybflow.Subjects, se scaleEvent) (*nats.Msg, string, error) {
	cmd := l.cmd
	var data any
	switch se.kind {
	case kybflow.KindAccepted:
		data = cmd.AcceptedData()
	case kybflow.KindSessionOpened:
		data = cmd.SessionOpenedData(l.session)
	case kybflow.KindFailed:
		d := cmd.FailedData(l.code, "the lookup failed: "+string(l.code))
		d.SessionID = l.session
		data = d
	default:
		data = l.completed()
	}
	ev, err := kybflow.NewEvent(kybflow.DefaultSource, se.kind, cmd.Key(), se.at, data)
	if err != nil {
		return nil, "", err
	}
	ev.TraceParent = "00-" + l.traceID + "-b7ad6b7169203331-01"
	body, err := kybflow.EncodeEvent(ev)
	if err != nil {
		return nil, "", err
	}
	msg := &nats.Msg{Subject: subjects.Event(cmd.Key(), se.kind), Data: body, Header: nats.Header{}}
	msg.Header.Set("Content-Type", kybflow.ContentTypeCloudEvents)
	msg.Header.Set("traceparent", ev.TraceParent)
	return msg, ev.ID, nil
}

// completed is the lookup's completed data: the JSON and its signed
// reports (an organization's two, but one when missing; a beneficial
// owners lookup's one), and a summary.
func (l *scaleLookup) completed() kybflow.CompletedData {
	key := l.cmd.Key()
	signed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	reports := l.cmd.Reports
	if l.missing {
		reports = reports[:1]
	}
	names := []string{kybflow.ArtifactJSON}
	for _, r := range reports {
		names = append(names, kybflow.ReportArtifactName(r))
	}
	var artifacts []kybflow.Artifact
	for i, name := range names {
		objectKey, _ := kybflow.ObjectKeys{}.Key(key, name) // valid: key and names are
		sha := sha256.Sum256([]byte(objectKey))
		a := kybflow.Artifact{Name: name, Bucket: "kyb-results", Key: objectKey, Size: int64(2_000 + 40_000*i + int(sha[0])*100),
			SHA256: hex.EncodeToString(sha[:]), ContentType: kybflow.ContentTypePDF}
		if name == kybflow.ArtifactJSON {
			a.ContentType = kybflow.ContentTypeJSON
		} else {
			a.Signature = &kybflow.ReportSignature{Status: kybflow.SignatureValid, Signer: "CN=BankID AML Reports", SignedAt: &signed}
		}
		artifacts = append(artifacts, a)
	}
	d := l.cmd.CompletedData(l.session, artifacts)
	count := func(v int) *int { return &v }
	if l.cmd.Type == kybflow.TypeBeneficialOwners {
		d.Summary = &kybflow.Summary{BeneficialOwners: &kybflow.BeneficialOwnersSummary{Owners: count(int(artifacts[0].SHA256[0]) % 4)}}
	} else {
		d.Summary = &kybflow.Summary{Organization: &kybflow.OrganizationSummary{Status: l.status, Sanction: l.sanction,
			Roles: count(5), SignatureRights: count(2), BeneficialOwners: count(1), Shareholders: count(3), Subsidiaries: count(0)},
			Empty: []string{"ownership.subsidiaries"}}
	}
	if l.missing {
		d.MissingReports = []kybflow.ReportType{kybflow.ReportCertificateOfIncorporation}
	}
	return d
}

// scaleConsole is a console App running until stop.
type scaleConsole struct {
	app    *App
	client *http.Client
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startScaleConsole starts a console on natsURL, as harness_test.go's
// pipeline.console does, and returns it with the time Start was called.
func startScaleConsole(b *testing.B, natsURL, dir string) (*scaleConsole, time.Time) {
	b.Helper()
	cfg := Config{NATS: natsconn.Settings{URL: natsURL}, Listen: "127.0.0.1:0", Log: logging.DefaultSettings(),
		Auth: auth.DefaultSettings(), Audit: audit.DefaultSettings()}
	cfg.Storage.Dir = dir
	start := time.Now()
	app, err := Start(b.Context(), cfg, slog.New(slog.NewTextHandler(benchLog{b}, &slog.HandlerOptions{Level: slog.LevelWarn})), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &scaleConsole{app: app, client: &http.Client{Transport: &http.Transport{}}, cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- app.Run(ctx) }()
	b.Cleanup(func() { c.stop(b) })
	return c, start
}

// stop stops the console, waits for Run to return and drops the app
// (its index is then garbage).
func (c *scaleConsole) stop(b *testing.B) {
	c.once.Do(func() {
		c.cancel()
		if err := <-c.done; err != nil {
			b.Errorf("console run: %v", err)
		}
		c.client.CloseIdleConnections()
		c.app = nil
	})
}

// waitReady polls the index every 10 ms (finer than testenv.Eventually:
// the wait is what is measured) until it is ready, and returns the time
// since start; it must then hold n lookups.
func (c *scaleConsole) waitReady(b *testing.B, start time.Time, n int) time.Duration {
	b.Helper()
	deadline := start.Add(15 * time.Minute)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for err := c.app.Index().Ready(b.Context()); err != nil; err = c.app.Index().Ready(b.Context()) {
		if time.Now().After(deadline) {
			b.Fatalf("index not ready within 15m: %v", err)
		}
		<-tick.C
	}
	took := time.Since(start)
	if got := c.app.Index().Len(); got != n {
		b.Errorf("index ready with %d lookups, want %d", got, n)
	}
	return took
}

// page requests path once and then scaleRepeats times, checks that it
// counts want lookups, and returns the first request's time and the
// median of the others.
func (c *scaleConsole) page(b *testing.B, path string, want int) (first, median time.Duration) {
	b.Helper()
	first, body := c.get(b, path)
	if !strings.Contains(body, fmt.Sprintf(`<p class="count">%d lookup`, want)) {
		b.Errorf("GET %s: does not count %d lookups", path, want)
	}
	var more []time.Duration
	for range scaleRepeats {
		d, _ := c.get(b, path)
		more = append(more, d)
	}
	slices.Sort(more)
	return first, more[len(more)/2]
}

// get requests path and reads the page, and returns the time that took.
func (c *scaleConsole) get(b *testing.B, path string) (time.Duration, string) {
	b.Helper()
	start := time.Now()
	resp, err := c.client.Get(c.app.URL() + path)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
	}
	return took, string(body)
}

// scaleMem is the process's memory after a GC, in MB (2^20 bytes).
type scaleMem struct{ heap, rss, hwm float64 }

func readScaleMem(b *testing.B) scaleMem {
	b.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := scaleMem{heap: float64(ms.HeapInuse) / (1 << 20)}
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Logf("no RSS: %v", err) // not Linux: the heap is still read
		return m
	}
	for line := range strings.Lines(string(raw)) {
		name, value, _ := strings.Cut(line, ":")
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		switch {
		case err != nil:
		case name == "VmRSS":
			m.rss = kb / 1024
		case name == "VmHWM":
			m.hwm = kb / 1024
		}
	}
	return m
}

// benchLog writes a logger's lines to the benchmark's log.
type benchLog struct{ tb testing.TB }

func (w benchLog) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
