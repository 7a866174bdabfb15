package erasure_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/erasure"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestErase erases a completed lookup from a bucket with versioning: its
// prefix, listed (a report type the record does not name included), with
// every version, delete marker and incomplete upload; its events,
// webhook, check and dead letter; not the locations its record names
// elsewhere, nor anything of its neighbours.
func TestErase(t *testing.T) {
	t.Parallel()
	srv := testenv.MinIO(t)
	e := newEnv(t, srv)
	s, names := e.s, streams.NamesOf(e.s)

	// Another bucket with the lookup's key, and objects beside its prefix.
	other := testenv.BucketName(t)
	if err := e.raw.MakeBucket(e.ctx, other, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	otherStore, err := blob.NewS3(e.ctx, blob.S3Config{Endpoint: srv.Endpoint, Bucket: other, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := otherStore.Put(e.ctx, "lookups/e-1/json.json", strings.NewReader("x"), 1, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	neighbours := []kybflow.Artifact{e.put("lookups/e-2/json.json"), e.put("lookups/e-10/json.json"), e.put("shared/report.pdf")}

	// The lookup: an object overwritten (two versions), one deleted (a
	// delete marker over its version), a report type kybflow does not know
	// (only the listing finds it), an upload never completed.
	own := []kybflow.Artifact{e.put("lookups/e-1/json.json"), e.put("lookups/e-1/report-aml.pdf")}
	e.put("lookups/e-1/json.json")
	e.put("lookups/e-1/report-annual_accounts.pdf")
	e.put("lookups/e-1/report-old.pdf")
	if err := e.store.Delete(e.ctx, "lookups/e-1/report-old.pdf"); err != nil {
		t.Fatal(err)
	}
	e.upload("lookups/e-1/report-certificate_of_incorporation.pdf")
	// Its record also names locations that are not its own to delete.
	foreign := []kybflow.Artifact{{Bucket: other, Key: "lookups/e-1/json.json"}, neighbours[0], neighbours[2],
		{Bucket: e.bucket, Key: "lookups/e-1/../e-10/json.json"}}
	e.record("e-1", lookups.Completed, append(own, foreign...)...)
	e.record("e-2", lookups.Completed, neighbours[0])
	for _, key := range []string{"e-1", "e-2"} {
		e.publish(s.Event(key, kybflow.KindAccepted), "accepted, with metadata")
		e.publish(names.Webhook(key), `{"sessionId":"s","event":"AllDone"}`)
		e.publish(names.Check(key), `{"lookupId":"`+key+`"}`)
	}
	e.publish(s.Event("e-1", kybflow.KindCompleted), "completed, with metadata")
	dead := e.deadLetter("aml.commands.wrong", `{"lookupId":"e-1","correlationId":"case-e-1"}`)
	e.deadLetter("aml.commands.wrong", `{"lookupId":"e-2"}`)

	er := e.eraser(false)
	r, err := er.Erase(e.ctx, "e-1")
	if err != nil {
		t.Fatalf("Erase: %v (%+v)", err, r)
	}
	wantObjects := []string{"lookups/e-1/json.json", "lookups/e-1/report-aml.pdf", "lookups/e-1/report-annual_accounts.pdf"}
	if r.State != lookups.Completed || r.Already || r.Resumed || !slices.Equal(r.Objects.Objects, wantObjects) || r.Objects.Versions != 3 ||
		r.Objects.Uploads != 1 || r.Events != 2 || r.Webhooks != 1 || r.Checks != 1 || !slices.Equal(r.DeadLetters, []uint64{dead}) ||
		!r.Published || r.Duplicate || r.ErasedAt.IsZero() {
		t.Errorf("Erase = %+v", r)
	}
	if left := e.left("lookups/e-1/"); len(left) != 0 {
		t.Errorf("left under the lookup's prefix: %q", left)
	}

	// Refused, with the reason, and left as they were.
	if len(r.Refused) != len(foreign) {
		t.Fatalf("refused %+v, want the %d foreign locations", r.Refused, len(foreign))
	}
	for i, why := range []string{"in bucket \"" + other + "\", not the store's", "outside the lookup's prefix lookups/e-1/",
		"outside the lookup's prefix", "outside the lookup's prefix"} {
		if f := r.Refused[i]; f.Bucket != foreign[i].Bucket || f.Key != foreign[i].Key || !strings.Contains(f.Reason, why) {
			t.Errorf("refusal %d = %+v, want %s/%s: %s", i, f, foreign[i].Bucket, foreign[i].Key, why)
		}
	}
	if _, err := otherStore.Stat(e.ctx, "lookups/e-1/json.json"); err != nil {
		t.Errorf("the object in the other bucket: %v", err)
	}
	for _, a := range neighbours {
		if _, err := e.store.Stat(e.ctx, a.Key); err != nil {
			t.Errorf("neighbour %s: %v", a.Key, err)
		}
	}

	// The event: the lookupId and erasedAt, no correlationId.
	m, data := e.erasedEvent("e-1")
	rec := e.tombstone("e-1")
	if _, has := data["correlationId"]; has || data["lookupId"] != "e-1" || data["erasedAt"] != rec.ErasedAt.Format(time.RFC3339Nano) ||
		m.Header.Get(nats.MsgIdHdr) != "e-1.erased" || strings.Contains(string(m.Data), "case-") {
		t.Errorf("erased event %s (Nats-Msg-Id %s): want e-1's with erasedAt %s and no correlationId", m.Data, m.Header.Get(nats.MsgIdHdr), rec.ErasedAt)
	}
	if n := e.count(s.EventsStream(), s.EventsFor("e-1")); n != 1 {
		t.Errorf("%d events of e-1 left, want the erased one", n)
	}
	// The neighbour is untouched.
	if e.count(s.EventsStream(), s.EventsFor("e-2")) != 1 || e.count(names.WebhooksStream(), names.Webhook("e-2")) != 1 ||
		e.count(names.ChecksStream(), names.Check("e-2")) != 1 || e.count(s.DeadLetterStream(), s.DeadLetterCommands()) != 1 {
		t.Errorf("e-2's messages were touched")
	}

	// Again: nothing to remove, nothing published; a late webhook goes.
	r, err = er.Erase(e.ctx, "e-1")
	if err != nil || !r.Already || r.Removed() || r.Published || len(r.Refused) != 0 {
		t.Errorf("second Erase = %+v, %v; want erased already, nothing removed", r, err)
	}
	e.publish(names.Webhook("e-1"), `{"sessionId":"s","event":"AllDone"}`)
	if r, err = er.Erase(e.ctx, "e-1"); err != nil || !r.Already || r.Webhooks != 1 || r.Published {
		t.Errorf("Erase after a late webhook = %+v, %v", r, err)
	}
}

// TestEraseWithoutRecord erases a lookup whose record expired: its prefix
// is listed all the same, a report type kybflow does not know included,
// and its dead letters of its tenant go.
func TestEraseWithoutRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.MinIO(t))
	e.put("lookups/acme.e-3/json.json")
	e.put("lookups/acme.e-3/report-annual_accounts.pdf")
	e.upload("lookups/acme.e-3/report-brand_new.pdf")
	mine := e.deadLetter("aml.commands.lookup.acme", `{"lookupId":"e-3","type":"nope"}`)
	theirs := e.deadLetter("aml.commands.lookup.other", `{"lookupId":"e-3","type":"nope"}`)

	r, err := e.eraser(false).Erase(e.ctx, "acme.e-3")
	if err != nil || r.State != "" || !slices.Equal(r.Objects.Objects, []string{"lookups/acme.e-3/json.json", "lookups/acme.e-3/report-annual_accounts.pdf"}) ||
		r.Objects.Uploads != 1 || !slices.Equal(r.DeadLetters, []uint64{mine}) || !r.Published {
		t.Fatalf("Erase = %+v, %v", r, err)
	}
	if left := e.left("lookups/acme.e-3/"); len(left) != 0 {
		t.Errorf("left: %q", left)
	}
	e.tombstone("acme.e-3")
	if _, data := e.erasedEvent("acme.e-3"); data["tenant"] != "acme" || data["lookupId"] != "e-3" {
		t.Errorf("erased event data %v", data)
	}
	if s, _ := e.js.Stream(e.ctx, e.s.DeadLetterStream()); s != nil {
		if _, err := s.GetMsg(e.ctx, theirs); err != nil {
			t.Errorf("the other tenant's dead letter: %v", err)
		}
	}
}

// TestEraseNotEnded refuses a lookup in flight, and erases it with Force.
func TestEraseNotEnded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.MinIO(t))
	e.record("e-4", lookups.Opened, e.put("lookups/e-4/json.json"))
	r, err := e.eraser(false).Erase(e.ctx, "e-4")
	if !errors.Is(err, erasure.ErrNotEnded) || r.Tombstoned || !strings.Contains(err.Error(), "it is opened") {
		t.Fatalf("Erase of an opened lookup = %+v, %v; want ErrNotEnded", r, err)
	}
	if rec, _, err := e.records.Get(e.ctx, "e-4"); err != nil || rec.State != lookups.Opened {
		t.Fatalf("a refused erasure changed the record: %+v %v", rec, err)
	}
	if _, err := e.store.Stat(e.ctx, "lookups/e-4/json.json"); err != nil {
		t.Fatalf("a refused erasure deleted an object: %v", err)
	}
	if r, err := e.eraser(true).Erase(e.ctx, "e-4"); err != nil || r.State != lookups.Opened || len(r.Objects.Objects) != 1 {
		t.Fatalf("Erase with Force = %+v, %v", r, err)
	}
	e.tombstone("e-4")
	if _, err := e.eraser(false).Erase(e.ctx, "not a key"); !errors.Is(err, erasure.ErrInvalidKey) {
		t.Errorf("Erase of an invalid key: %v, want ErrInvalidKey", err)
	}
}

