package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// events is an events stream in a real NATS server, and an index reading
// it; events are published as the worker publishes them.
type events struct {
	t        *testing.T
	js       jetstream.JetStream
	subjects kybflow.Subjects
	ix       *Index
	t0       time.Time
}

func newEvents(t *testing.T) *events {
	t.Helper()
	js := testenv.JetStream(t)
	if _, err := streams.Ensure(t.Context(), js, streams.Topology{Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour,
		DeadLetterMaxAge: time.Hour, LookupsMaxAge: time.Hour, AckWait: 15 * time.Second, WebhookMaxDeliver: 10}); err != nil {
		t.Fatal(err)
	}
	subjects, _ := kybflow.NewSubjects("")
	return &events{t: t, js: js, subjects: subjects, ix: NewIndex(), t0: time.Now().UTC().Add(-time.Hour).Truncate(time.Second)}
}

// run starts the index reading the stream, until the test ends.
func (e *events) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ix.Run(ctx, e.js, e.subjects, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("index run: %v", err)
		}
	})
}

// publish publishes the event of kind for the lookup of cmd at t0+at.
func (e *events) publish(cmd kybflow.LookupCommand, kind kybflow.Kind, at time.Duration, data any) {
	e.t.Helper()
	key := kybflow.LookupKey(cmd.Tenant, cmd.LookupID)
	ev, err := kybflow.NewEvent("urn:test", kind, key, e.t0.Add(at), data)
	if err != nil {
		e.t.Fatal(err)
	}
	ev.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	b, err := kybflow.EncodeEvent(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := streams.Publish(e.t.Context(), e.js, e.subjects.Event(key, kind), b, ev.ID, nil); err != nil {
		e.t.Fatal(err)
	}
}

func command(id string, t kybflow.LookupType, c kybflow.Country, correlation string) kybflow.LookupCommand {
	ident := map[kybflow.Country]string{kybflow.CountryNO: "923609016", kybflow.CountrySE: "5560360793", kybflow.CountryFI: "2077474-0"}[c]
	return kybflow.LookupCommand{LookupID: id, Type: t, Country: c, IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: ident, CorrelationID: correlation}
}

var testSHA = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

func completed(cmd kybflow.LookupCommand) kybflow.CompletedData {
	signed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return cmd.CompletedData("sess-"+cmd.LookupID, []kybflow.Artifact{
		{Name: "json", Bucket: "results", Key: "aml/" + cmd.LookupID + "/result.json", Size: 3, SHA256: testSHA, ContentType: kybflow.ContentTypeJSON},
		{Name: "report:aml", Bucket: "results", Key: "aml/" + cmd.LookupID + "/aml.pdf", Size: 3, SHA256: testSHA, ContentType: kybflow.ContentTypePDF,
			Signature: &kybflow.ReportSignature{Status: kybflow.SignatureValid, Signer: "CN=BankID AML Reports", SignedAt: &signed}},
	})
}

// lifecycle publishes a lookup's events up to its end: waiting (accepted,
// session_opened), completed or failed.
func (e *events) lifecycle(cmd kybflow.LookupCommand, at time.Duration, end State) {
	e.t.Helper()
	e.publish(cmd, kybflow.KindAccepted, at, cmd.AcceptedData())
	e.publish(cmd, kybflow.KindSessionOpened, at+time.Second, cmd.SessionOpenedData("sess-"+cmd.LookupID))
	switch end {
	case StateCompleted:
		e.publish(cmd, kybflow.KindCompleted, at+3*time.Second, completed(cmd))
	case StateFailed:
		e.publish(cmd, kybflow.KindFailed, at+2*time.Second, cmd.FailedData(kybflow.CodeSessionFailed, "the session failed"))
	}
}

func (e *events) waitFor(n int) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, func() error {
		if got := e.ix.Len(); got != n {
			return fmt.Errorf("%d lookups indexed, want %d", got, n)
		}
		return e.ix.Ready(e.t.Context())
	})
}

