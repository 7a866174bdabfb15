package lookups

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	js := testenv.JetStream(t)
	ctx := context.Background()
	topo := streams.Topology{Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour, DeadLetterMaxAge: time.Hour,
		LookupsMaxAge: 24 * time.Hour, AckWait: 15 * time.Second, WebhookMaxDeliver: 10}
	if _, err := streams.Ensure(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	// Ensure is idempotent: a second replica starting runs it again.
	res, err := streams.Ensure(ctx, js, topo)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	return NewStore(res.Lookups)
}

func TestStoreCompareAndSet(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	rec := New(kybflow.LookupCommand{LookupID: "l-1", Type: kybflow.TypeOrganization, Identifier: "923609016"}, time.Now(), Trace{})

	if _, _, err := s.Get(ctx, "l-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Create: %v, want ErrNotFound", err)
	}
	rev, err := s.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, rec); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	claim := Claim{Holder: "h-1", Seq: 7, Now: time.Now(), Lease: time.Minute}
	claimed, rev2, err := s.Apply(ctx, rec, rev, func(r *Record) error { return r.Claim(claim) })
	if err != nil || claimed.State != Opening || claimed.LeaseHolder != "h-1" || rev2 <= rev {
		t.Fatalf("Apply(Claim) = %+v at %d, %v", claimed, rev2, err)
	}
	if _, err := s.update(ctx, rec, rev); !errors.Is(err, ErrConflict) {
		t.Fatalf("a write at a stale revision: %v, want ErrConflict", err)
	}
	got, gotRev, err := s.Get(ctx, "l-1")
	if err != nil {
		t.Fatal(err)
	}
	if gotRev != rev2 || got.State != Opening || got.Version != Version {
		t.Fatalf("Get = %+v at %d, want opening, version %d, at %d", got, gotRev, Version, rev2)
	}
}

// TestApplyDecidesAgainOnAConflict: a transition applied to a stale read
// is applied again to the record as it is; one that the record no longer
// allows is refused with that record, and nothing is written.
func TestApplyDecidesAgainOnAConflict(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	rec := New(kybflow.LookupCommand{LookupID: "l-2"}, time.Now(), Trace{})
	rev, err := s.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	mark := func(r *Record) error { return r.MarkPublished(kybflow.KindAccepted) }
	if _, _, err := s.Apply(ctx, rec, rev, func(r *Record) error { return r.Claim(Claim{Holder: "other", Now: time.Now(), Lease: time.Minute}) }); err != nil {
		t.Fatal(err)
	}
	// rec at rev is stale now: the mark lands on the other's claim.
	got, _, err := s.Apply(ctx, rec, rev, mark)
	if err != nil || got.LeaseHolder != "other" || !got.HasPublished(kybflow.KindAccepted) {
		t.Fatalf("Apply on a stale read = %+v, %v; want the mark on the other's claim", got, err)
	}
	// Our claim on the stale read: refused, the other's lease runs.
	cur, curRev, err := s.Apply(ctx, rec, rev, func(r *Record) error { return r.Claim(Claim{Holder: "us", Now: time.Now(), Lease: time.Minute}) })
	if !errors.Is(err, ErrMoved) || cur.LeaseHolder != "other" {
		t.Fatalf("Claim while another's lease runs = %+v, %v; want ErrMoved and the other's claim", cur, err)
	}
	// Recorded already (a write that landed unheard): nothing written.
	opened, openedRev, err := s.Apply(ctx, cur, curRev, func(r *Record) error { return r.Open("other", "s-1", time.Now()) })
	if err != nil || opened.State != Opened {
		t.Fatal(opened, err)
	}
	again, againRev, err := s.Apply(ctx, cur, curRev, func(r *Record) error { return r.Open("other", "s-1", time.Now()) })
	if err != nil || againRev != openedRev || again.SessionID != "s-1" {
		t.Fatalf("Open again = %+v at %d, %v; want the record as it is, at %d", again, againRev, err, openedRev)
	}
}

