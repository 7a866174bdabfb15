package erasure_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/erasure"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// env is a deployment without a worker: an embedded NATS server with the
// topology, and a bucket with versioning in a real MinIO. What a lookup
// left is made by hand, so that every case can be set up exactly.
type env struct {
	t       *testing.T
	ctx     context.Context
	js      jetstream.JetStream
	s       kybflow.Subjects
	records *lookups.Store
	store   *blob.S3
	raw     *minio.Client
	bucket  string
}

func newEnv(t *testing.T, srv testenv.MinIOServer) *env {
	t.Helper()
	ctx := t.Context()
	js := testenv.JetStream(t)
	res, err := streams.Ensure(ctx, js, streams.Topology{Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour,
		DeadLetterMaxAge: time.Hour, LookupsMaxAge: 24 * time.Hour, AckWait: 15 * time.Second, WebhookMaxDeliver: 10})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, js: js, records: lookups.NewStore(res.Lookups), bucket: testenv.BucketName(t)}
	if e.store, err = blob.NewS3(ctx, blob.S3Config{Endpoint: srv.Endpoint, Bucket: e.bucket, AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, Region: srv.Region, CreateBucket: true}); err != nil {
		t.Fatal(err)
	}
	if e.raw, err = minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region}); err != nil {
		t.Fatal(err)
	}
	if err := e.raw.EnableVersioning(ctx, e.bucket); err != nil {
		t.Fatal(err)
	}
	return e
}

// eraser is an Eraser of the deployment, from source urn:test.
func (e *env) eraser(force bool) *erasure.Eraser {
	e.t.Helper()
	er, err := erasure.New(e.ctx, e.js, e.store, erasure.Options{Source: "urn:test", Force: force})
	if err != nil {
		e.t.Fatal(err)
	}
	return er
}

// put stores an object under key in the bucket, and returns its artifact.
func (e *env) put(key string) kybflow.Artifact {
	e.t.Helper()
	body := "the results of " + key + ", about Kari Nordmann"
	obj, err := e.store.Put(e.ctx, key, strings.NewReader(body), int64(len(body)), blob.PutOptions{ContentType: "application/pdf"})
	if err != nil {
		e.t.Fatal(err)
	}
	return kybflow.Artifact{Name: kybflow.ArtifactJSON, Bucket: obj.Bucket, Key: obj.Key, Size: obj.Size, SHA256: obj.SHA256, ContentType: obj.ContentType}
}

// upload begins a multipart upload at key, with one part, never completed.
func (e *env) upload(key string) {
	e.t.Helper()
	core := minio.Core{Client: e.raw}
	id, err := core.NewMultipartUpload(e.ctx, e.bucket, key, minio.PutObjectOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := core.PutObjectPart(e.ctx, e.bucket, key, id, 1, strings.NewReader("part of a report"), 16, minio.PutObjectPartOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// left lists what the bucket keeps under prefix: every version and delete
// marker, and every incomplete upload.
func (e *env) left(prefix string) []string {
	e.t.Helper()
	var out []string
	for v := range e.raw.ListObjects(e.ctx, e.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if v.Err != nil {
			e.t.Fatal(v.Err)
		}
		out = append(out, v.Key+"@"+v.VersionID)
	}
	for u := range e.raw.ListIncompleteUploads(e.ctx, e.bucket, "", true) {
		if u.Err != nil {
			e.t.Fatal(u.Err)
		}
		if strings.HasPrefix(u.Key, prefix) {
			out = append(out, u.Key+" (upload)")
		}
	}
	return out
}

// record creates the lookup's record in state, with personal data in it.
func (e *env) record(key string, state lookups.State, artifacts ...kybflow.Artifact) {
	e.t.Helper()
	tenant, lookupID, _ := kybflow.SplitLookupKey(key)
	rec := lookups.Record{State: state, Artifacts: artifacts, SessionID: "s-" + lookupID,
		Command: kybflow.LookupCommand{LookupID: lookupID, Tenant: tenant, Type: kybflow.TypeOrganization, Identifier: "923609016",
			CorrelationID: "case-" + lookupID, Metadata: json.RawMessage(`{"email":"kari@example.com"}`)}}
	if _, err := e.records.Create(e.ctx, rec); err != nil {
		e.t.Fatal(err)
	}
}

// publish publishes data to subject.
func (e *env) publish(subject, data string) {
	e.t.Helper()
	if _, err := e.js.Publish(e.ctx, subject, []byte(data)); err != nil {
		e.t.Fatal(err)
	}
}

// deadLetter publishes body as the dead letter of a command published on
// subject, as the worker does, and returns its sequence.
func (e *env) deadLetter(subject, body string) uint64 {
	e.t.Helper()
	msg := nats.NewMsg(e.s.DeadLetterCommands())
	msg.Data = []byte(body)
	msg.Header.Set(kybflow.HeaderDeadLetterReason, "invalid_command: published on the wrong subject")
	msg.Header.Set(kybflow.HeaderDeadLetterSubject, subject)
	ack, err := e.js.PublishMsg(e.ctx, msg)
	if err != nil {
		e.t.Fatal(err)
	}
	return ack.Sequence
}

// count is the number of messages on subject in stream.
func (e *env) count(stream, subject string) uint64 {
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

// erasedEvent is the lookup's erased event as stored: the message, and
// its data as JSON fields.
func (e *env) erasedEvent(key string) (*jetstream.RawStreamMsg, map[string]any) {
	e.t.Helper()
	s, err := e.js.Stream(e.ctx, e.s.EventsStream())
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(e.ctx, e.s.Event(key, kybflow.KindErased))
	if err != nil {
		e.t.Fatalf("no erased event of %s: %v", key, err)
	}
	var ev struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		e.t.Fatal(err)
	}
	return m, ev.Data
}

// tombstone checks that the lookup's record is a finished tombstone with
// no personal data, and returns it.
func (e *env) tombstone(key string) lookups.Record {
	e.t.Helper()
	rec, _, err := e.records.Get(e.ctx, key)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	for _, personal := range []string{"kari", "case-", "923609016", `"s-`} {
		if strings.Contains(string(b), personal) {
			e.t.Errorf("record of %s holds %s: %s", key, personal, b)
		}
	}
	if !rec.ErasureDone() || rec.ErasedAt.IsZero() || len(rec.Artifacts) > 0 {
		e.t.Errorf("record of %s is not a finished tombstone: %s", key, b)
	}
	return rec
}