func TestIndexKeepsALookupsStory(t *testing.T) {
	e := newEvents(t)
	e.run()
	cmd := command("onb-1", kybflow.TypeOrganization, kybflow.CountryNO, "crm-88")
	e.lifecycle(cmd, 0, StateCompleted)
	testenv.Eventually(t, 10*time.Second, func() error {
		if l, ok := e.ix.Lookup("onb-1"); !ok || l.State != StateCompleted {
			return fmt.Errorf("onb-1: %+v", l.Row)
		}
		return nil
	})
	l, _ := e.ix.Lookup("onb-1")
	if l.Type != "organization" || l.Country != "NO" || l.CorrelationID != "crm-88" || l.SessionID != "sess-onb-1" ||
		l.TraceID != "0af7651916cd43dd8448eb211c80319c" || !l.Created.Equal(e.t0) {
		t.Errorf("lookup: %+v", l)
	}
	var kinds []kybflow.Kind
	for _, ev := range l.Events {
		kinds = append(kinds, ev.Kind)
	}
	if fmt.Sprint(kinds) != "[accepted session_opened completed]" || l.Events[2].ID != "onb-1.completed" || !l.Events[2].At.Equal(e.t0.Add(3*time.Second)) {
		t.Errorf("timeline: %+v", l.Events)
	}
	a, ok := l.Artifact("report:aml")
	if !ok || a.SHA256 != testSHA || a.Size != 3 || a.ContentType != kybflow.ContentTypePDF || a.Signature == nil ||
		a.Signature.Status != kybflow.SignatureValid || a.Signature.Signer != "CN=BankID AML Reports" || a.Signature.SignedAt == nil {
		t.Errorf("artifact: %+v %+v", a, a.Signature)
	}

	// Erased: its documents and its correlation id are gone.
	if _, err := streams.Publish(t.Context(), e.js, e.subjects.Event("onb-1", kybflow.KindErased), mustEncode(t, "onb-1", kybflow.KindErased,
		kybflow.ErasedData{LookupID: "onb-1", ErasedAt: e.t0.Add(time.Hour)}), "onb-1.erased", nil); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if l, _ := e.ix.Lookup("onb-1"); l.State != StateErased || len(l.Artifacts) != 0 || l.CorrelationID != "" {
			return fmt.Errorf("after erasure: %+v", l)
		}
		return nil
	})
}