// TestEraseResumed finishes an erasure cut short after its first
// tombstone and its event (written by a version that kept the
// correlationId): same erasedAt, the event not sent twice.
func TestEraseResumed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.MinIO(t))
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	rec := lookups.Record{State: lookups.Erased, Command: kybflow.LookupCommand{LookupID: "e-5", CorrelationID: "case-e-5"},
		Artifacts: []kybflow.Artifact{e.put("lookups/e-5/report-aml.pdf")}, ErasedAt: at}
	if _, err := e.records.Create(e.ctx, rec); err != nil {
		t.Fatal(err)
	}
	first, err := erasure.ErasedEvent("urn:test", "e-5", at)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := kybflow.EncodeEvent(first)
	if _, err := e.js.Publish(e.ctx, e.s.Event("e-5", kybflow.KindErased), b, jetstream.WithMsgID(first.ID)); err != nil {
		t.Fatal(err)
	}
	r, err := e.eraser(false).Erase(e.ctx, "e-5")
	if err != nil || !r.Resumed || !r.ErasedAt.Equal(at) || !slices.Equal(r.Objects.Objects, []string{"lookups/e-5/report-aml.pdf"}) ||
		!r.Published || !r.Duplicate {
		t.Fatalf("Erase = %+v, %v; want resumed at %s, the object deleted, the event a duplicate", r, err, at)
	}
	if n := e.count(e.s.EventsStream(), e.s.EventsFor("e-5")); n != 1 {
		t.Errorf("%d erased events of e-5, want 1", n)
	}
	if got := e.tombstone("e-5"); !got.ErasedAt.Equal(at) {
		t.Errorf("erasedAt %s, want the first erasure's %s", got.ErasedAt, at)
	}
}

