package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/erasure"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// eraseEnv is a deployment's NATS topology and result directory, without
// a worker: what each lookup left is made by hand, so that every case
// (webhooks and checks left, a lookup in flight, an erasure cut short) can
// be set up exactly.
type eraseEnv struct {
	t       *testing.T
	ctx     context.Context
	env     map[string]string
	js      jetstream.JetStream
	records *lookups.Store
	dir     *blob.Dir
	s       kybflow.Subjects
}

func newEraseEnv(t *testing.T) *eraseEnv {
	t.Helper()
	url := testenv.NATS(t)
	js := jetStreamOf(t, url)
	res, err := streams.Ensure(context.Background(), js, streams.Topology{Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour,
		DeadLetterMaxAge: time.Hour, LookupsMaxAge: 24 * time.Hour, AckWait: 15 * time.Second, WebhookMaxDeliver: 10})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	d, err := blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return &eraseEnv{t: t, ctx: t.Context(), env: map[string]string{"NATS_URL": url, "BLOB_DIR": root, "EVENT_SOURCE": "urn:test"},
		js: js, records: lookups.NewStore(res.Lookups), dir: d}
}

// put stores an object of the lookup under the key of artifact name, and
// returns its artifact.
func (e *eraseEnv) put(lookupID, name string) kybflow.Artifact {
	e.t.Helper()
	key, err := kybflow.ObjectKeys{}.Key(lookupID, name)
	if err != nil {
		e.t.Fatal(err)
	}
	body := "the results of " + lookupID + ", about Kari Nordmann"
	obj, err := e.dir.Put(e.ctx, key, strings.NewReader(body), int64(len(body)), blob.PutOptions{ContentType: kybflow.ArtifactContentType(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	return kybflow.Artifact{Name: name, Bucket: e.dir.Bucket(), Key: key, Size: obj.Size, SHA256: obj.SHA256, ContentType: obj.ContentType}
}

// record creates the lookup's record in state, with personal data in it.
func (e *eraseEnv) record(lookupID string, state lookups.State, artifacts ...kybflow.Artifact) {
	e.t.Helper()
	rec := lookups.Record{State: state, Artifacts: artifacts, SessionID: "s-" + lookupID,
		Command: kybflow.LookupCommand{LookupID: lookupID, Type: kybflow.TypeOrganization, Identifier: "923609016",
			CorrelationID: "case-" + lookupID, Metadata: json.RawMessage(`{"email":"kari@example.com"}`)}}
	if _, err := e.records.Create(e.ctx, rec); err != nil {
		e.t.Fatal(err)
	}
}

// publish publishes data to subject.
func (e *eraseEnv) publish(subject, data string) {
	e.t.Helper()
	if _, err := e.js.Publish(e.ctx, subject, []byte(data)); err != nil {
		e.t.Fatal(err)
	}
}

// count is the number of messages on subject in stream.
func (e *eraseEnv) count(stream, subject string) uint64 {
	e.t.Helper()
	s, err := e.js.Stream(e.ctx, stream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(e.ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		e.t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// files lists the files (sidecars included) left under the lookup's prefix.
func (e *eraseEnv) files(lookupID string) []string {
	e.t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(e.env["BLOB_DIR"], "lookups", lookupID), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, d.Name())
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// erasedEvent is the lookup's erased event, with its Nats-Msg-Id.
func (e *eraseEnv) erasedEvent(lookupID string) (kybflow.Event, string) {
	e.t.Helper()
	s, err := e.js.Stream(e.ctx, e.s.EventsStream())
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(e.ctx, e.s.Event(lookupID, kybflow.KindErased))
	if err != nil {
		e.t.Fatalf("no erased event of %s: %v", lookupID, err)
	}
	if strings.Contains(string(m.Data), "correlationId") {
		e.t.Errorf("erased event of %s carries a correlationId: %s", lookupID, m.Data)
	}
	ev, err := kybflow.DecodeEvent(m.Data)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev, m.Header.Get(nats.MsgIdHdr)
}

// tombstone checks that the lookup's record is a finished tombstone with
// no personal data, and returns it.
func (e *eraseEnv) tombstone(lookupID string) lookups.Record {
	e.t.Helper()
	rec, _, err := e.records.Get(e.ctx, lookupID)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	if !rec.ErasureDone() || rec.ErasedAt.IsZero() || strings.Contains(string(b), "kari") || strings.Contains(string(b), "case-") ||
		strings.Contains(string(b), "923609016") || strings.Contains(string(b), "s-"+lookupID) || len(rec.Artifacts) > 0 {
		e.t.Errorf("record of %s is not a tombstone with the lookupId and erasedAt only: %s", lookupID, b)
	}
	return rec
}

func TestErase(t *testing.T) {
	t.Parallel()
	e := newEraseEnv(t)
	ctx := e.ctx
	s := e.s

	// A completed lookup with a report the contract does not name (only
	// its record knows it), two events, a late webhook and a check left;
	// and another lookup, which must be left alone.
	e.record("e-done", lookups.Completed, e.put("e-done", "json"), e.put("e-done", "report:aml"), e.put("e-done", "report:annual_accounts"),
		kybflow.Artifact{Name: "json", Bucket: "elsewhere", Key: "lookups/e-done/json.json"})
	e.publish(s.DeadLetterCommands(), `{"lookupId":"e-done","metadata":{"email":"kari@example.com"}}`)
	for _, lookupID := range []string{"e-done", "e-keep"} {
		e.publish(s.Event(lookupID, kybflow.KindAccepted), "accepted, with metadata")
		e.publish(streams.NamesOf(s).Webhook(lookupID), `{"sessionId":"s","event":"AllDone"}`)
		e.publish(streams.NamesOf(s).Check(lookupID), `{"lookupId":"`+lookupID+`"}`)
	}
	e.publish(s.Event("e-done", kybflow.KindCompleted), "completed, with metadata")
	e.record("e-keep", lookups.Completed, e.put("e-keep", "json"))

	t.Run("a completed lookup", func(t *testing.T) {
		r := amlctl(ctx, e.env, "erase", "e-done")
		bucket := e.dir.Bucket()
		for _, want := range []string{"lookup e-done: erased at ", "(it was completed)",
			"  objects      3 objects deleted: " + bucket + "/lookups/e-done/json.json, " + bucket + "/lookups/e-done/report-aml.pdf, " + bucket + "/lookups/e-done/report-annual_accounts.pdf\n",
			"  refused      1 location its record names, not deleted (not under its prefix in this store; look at them by hand): " +
				`elsewhere/lookups/e-done/json.json (in bucket "elsewhere", not the store's "` + bucket + `")`,
			"  events       2 events deleted from AML_EVENTS", "  webhooks     1 webhook deleted from AML_WEBHOOKS", "  checks       1 check deleted from AML_CHECKS",
			"  dead letters 1 dead letter deleted from AML_DEADLETTER",
			"  record       replaced by a tombstone", "  event        erased published to aml.events.e-done.erased"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("no %q:\n%s", want, r)
			}
		}
		if r.code != 0 || strings.Contains(r.stdout, "case-") || strings.Contains(r.stdout, "kari") ||
			!strings.Contains(r.stderr, "lookup e-done: 1 location named in its record left in place") {
			t.Fatalf("want exit 0, a word on the refused location, and no personal data in the output:\n%s", r)
		}
		if files := e.files("e-done"); len(files) != 0 {
			t.Errorf("files left of e-done (sidecars included): %v", files)
		}
		rec := e.tombstone("e-done")
		ev, msgID := e.erasedEvent("e-done")
		d, ok := ev.Data.(kybflow.ErasedData)
		if !ok || d.LookupID != "e-done" || !d.ErasedAt.Equal(rec.ErasedAt) || !ev.Time.Equal(rec.ErasedAt) ||
			ev.Source != "urn:test" || msgID != "e-done.erased" {
			t.Errorf("erased event %+v (Nats-Msg-Id %s): want e-done's, with its erasedAt, from urn:test", ev, msgID)
		}
		if n := e.count(s.EventsStream(), s.EventsFor("e-done")); n != 1 {
			t.Errorf("%d events of e-done left, want the erased one", n)
		}
		// The other lookup is untouched.
		if len(e.files("e-keep")) != 2 || e.count(s.EventsStream(), s.EventsFor("e-keep")) != 1 ||
			e.count(streams.NamesOf(s).WebhooksStream(), streams.NamesOf(s).Webhook("e-keep")) != 1 || e.count(streams.NamesOf(s).ChecksStream(), streams.NamesOf(s).Check("e-keep")) != 1 {
			t.Errorf("e-keep was touched")
		}
	})

	t.Run("a second erase removes nothing and publishes nothing", func(t *testing.T) {
		r := amlctl(ctx, e.env, "erase", "e-done")
		if r.code != 0 || strings.Count(r.stdout, "\n") != 1 ||
			!strings.Contains(r.stdout, "erased already at ") || !strings.Contains(r.stdout, "nothing found to remove now, and no erased event published again") {
			t.Fatalf("want exit 0 and one line saying so:\n%s", r)
		}
		// A webhook that came late is removed by the next erase, still
		// without a second erased event.
		e.publish(streams.NamesOf(s).Webhook("e-done"), `{"sessionId":"s","event":"AllDone"}`)
		r = amlctl(ctx, e.env, "erase", "e-done")
		if r.code != 0 || !strings.Contains(r.stdout, "removed what appeared since") || !strings.Contains(r.stdout, "1 webhook deleted") ||
			strings.Contains(r.stdout, "  event ") {
			t.Fatalf("want the webhook removed, and no event:\n%s", r)
		}
		if n := e.count(s.EventsStream(), s.EventsFor("e-done")); n != 1 {
			t.Errorf("%d events of e-done, want the one erased event", n)
		}
	})

	t.Run("objects the record lost are found by their keys", func(t *testing.T) {
		e.put("e-lost", "json")
		e.record("e-lost", lookups.Failed)
		r := amlctl(ctx, e.env, "erase", "e-lost")
		if r.code != 0 || !strings.Contains(r.stdout, "1 object deleted: "+e.dir.Bucket()+"/lookups/e-lost/json.json") || len(e.files("e-lost")) != 0 {
			t.Fatalf("want the object at the key of json deleted:\n%s", r)
		}
		e.tombstone("e-lost")
	})

	t.Run("a lookup without a record", func(t *testing.T) {
		r := amlctl(ctx, e.env, "erase", "e-never")
		if r.code != 0 || !strings.Contains(r.stdout, "it had no record: never seen, or older than the worker's LOOKUP_RETENTION") ||
			!strings.Contains(r.stdout, "a tombstone (state erased, with the lookupId and erasedAt only) now keeps its lookupId") {
			t.Fatalf("want it erased, saying it had no record:\n%s", r)
		}
		e.tombstone("e-never")
		if ev, _ := e.erasedEvent("e-never"); ev.Data.(kybflow.ErasedData).LookupID != "e-never" {
			t.Errorf("erased event of a lookup without a record: %+v", ev.Data)
		}
	})

	t.Run("a lookup in flight needs --force", func(t *testing.T) {
		e.record("e-open", lookups.Opened)
		r := amlctl(ctx, e.env, "erase", "e-open")
		if r.code != 1 || !strings.Contains(r.stderr, "lookup e-open not erased: it is opened, not ended: a worker handling it would store results") ||
			!strings.Contains(r.stderr, "--force") || r.stdout != "" {
			t.Fatalf("want exit 1, refused, saying why:\n%s", r)
		}
		if rec, _, err := e.records.Get(ctx, "e-open"); err != nil || rec.State != lookups.Opened {
			t.Fatalf("a refused erase changed the record: %+v %v", rec, err)
		}
		if n := e.count(s.EventsStream(), s.EventsFor("e-open")); n != 0 {
			t.Fatalf("a refused erase published %d events", n)
		}
		r = amlctl(ctx, e.env, "erase", "--force", "e-open")
		if r.code != 0 || !strings.Contains(r.stdout, "with --force while opened: a worker still handling it may store or publish again") {
			t.Fatalf("--force: want it erased, with a warning:\n%s", r)
		}
		e.tombstone("e-open")
	})

	t.Run("an erasure cut short is finished by the next", func(t *testing.T) {
		// The first erasure wrote its first tombstone and published the
		// erased event, then died before the object was deleted.
		at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		rec := lookups.Record{State: lookups.Completed, Command: kybflow.LookupCommand{LookupID: "e-resume", CorrelationID: "case-e-resume"},
			Artifacts: []kybflow.Artifact{e.put("e-resume", "report:aml")}}
		if _, err := e.records.Create(ctx, lookups.Erasing(rec, "e-resume", at)); err != nil {
			t.Fatal(err)
		}
		first, err := erasure.ErasedEvent("urn:test", "e-resume", at)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := kybflow.EncodeEvent(first)
		if _, err := e.js.Publish(ctx, s.Event("e-resume", kybflow.KindErased), b, jetstream.WithMsgID(first.ID)); err != nil {
			t.Fatal(err)
		}
		r := amlctl(ctx, e.env, "erase", "e-resume")
		if r.code != 0 || !strings.Contains(r.stdout, "finished its erasure begun at 2026-03-02T10:00:00.000Z") ||
			!strings.Contains(r.stdout, "1 object deleted: "+e.dir.Bucket()+"/lookups/e-resume/report-aml.pdf") ||
			!strings.Contains(r.stdout, "erased was published already (the stream dropped this copy of e-resume.erased)") {
			t.Fatalf("want the object deleted and the event not sent twice:\n%s", r)
		}
		if n := e.count(s.EventsStream(), s.EventsFor("e-resume")); n != 1 {
			t.Errorf("%d erased events of e-resume, want 1", n)
		}
		if got := e.tombstone("e-resume"); !got.ErasedAt.Equal(at) {
			t.Errorf("erasedAt %s, want the first erasure's %s", got.ErasedAt, at)
		}
	})

	t.Run("several lookups, one refused", func(t *testing.T) {
		e.record("e-ok", lookups.Failed)
		e.record("e-busy", lookups.Accepted)
		r := amlctl(ctx, e.env, "erase", "e-ok", "e-busy", "e-ok")
		if r.code != 1 || !strings.Contains(r.stdout, "lookup e-ok: erased at ") || strings.Count(r.stdout, "lookup e-ok:") != 1 ||
			!strings.Contains(r.stderr, "lookup e-busy not erased: it is accepted") || !strings.Contains(r.stderr, "1 of 2 lookups not erased") {
			t.Fatalf("want e-ok erased once, e-busy refused, exit 1:\n%s", r)
		}
	})
}
