package lookups

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/testenv"
)

func TestTombstonesHoldNoPersonalData(t *testing.T) {
	rec := Record{State: Completed, SessionID: "s-1",
		Command: kybflow.LookupCommand{LookupID: "l-9", Type: kybflow.TypeOrganization, Identifier: "923609016",
			CorrelationID: "customer-42", Metadata: json.RawMessage(`{"email":"kari@example.com"}`)},
		Artifacts: []kybflow.Artifact{{Name: "json", Bucket: "results", Key: "lookups/l-9/json.json"}},
		Failure:   &kybflow.FailedData{LookupID: "l-9", Reason: "about kari"},
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	erasing := Erasing(rec, "l-9", at)
	if erasing.State != Erased || erasing.ErasureDone() || erasing.Command.CorrelationID != "" ||
		len(erasing.Artifacts) != 1 || erasing.ErasedAt.Location() != time.UTC {
		t.Errorf("Erasing = %+v: want erased, not done, with the artifacts and no correlationId, in UTC", erasing)
	}
	erasing.Artifacts[0].Key = "changed"
	if rec.Artifacts[0].Key == "changed" {
		t.Error("Erasing shares the record's artifacts")
	}
	b, _ := json.Marshal(erasing)
	for _, personal := range []string{"kari", "923609016", "s-1", "customer-42"} {
		if strings.Contains(string(b), personal) {
			t.Errorf("the erasing tombstone holds %q: %s", personal, b)
		}
	}
	done := Tombstone("l-9", at)
	if !done.ErasureDone() || !done.ErasedAt.Equal(at) || done.State.Terminal() {
		t.Errorf("Tombstone = %+v: want done, erasedAt %s, not terminal", done, at)
	}
	b, _ = json.Marshal(done)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	if string(fields["command"]) != `{"lookupId":"l-9","type":"","identifier":""}` || len(fields) != 5 {
		t.Errorf("tombstone %s: want version, state, command with only the lookupId, erasedAt and published", b)
	}
}

// TestPurgeHistory purges the revisions before the latest, on a bucket
// whose history keeps them.
func TestPurgeHistory(t *testing.T) {
	js := testenv.JetStream(t)
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "HISTORY", History: 5})
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(kv)
	rec := New(kybflow.LookupCommand{LookupID: "l-1", CorrelationID: "customer-42"}, time.Now(), Trace{})
	rev, err := s.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Apply(ctx, rec, rev, func(r *Record) error { return r.BeginErasure(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, Record{State: Accepted, Command: kybflow.LookupCommand{LookupID: "l-2"}}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeHistory(ctx, js, "l-1")
	if err != nil || n != 1 {
		t.Fatalf("PurgeHistory = %d, %v; want 1 revision purged", n, err)
	}
	hist, err := kv.History(ctx, "l-1")
	if err != nil || len(hist) != 1 {
		t.Fatalf("history after the purge: %d entries, %v; want the tombstone only", len(hist), err)
	}
	if got, _, err := s.Get(ctx, "l-1"); err != nil || got.State != Erased || got.Command.CorrelationID != "" {
		t.Errorf("Get after the purge = %+v, %v; want the tombstone", got, err)
	}
	if n, err := s.PurgeHistory(ctx, js, "l-1"); err != nil || n != 0 {
		t.Errorf("second PurgeHistory = %d, %v; want 0", n, err)
	}
	if _, _, err := s.Get(ctx, "l-2"); err != nil {
		t.Errorf("another key was purged: %v", err)
	}
}
