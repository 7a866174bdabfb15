package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// clientEnv is a real NATS server with the worker's streams, a client, and
// a way to publish events as the worker does.
type clientEnv struct {
	t      *testing.T
	nc     *nats.Conn
	js     jetstream.JetStream
	client *client.Client
}

// newClientEnv starts NATS with the worker's topology (changed by
// topology, when given) and a client on it.
func newClientEnv(t *testing.T, topology ...func(*streams.Topology)) *clientEnv {
	t.Helper()
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	subjects, _ := kybflow.NewSubjects(kybflow.DefaultPrefix)
	topo := streams.Topology{
		Subjects: subjects, Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour, DeadLetterMaxAge: time.Hour,
		LookupsMaxAge: 24 * time.Hour, AckWait: 15 * time.Second, WebhookMaxDeliver: 10,
	}
	for _, f := range topology {
		f(&topo)
	}
	if _, err := streams.Ensure(context.Background(), js, topo); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &clientEnv{t: t, nc: nc, js: js, client: c}
}

// event publishes an event of cmd's lookup as the worker would.
func (e *clientEnv) event(kind kybflow.Kind, data any) {
	e.t.Helper()
	var id string
	switch d := data.(type) {
	case kybflow.AcceptedData:
		id = kybflow.LookupKey(d.Tenant, d.LookupID)
	case kybflow.CompletedData:
		id = kybflow.LookupKey(d.Tenant, d.LookupID)
	case kybflow.FailedData:
		id = kybflow.LookupKey(d.Tenant, d.LookupID)
	}
	ev, err := kybflow.NewEvent("urn:test", kind, id, time.Now(), data)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := kybflow.EncodeEvent(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	subjects := e.client.Subjects()
	if _, err := e.js.Publish(context.Background(), subjects.Event(id, kind), b, jetstream.WithMsgID(ev.ID)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *clientEnv) commands() uint64 {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), "AML_COMMANDS")
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

var orgCmd = kybflow.LookupCommand{LookupID: "c-1", Type: kybflow.TypeOrganization, Country: kybflow.CountrySE, IdentifierType: kybflow.IdentifierOrganizationNumber,
	Identifier: "5560360793", Reports: []kybflow.ReportType{kybflow.ReportAML}}

func TestSubmitStoresOnceAndRefusesMalformedCommands(t *testing.T) {
	e := newClientEnv(t)
	ctx := context.Background()
	if err := e.client.Submit(ctx, orgCmd); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Submit(ctx, orgCmd); err != nil {
		t.Fatalf("the same command again: %v", err)
	}
	if n := e.commands(); n != 1 {
		t.Fatalf("%d commands stored, want 1", n)
	}
	var ce *kybflow.CommandError
	bad := kybflow.LookupCommand{LookupID: "c-2", Identifier: "5560360793"} // no type
	if err := e.client.Submit(ctx, bad); !errors.As(err, &ce) || ce.Code != kybflow.CodeInvalidCommand || ce.Field != "type" {
		t.Fatalf("a command without type: %v, want an invalid_command CommandError naming type", err)
	}
	// A bad check digit is the input's fault: published, for the worker to
	// fail with its invalid_identifier event.
	digit := kybflow.LookupCommand{LookupID: "c-3", Type: kybflow.TypeOrganization, Identifier: "923609017"}
	if err := e.client.Submit(ctx, digit); err != nil {
		t.Fatalf("a bad check digit: %v, want it published", err)
	}
	if n := e.commands(); n != 2 {
		t.Fatalf("%d commands stored, want 2", n)
	}
}

func TestSubmitReportsAConflictingReuseOfALookupID(t *testing.T) {
	e := newClientEnv(t)
	ctx := context.Background()
	norm, err := kybflow.ParseCommand(mustEncode(t, orgCmd))
	if err != nil {
		t.Fatal(err)
	}
	e.event(kybflow.KindAccepted, norm.AcceptedData()) // a worker took the first command in
	if err := e.client.Submit(ctx, orgCmd); err != nil {
		t.Fatalf("the accepted command again: %v", err)
	}
	other := orgCmd
	other.Reports = nil
	err = e.client.Submit(ctx, other)
	if !errors.Is(err, client.ErrLookupIDConflict) {
		t.Fatalf("other content under the lookupId: %v, want ErrLookupIDConflict", err)
	}
	if n := e.commands(); n != 0 {
		t.Errorf("%d commands stored; an accepted lookup's resubmission publishes nothing", n)
	}
}

func TestWaitReturnsTheEnding(t *testing.T) {
	e := newClientEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := kybflow.CompletedData{LookupID: "w-1", SessionID: "s-1", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
		IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016",
		Artifacts: []kybflow.Artifact{{Name: "json", Bucket: "b", Key: "lookups/w-1/json.json", Size: 2,
			SHA256: "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", ContentType: "application/json"}}}
	e.event(kybflow.KindCompleted, done) // ended before Wait
	res, err := e.client.Wait(ctx, "w-1")
	if err != nil || res.Completed == nil || res.Failed != nil || len(res.Completed.Artifacts) != 1 {
		t.Fatalf("Wait = %+v, %v", res, err)
	}

	got := make(chan client.Result, 1)
	go func() { // ends after Wait began
		r, err := e.client.Wait(ctx, "w-2")
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	e.event(kybflow.KindFailed, kybflow.FailedData{LookupID: "w-2", Code: kybflow.CodeInvalidIdentifier, Reason: "bad check digit"})
	if r := <-got; r.Failed == nil || r.Failed.Code != kybflow.CodeInvalidIdentifier {
		t.Fatalf("Wait = %+v", r)
	}

	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := e.client.Wait(short, "w-never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait for a lookup that never ends: %v, want the context's error", err)
	}
}

// A durable follower gets an event again when its handler fails, and
// keeps its position across calls.
func TestEventsDurableRedeliversWhatFailed(t *testing.T) {
	e := newClientEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.event(kybflow.KindFailed, kybflow.FailedData{LookupID: "d-1", Code: kybflow.CodeExpired, Reason: "late", Retryable: true})
	var calls atomic.Int32
	err := e.client.Events(ctx, func(ev kybflow.Event) error {
		if calls.Add(1) == 1 {
			return errors.New("downstream busy")
		}
		return client.ErrStop
	}, client.Durable("test-follower"), client.OfKinds(kybflow.KindFailed))
	if err != nil || calls.Load() != 2 {
		t.Fatalf("Events = %v after %d calls; want the event twice", err, calls.Load())
	}
	// The position is kept: a second call sees only what is new. The
	// first call's last pull request may outlive it on the server and take
	// d-2 into an inbox nobody reads: d-2 then comes again after the
	// consumer's ack wait (30 s), so the second call may wait that long.
	e.event(kybflow.KindFailed, kybflow.FailedData{LookupID: "d-2", Code: kybflow.CodeExpired, Reason: "late", Retryable: true})
	var seen string
	ctx2, cancel2 := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel2()
	err = e.client.Events(ctx2, func(ev kybflow.Event) error { seen = ev.Subject; return client.ErrStop },
		client.Durable("test-follower"), client.OfKinds(kybflow.KindFailed))
	if err != nil || seen != "d-2" {
		t.Fatalf("second Events = %v, saw %q; want d-2", err, seen)
	}
}

func mustEncode(t *testing.T, c kybflow.LookupCommand) []byte {
	t.Helper()
	b, err := kybflow.EncodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FetchArtifact reads an artifact from a directory or from S3 and checks it
// against its size and sha256.
func TestFetchArtifact(t *testing.T) {
	ctx := context.Background()
	body := []byte(`{"keyInformation":{}}`)
	sum := sha256.Sum256(body)
	art := kybflow.Artifact{Name: "json", Bucket: "results", Key: "lookups/f-1/json.json", Size: int64(len(body)),
		SHA256: hex.EncodeToString(sum[:]), ContentType: "application/json"}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "lookups", "f-1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lookups", "f-1", "json.json"), body, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := testenv.MinIO(t)
	mc, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "results", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PutObject(ctx, "results", art.Key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]client.ArtifactSource{"dir": client.DirSource(dir), "s3": client.S3Source(mc)} {
		var got bytes.Buffer
		if err := client.FetchArtifact(ctx, src, art, &got); err != nil || got.String() != string(body) {
			t.Errorf("%s: FetchArtifact = %v, %q", name, err, got.String())
		}
		wrong := art
		wrong.SHA256 = strings.Repeat("0", 64)
		if err := client.FetchArtifact(ctx, src, wrong, io.Discard); !errors.Is(err, client.ErrArtifactMismatch) {
			t.Errorf("%s: a wrong sha256: %v, want ErrArtifactMismatch", name, err)
		}
		shorter := art
		shorter.Size--
		if err := client.FetchArtifact(ctx, src, shorter, io.Discard); !errors.Is(err, client.ErrArtifactMismatch) {
			t.Errorf("%s: a wrong size: %v, want ErrArtifactMismatch", name, err)
		}
		missing := art
		missing.Key = "lookups/f-2/json.json"
		if err := client.FetchArtifact(ctx, src, missing, io.Discard); err == nil {
			t.Errorf("%s: a missing object fetched", name)
		}
	}
	escape := art
	escape.Key = "../outside.json"
	if err := client.FetchArtifact(ctx, client.DirSource(dir), escape, io.Discard); err == nil {
		t.Error("a key leaving the directory was read")
	}
}

// TestTenantClientUsesOnlyItsSubjects: a tenant's client submits on its own
// command subject with the key as Nats-Msg-Id, and waits on its own events;
// an untenanted client with the same lookupId sees its own lookup, not the
// tenant's.
func TestTenantClientUsesOnlyItsSubjects(t *testing.T) {
	e := newClientEnv(t)
	ctx := context.Background()
	nc, err := nats.Connect(e.js.Conn().ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	acme, err := client.New(nc, client.WithTenant("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(nc, client.WithTenant("a.b")); err == nil {
		t.Fatal("WithTenant accepted a tenant with a dot")
	}
	if err := acme.Submit(ctx, orgCmd); err != nil {
		t.Fatal(err)
	}
	s, err := e.js.Stream(ctx, "AML_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetLastMsgForSubject(ctx, "aml.commands.lookup.acme")
	if err != nil {
		t.Fatalf("the tenant's command is not on its subject: %v", err)
	}
	if id := msg.Header.Get(jetstream.MsgIDHeader); id != "acme.c-1" {
		t.Fatalf("Nats-Msg-Id = %q, want acme.c-1", id)
	}

	tenantCmd := orgCmd
	tenantCmd.Tenant = "acme"
	e.event(kybflow.KindCompleted, tenantCmd.CompletedData("s-1", []kybflow.Artifact{{Name: "json", Bucket: "b", Key: "lookups/acme.c-1/json.json", Size: 2,
		SHA256: "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", ContentType: "application/json"}}))
	res, err := acme.Wait(ctx, "c-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Completed == nil || res.Completed.Tenant != "acme" || res.Event.Subject != "acme.c-1" {
		t.Fatalf("tenant Wait = %+v", res)
	}

	// The untenanted lookup c-1 is another lookup: Wait sees its failure.
	e.event(kybflow.KindFailed, orgCmd.FailedData(kybflow.CodeRejected, "no such organization"))
	res, err = e.client.Wait(ctx, "c-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed == nil || res.Failed.Tenant != "" {
		t.Fatalf("untenanted Wait = %+v, want its own failure", res)
	}
}

// TestFollowDeliversEachEventOnceInOrder: events published before Follow
// come first, then live ones; none twice.
func TestFollowDeliversEachEventOnceInOrder(t *testing.T) {
	e := newClientEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := orgCmd
	cmd.LookupID = "f-1"
	e.event(kybflow.KindAccepted, cmd.AcceptedData())
	seen := make(chan kybflow.Kind, 10)
	done := make(chan error, 1)
	go func() {
		done <- e.client.Follow(ctx, "f-1", func(ev kybflow.Event) error {
			seen <- ev.Kind()
			if ev.Kind().Terminal() {
				return client.ErrStop
			}
			return nil
		})
	}()
	if k := <-seen; k != kybflow.KindAccepted {
		t.Fatalf("first event %s, want accepted", k)
	}
	e.event(kybflow.KindFailed, cmd.FailedData(kybflow.CodeRejected, "no such organization"))
	if k := <-seen; k != kybflow.KindFailed {
		t.Fatalf("second event %s, want failed", k)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(seen) != 0 {
		t.Fatalf("%d more events delivered after the ending", len(seen))
	}
}