// failing is the test's store, whose ErasePrefix fails while fail is set:
// an erasure cut short by the storage.
type failing struct {
	*blob.S3
	fail bool
}

func (f *failing) ErasePrefix(ctx context.Context, prefix string, keys []string) (blob.Erased, error) {
	if f.fail {
		return blob.Erased{}, errors.New("storage unreachable")
	}
	return f.S3.ErasePrefix(ctx, prefix, keys)
}

// TestEraseCutShort: an erasure the storage cuts short leaves the first
// tombstone, which holds the artifacts' locations and nothing personal,
// and publishes nothing; the next erasure finishes it, with the same
// erasedAt.
func TestEraseCutShort(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.MinIO(t))
	e.record("e-6", lookups.Completed, e.put("lookups/e-6/json.json"))
	store := &failing{S3: e.store, fail: true}
	er, err := erasure.New(e.ctx, e.js, store, erasure.Options{Source: "urn:test"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := er.Erase(e.ctx, "e-6")
	if err == nil || !r.Tombstoned || r.Published || !strings.Contains(err.Error(), "delete its objects: storage unreachable") {
		t.Fatalf("Erase with the storage down = %+v, %v; want begun, cut short at the objects", r, err)
	}
	rec, _, err := e.records.Get(e.ctx, "e-6")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	if rec.State != lookups.Erased || rec.ErasureDone() || len(rec.Artifacts) != 1 ||
		strings.Contains(string(b), "case-") || strings.Contains(string(b), "kari") || strings.Contains(string(b), "923609016") {
		t.Errorf("the first tombstone: %s; want the artifacts' locations and nothing personal", b)
	}
	if n := e.count(e.s.EventsStream(), e.s.EventsFor("e-6")); n != 0 {
		t.Errorf("%d events published by an erasure cut short", n)
	}

	store.fail = false
	again, err := er.Erase(e.ctx, "e-6")
	if err != nil || !again.Resumed || !again.ErasedAt.Equal(r.ErasedAt) || len(again.Objects.Objects) != 1 || !again.Published || again.Duplicate {
		t.Fatalf("Erase again = %+v, %v; want it finished, at the first erasedAt", again, err)
	}
	e.tombstone("e-6")
}