func mustEncode(t *testing.T, key string, kind kybflow.Kind, data any) []byte {
	t.Helper()
	ev, err := kybflow.NewEvent("urn:test", kind, key, time.Now(), data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := kybflow.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIndexQueries(t *testing.T) {
	e := newEvents(t)
	// Written before the index starts: it catches up from the start.
	for i := range 120 {
		typ, country, end := kybflow.TypeOrganization, kybflow.CountrySE, StateCompleted
		if i%3 == 1 {
			typ, country, end = kybflow.TypeBeneficialOwners, kybflow.CountryNO, StateFailed
		}
		if i%3 == 2 {
			country, end = kybflow.CountryFI, StateWaiting
		}
		e.lifecycle(command(fmt.Sprintf("q-%03d", i), typ, country, fmt.Sprintf("crm-%d", i%10)), time.Duration(i)*time.Minute, end)
	}
	e.publish(kybflow.LookupCommand{Tenant: "acme", LookupID: "q-tenant", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
		IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"}, kybflow.KindAccepted, 200*time.Minute,
		kybflow.LookupCommand{Tenant: "acme", LookupID: "q-tenant", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
			IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"}.AcceptedData())
	e.run()
	e.waitFor(121)

	keys := func(p Page) []string {
		var out []string
		for _, r := range p.Rows {
			out = append(out, r.Key)
		}
		return out
	}
	query := func(q Query) Page {
		t.Helper()
		p, err := e.ix.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name  string
		q     Query
		total int
		first string
	}{
		{"all, newest first", Query{}, 121, "acme.q-tenant"},
		{"completed", Query{State: StateCompleted}, 40, "q-117"},
		{"failed", Query{State: StateFailed}, 40, "q-118"},
		{"waiting", Query{State: StateWaiting}, 41, "acme.q-tenant"},
		{"beneficial owners", Query{Type: "beneficial_owners"}, 40, "q-118"},
		{"Finland", Query{Country: "FI"}, 40, "q-119"},
		{"organizations in Sweden", Query{Type: "organization", Country: "SE"}, 40, "q-117"},
		{"created in the last 10 minutes of the lookups", Query{Since: e.t0.Add(110 * time.Minute)}, 11, "acme.q-tenant"},
		{"lookupId exact", Query{Search: "q-042"}, 1, "q-042"},
		{"lookupId prefix", Query{Search: "q-04"}, 10, "q-049"},
		{"lookupId of a tenant's lookup", Query{Search: "q-ten"}, 1, "acme.q-tenant"},
		{"key of a tenant's lookup", Query{Search: "acme."}, 1, "acme.q-tenant"},
		{"correlationId", Query{Search: "crm-7"}, 12, "q-117"},
		{"search and filter", Query{Search: "crm-7", State: StateFailed}, 4, "q-097"},
		{"nothing", Query{Search: "nope"}, 0, ""},
	} {
		p := query(tt.q)
		first := ""
		if len(p.Rows) > 0 {
			first = p.Rows[0].Key
		}
		if p.Total != tt.total || first != tt.first {
			t.Errorf("%s: %d lookups, first %q; want %d, %q", tt.name, p.Total, first, tt.total, tt.first)
		}
	}

	// Pages of 50, each continuing where the one before ended.
	var all []string
	q := Query{}
	for pages := 0; ; pages++ {
		p := query(q)
		if pages < 2 && len(p.Rows) != PageSize || p.Total != 121 {
			t.Fatalf("page %d: %d rows of %d", pages, len(p.Rows), p.Total)
		}
		all = append(all, keys(p)...)
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	if len(all) != 121 || all[1] != "q-119" || all[120] != "q-000" {
		t.Errorf("paged through %d lookups: %v", len(all), all)
	}
	if _, err := e.ix.Query(Query{After: "x"}); err == nil {
		t.Error("a bad cursor was taken")
	}
}

func TestIndexSubscription(t *testing.T) {
	e := newEvents(t)
	e.run()
	e.waitFor(0)
	sub := e.ix.Subscribe()
	defer sub.Close()
	cmd := command("live-1", kybflow.TypeOrganization, kybflow.CountrySE, "")
	e.lifecycle(cmd, 0, StateCompleted)
	var got []string
	for len(got) < 3 {
		select {
		case u := <-sub.C():
			got = append(got, fmt.Sprintf("%s %s %s %v", u.Key, u.Kind, u.State, u.New))
		case <-time.After(10 * time.Second):
			t.Fatalf("updates so far: %v", got)
		}
	}
	want := "[live-1 accepted waiting true live-1 session_opened waiting false live-1 completed completed false]"
	if fmt.Sprint(got) != want {
		t.Errorf("updates %v, want %s", got, want)
	}

	// A subscriber that does not read lags, and is ended; the others are
	// not held up.
	slow := e.ix.Subscribe()
	for i := range SubscriptionBuffer + 1 {
		e.ix.Apply(0, kybflow.Event{})                // ignored: not a lookup's event
		e.ix.publish(Update{Key: fmt.Sprint("k", i)}) // what Apply sends
	}
	testenv.Eventually(t, time.Second, func() error {
		if !slow.Lagged() {
			return fmt.Errorf("not lagged")
		}
		return nil
	})
	n := 0
	for range slow.C() {
		n++
	}
	if n != SubscriptionBuffer {
		t.Errorf("the lagging subscriber got %d updates, want its buffer's %d", n, SubscriptionBuffer)
	}
	slow.Close() // again: harmless
}
