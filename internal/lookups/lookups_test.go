package lookups

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
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
	rec := Record{State: Accepted, Command: kybflow.LookupCommand{LookupID: "l-1", Type: kybflow.TypeOrganization, Identifier: "923609016"}}

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
	rec.State, rec.SessionID = Opened, "s-1"
	rev2, err := s.Update(ctx, rec, rev)
	if err != nil {
		t.Fatal(err)
	}
	rec.State = Completed
	if _, err := s.Update(ctx, rec, rev); !errors.Is(err, ErrConflict) {
		t.Fatalf("Update at a stale revision: %v, want ErrConflict", err)
	}
	got, gotRev, err := s.Get(ctx, "l-1")
	if err != nil {
		t.Fatal(err)
	}
	if gotRev != rev2 || got.State != Opened || got.SessionID != "s-1" {
		t.Fatalf("Get = %+v at %d, want opened s-1 at %d", got, gotRev, rev2)
	}
}

func TestRecordArtifactsAndLogging(t *testing.T) {
	r := Record{State: Opened, Command: kybflow.LookupCommand{LookupID: "l-2", CorrelationID: "customer-42", Metadata: json.RawMessage(`{"email":"kari@example.com"}`)}}
	r.AddArtifact(kybflow.Artifact{Name: "json", Size: 1})
	r.AddArtifact(kybflow.Artifact{Name: "report:aml", Size: 2})
	r.AddArtifact(kybflow.Artifact{Name: "json", Size: 3})
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