// TestDecodeUpgradesOlderRecords: records of versions 0 and 1 lose the
// marks this version leaves to the events stream; a newer one is refused.
func TestDecodeUpgradesOlderRecords(t *testing.T) {
	for name, stored := range map[string]string{
		"version 1": `{"state":"completed","command":{"lookupId":"l-3","type":"organization","identifier":"923609016"},"sessionId":"s-3","published":["accepted","session_opened","completed"],"markedAtEnd":true}`,
		"version 0": `{"state":"completed","command":{"lookupId":"l-3","type":"organization","identifier":"923609016"},"sessionId":"s-3","published":["accepted","session_opened","check","completed"]}`,
	} {
		r, err := decode([]byte(stored))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Version != Version || r.State != Completed || r.SessionID != "s-3" ||
			!slices.Equal(r.Published, []string{"accepted", "session_opened"}) {
			t.Errorf("%s decoded as %+v", name, r)
		}
		b, _ := encode(r)
		if strings.Contains(string(b), "markedAtEnd") || !strings.Contains(string(b), `"version":2`) {
			t.Errorf("%s re-encoded as %s", name, b)
		}
	}
	if _, err := decode([]byte(`{"version":3,"state":"opened"}`)); !errors.Is(err, ErrNewer) {
		t.Errorf("a newer record: %v, want ErrNewer", err)
	}
	if _, err := decode([]byte(`{"state":`)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a broken record: %v, want ErrCorrupt", err)
	}
}

func TestRecordArtifactsAndLogging(t *testing.T) {
	r := Record{State: Opened, SessionID: "s-2", Command: kybflow.LookupCommand{LookupID: "l-2", CorrelationID: "customer-42", Metadata: json.RawMessage(`{"email":"kari@example.com"}`)}}
	for _, a := range []kybflow.Artifact{{Name: "json", Size: 1}, {Name: "report:aml", Size: 2}, {Name: "json", Size: 3}} {
		if err := r.Store(r.Phase(), []kybflow.Artifact{a}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.Artifacts) != 2 {
		t.Fatalf("artifacts %v", r.Artifacts)
	}
	if a, ok := r.Artifact("json"); !ok || a.Size != 3 {
		t.Fatalf("json artifact %v %v", a, ok)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "lookup", r)
	if strings.Contains(buf.String(), "kari") || strings.Contains(buf.String(), "customer-42") {
		t.Fatalf("record logged personal data: %s", buf.String())
	}
}

// TestStoreKeepsTheSummary: Store records a copy of the JSON's summary
// (a later Store without one keeps it), the record round-trips it at
// Version 2, and a record written before the summary existed decodes
// without one.
func TestStoreKeepsTheSummary(t *testing.T) {
	roles := 3
	sum := &kybflow.Summary{
		Organization: &kybflow.OrganizationSummary{Status: kybflow.StatusActive, Sanction: kybflow.SanctionNoHit, Roles: &roles},
		Empty:        []string{"ownership.subsidiaries"},
	}
	r := Record{State: Opened, SessionID: "s-4", Command: kybflow.LookupCommand{LookupID: "l-4"}}
	if err := r.Store(r.Phase(), []kybflow.Artifact{{Name: "json"}}, nil, sum); err != nil {
		t.Fatal(err)
	}
	roles, sum.Empty[0] = 9, "changed"
	if err := r.Store(r.Phase(), []kybflow.Artifact{{Name: "report:aml"}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if r.Summary == nil || *r.Summary.Organization.Roles != 3 || r.Summary.Empty[0] != "ownership.subsidiaries" {
		t.Fatalf("summary on the record %+v: want the one stored, unshared", r.Summary)
	}
	b, err := encode(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(b)
	if err != nil || got.Version != 2 || !reflect.DeepEqual(got.Summary, r.Summary) {
		t.Errorf("decoded %s as %+v, %v", b, got.Summary, err)
	}
	old, err := decode([]byte(`{"version":2,"state":"completed","command":{"lookupId":"l-5","type":"organization","identifier":"923609016"},"sessionId":"s-5"}`))
	if err != nil || old.Summary != nil {
		t.Errorf("a record without a summary: %+v, %v", old.Summary, err)
	}
	c := r.clone()
	*c.Summary.Organization.Roles = 7
	if *r.Summary.Organization.Roles != 3 {
		t.Error("clone shares the summary")
	}
}
