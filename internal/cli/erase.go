package cli

// amlctl erase: the GDPR erasure of lookups' personal data. For each
// lookup, in this order: its record becomes a tombstone (so that no worker
// takes the lookup further, and a command re-sent with its lookupId opens
// nothing); its objects, events, webhooks and checks are deleted; the
// erased event tells downstream services to erase their copies; the
// tombstone drops what the erasure needed (docs/operations.md, "GDPR
// erasure").

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
)

const eraseAbout = `
Erases the personal data of each lookup (a GDPR erasure), and says what it
removed:
  - its record in the bucket <PREFIX>_LOOKUPS becomes a tombstone that holds the
    lookupId and erasedAt only (and its older revisions are purged), so that no
    worker takes the lookup further and a command re-sent with its lookupId
    opens nothing, for the worker's LOOKUP_RETENTION after the erasure;
  - its objects are deleted: the artifacts its record lists, and the keys its
    JSON and reports would have (BLOB_KEY_PREFIX in S3_BUCKET, or BLOB_DIR), in
    case the record lost them;
  - its events (but an erased one), webhooks and checks are deleted from their
    streams, with a secure delete: the NATS servers overwrite them on disk;
  - an erased event (<prefix>.events.<lookupId>.erased, id <lookupId>.erased,
    data: the lookupId, its correlationId and erasedAt) is published, so that
    downstream services erase their copies.

A lookup that has not ended (accepted, opening, opened) is refused: a worker
handling it would store results and publish events again after the erasure.
--force erases it anyway; erase it again once the worker is done with it.

Erasing is idempotent. A second erase of a lookup deletes whatever appeared
since (normally nothing, and it says so) and publishes no second erased event.
An erasure cut short (NATS or the storage failed) is finished by running it
again, with the same erasedAt and the same erased event (the stream drops a
copy it already has within DUPLICATE_WINDOW).

Not reached: copies downstream (hence the erased event), older versions of the
objects in a bucket with versioning, and backups. See docs/operations.md.

Exit status: 0 every lookup erased; 1 one or more not erased (each one says
why; the others are erased), or NATS or the storage cannot be reached.`

func (a *app) runErase(ctx context.Context, args []string) error {
	var (
		conn                      natsSettings
		storage                   storageSettings
		bucket, keyPrefix, source string
		force                     bool
	)
	f := a.newFlags("erase", "amlctl erase [flags] LOOKUP_ID...", eraseAbout)
	f.Bool(&force, "force", false, "erase a lookup that has not ended too (a worker handling it may store or publish again)")
	conn.register(f)
	storage.register(f)
	f.EnvString(&bucket, "S3_BUCKET", "s3-bucket", "", "the worker's S3_BUCKET, where its objects are (required with S3_ENDPOINT)")
	f.EnvString(&keyPrefix, "BLOB_KEY_PREFIX", "blob-key-prefix", kybflow.DefaultKeyPrefix, "the worker's BLOB_KEY_PREFIX, the prefix of every object key")
	f.EnvString(&source, "EVENT_SOURCE", "event-source", kybflow.DefaultSource, "the worker's EVENT_SOURCE, the source of the erased events (as of the lookups' other events)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("want one or more LOOKUP_ID")
	}
	var ids []string
	for _, id := range pos {
		id, err := conn.key(id)
		if err != nil {
			return err
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	keys := kybflow.ObjectKeys{Prefix: keyPrefix}
	if err := keys.Validate(); err != nil {
		return usagef("BLOB_KEY_PREFIX: %v", err)
	}
	if _, err := erasedEvent(source, "x", "", time.Now()); err != nil {
		return usagef("EVENT_SOURCE %q: want an absolute URI, the worker's EVENT_SOURCE (urn:kybflow:worker by default)", source)
	}
	subjects, err := conn.subjects()
	if err != nil {
		return err
	}
	if err := storage.check("erase", "erase from"); err != nil {
		return err
	}
	if storage.blobDir == "" && bucket == "" {
		return usagef("S3_BUCKET is required with S3_ENDPOINT: set it to the worker's S3_BUCKET")
	}
	nc, js, err := conn.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	e, err := newEraser(ctx, js, subjects)
	if err != nil {
		return err
	}
	e.keys, e.source, e.force = keys, source, force
	if e.objects, err = openObjects(ctx, &storage, bucket); err != nil {
		return err
	}

	failed := 0
	for _, id := range ids {
		r, err := e.erase(ctx, id)
		if err == nil {
			r.print(a.stdout, e)
			continue
		}
		if r.tombstoned {
			err = fmt.Errorf("%w; the erasure is begun: run amlctl erase %s again to finish it", err, id)
		}
		if ctx.Err() != nil || len(ids) == 1 {
			return fmt.Errorf("lookup %s not erased: %w", id, err)
		}
		failed++
		fmt.Fprintf(a.stderr, "amlctl erase: lookup %s not erased: %v\n", id, err)
	}
	if failed > 0 {
		return &exitError{code: exitFailure, msg: fmt.Sprintf("%d of %s not erased", failed, plural(len(ids), "lookup"))}
	}
	return nil
}

// eraser erases lookups of one deployment.
type eraser struct {
	js                       jetstream.JetStream
	subjects                 kybflow.Subjects
	records                  *lookups.Store
	events, webhooks, checks jetstream.Stream
	objects                  *objectStores
	keys                     kybflow.ObjectKeys
	source                   string
	force                    bool
	now                      func() time.Time
}

func newEraser(ctx context.Context, js jetstream.JetStream, subjects kybflow.Subjects) (*eraser, error) {
	e := &eraser{js: js, subjects: subjects, now: time.Now}
	kv, err := js.KeyValue(ctx, streams.NamesOf(subjects).LookupsBucket())
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		err = jetstream.ErrStreamNotFound // the bucket is a stream; the explanation is the same
	}
	if err != nil {
		return nil, streamError(subjects, streams.NamesOf(subjects).LookupsBucket(), err)
	}
	e.records = lookups.NewStore(kv)
	for _, s := range []struct {
		name string
		to   *jetstream.Stream
	}{{subjects.EventsStream(), &e.events}, {streams.NamesOf(subjects).WebhooksStream(), &e.webhooks}, {streams.NamesOf(subjects).ChecksStream(), &e.checks}} {
		if *s.to, err = js.Stream(ctx, s.name); err != nil {
			return nil, streamError(subjects, s.name, err)
		}
	}
	return e, nil
}

// erasure is what erase did for one lookup.
type erasure struct {
	lookupID   string
	state      lookups.State // of the record found; "" for none
	already    bool          // a finished erasure was found
	resumed    bool          // an unfinished one was found, and finished
	tombstoned bool          // the record is a tombstone now
	erasedAt   time.Time
	objects    []object
	events     int
	webhooks   int
	checks     int
	history    uint64 // older revisions of the record purged
	published  bool   // the erased event was published now
	duplicate  bool   // ... and the stream had it already
}

// tombstoneAttempts bounds the rounds of compare-and-set against a worker
// moving the record.
const tombstoneAttempts = 5

// erase erases one lookup; on an error the erasure says how far it got.
func (e *eraser) erase(ctx context.Context, id string) (*erasure, error) {
	r := &erasure{lookupID: id}
	tomb, rev, err := e.tombstone(ctx, r)
	if err != nil {
		return r, err
	}
	r.tombstoned = true
	if err := e.purgeHistory(ctx, r); err != nil {
		return r, err
	}
	if r.objects, err = e.objects.erase(ctx, e.objects.locations(e.keys, id, tomb.Artifacts)); err != nil {
		return r, fmt.Errorf("delete its objects: %w", err)
	}
	erased := e.subjects.Event(id, kybflow.KindErased)
	if r.events, err = eraseSubject(ctx, e.events, e.subjects.EventsFor(id), func(s string) bool { return s == erased }); err != nil {
		return r, fmt.Errorf("delete its events: %w", err)
	}
	if r.webhooks, err = eraseSubject(ctx, e.webhooks, streams.NamesOf(e.subjects).Webhook(id), nil); err != nil {
		return r, fmt.Errorf("delete its webhooks: %w", err)
	}
	if r.checks, err = eraseSubject(ctx, e.checks, streams.NamesOf(e.subjects).Check(id), nil); err != nil {
		return r, fmt.Errorf("delete its checks: %w", err)
	}
	if r.already {
		return r, nil
	}

	// The erased event after everything it announces, then the tombstone
	// that says it is out (and drops the correlationId it needed).
	ev, err := erasedEvent(e.source, id, tomb.Command.CorrelationID, r.erasedAt)
	if err != nil {
		return r, err
	}
	b, err := kybflow.EncodeEvent(ev)
	if err != nil {
		return r, err
	}
	msg := nats.NewMsg(erased)
	msg.Data = b
	msg.Header.Set("Content-Type", kybflow.ContentTypeCloudEvents)
	ack, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID), jetstream.WithExpectStream(e.subjects.EventsStream()))
	if err != nil {
		return r, fmt.Errorf("publish the erased event: %w", streamError(e.subjects, e.subjects.EventsStream(), err))
	}
	r.published, r.duplicate = true, ack.Duplicate
	if _, err := e.records.Update(ctx, lookups.Tombstone(id, r.erasedAt), rev); err != nil {
		cur, _, gerr := e.records.Get(ctx, id)
		if !errors.Is(err, lookups.ErrConflict) || gerr != nil || !cur.ErasureDone() { // else: a concurrent erase finished it
			return r, fmt.Errorf("write the final tombstone: %w", err)
		}
	}
	return r, e.purgeHistory(ctx, r)
}

// tombstone finds the lookup's record and, unless it is a tombstone
// already, replaces it by the tombstone an erasure begins with
// (lookups.Erasing): first, so that a worker takes the lookup no further
// while its objects and events are deleted. It returns the tombstone and
// its revision, or an error that says why the lookup is not erased.
func (e *eraser) tombstone(ctx context.Context, r *erasure) (lookups.Record, uint64, error) {
	for attempt := 1; ; attempt++ {
		rec, rev, err := e.records.Get(ctx, r.lookupID)
		found := err == nil
		if err != nil && !errors.Is(err, lookups.ErrNotFound) {
			return rec, 0, fmt.Errorf("read its record: %w", err)
		}
		r.state = rec.State
		switch {
		case found && rec.State == lookups.Erased:
			r.erasedAt, r.already, r.resumed = rec.ErasedAt, rec.ErasureDone(), !rec.ErasureDone()
			return rec, rev, nil
		case found && !rec.State.Terminal() && !e.force:
			return rec, 0, fmt.Errorf("it is %s, not ended: a worker handling it would store results and publish events "+
				"again after the erasure; wait until it ends (amlctl events --lookup %s --all), or erase it anyway with --force", rec.State, r.lookupID)
		}
		r.erasedAt = e.now().UTC()
		tomb := lookups.Erasing(rec, r.lookupID, r.erasedAt)
		var next uint64
		if found {
			next, err = e.records.Update(ctx, tomb, rev)
		} else {
			next, err = e.records.Create(ctx, tomb)
		}
		if (errors.Is(err, lookups.ErrConflict) || errors.Is(err, lookups.ErrExists)) && attempt < tombstoneAttempts {
			continue // a worker moved it: decide again on what is there
		}
		if err != nil {
			return rec, 0, fmt.Errorf("write the tombstone: %w", err)
		}
		return tomb, next, nil
	}
}

func (e *eraser) purgeHistory(ctx context.Context, r *erasure) error {
	n, err := e.records.PurgeHistory(ctx, e.js, r.lookupID)
	r.history += n
	return err
}

// erasedEvent is the erased event of a lookup.
func erasedEvent(source, key, correlationID string, erasedAt time.Time) (kybflow.Event, error) {
	tenant, lookupID, _ := kybflow.SplitLookupKey(key)
	return kybflow.NewEvent(source, kybflow.KindErased, key, erasedAt,
		kybflow.ErasedData{LookupID: lookupID, Tenant: tenant, CorrelationID: correlationID, ErasedAt: erasedAt})
}

// removed reports whether the erasure deleted anything but the record.
func (r *erasure) removed() bool {
	return len(r.objects) > 0 || r.events > 0 || r.webhooks > 0 || r.checks > 0 || r.history > 0
}

// print says what was erased: the lookupId, object keys (which hold only
// the lookupId), counts; nothing of the lookup's content.
func (r *erasure) print(w io.Writer, e *eraser) {
	at := r.erasedAt.UTC().Format("2006-01-02T15:04:05.000Z")
	switch {
	case r.already && !r.removed():
		fmt.Fprintf(w, "lookup %s: erased already at %s; nothing found to remove now, and no erased event published again\n", r.lookupID, at)
		return
	case r.already:
		fmt.Fprintf(w, "lookup %s: erased already at %s; removed what appeared since (no erased event published again):\n", r.lookupID, at)
	case r.resumed:
		fmt.Fprintf(w, "lookup %s: finished its erasure begun at %s:\n", r.lookupID, at)
	case r.state == "":
		fmt.Fprintf(w, "lookup %s: erased at %s (it had no record: never seen, or older than the worker's LOOKUP_RETENTION):\n", r.lookupID, at)
	case !r.state.Terminal():
		fmt.Fprintf(w, "lookup %s: erased at %s with --force while %s: a worker still handling it may store or publish again; erase it again once it is done:\n", r.lookupID, at, r.state)
	default:
		fmt.Fprintf(w, "lookup %s: erased at %s (it was %s):\n", r.lookupID, at, r.state)
	}
	objects := plural(len(r.objects), "object") + " deleted"
	if len(r.objects) > 0 {
		names := make([]string, len(r.objects))
		for i, ob := range r.objects {
			names[i] = ob.String()
		}
		objects += ": " + strings.Join(names, ", ")
	}
	fmt.Fprintf(w, "  objects   %s\n", objects)
	fmt.Fprintf(w, "  events    %s deleted from %s\n", plural(r.events, "event"), e.subjects.EventsStream())
	fmt.Fprintf(w, "  webhooks  %s deleted from %s\n", plural(r.webhooks, "webhook"), streams.NamesOf(e.subjects).WebhooksStream())
	fmt.Fprintf(w, "  checks    %s deleted from %s\n", plural(r.checks, "check"), streams.NamesOf(e.subjects).ChecksStream())
	record := "replaced by a tombstone: state erased, with the lookupId and erasedAt only"
	switch {
	case r.already:
		record = "a tombstone already"
	case r.state == "":
		record = "none; a tombstone (state erased, with the lookupId and erasedAt only) now keeps its lookupId from being used again"
	}
	if r.history > 0 {
		record += fmt.Sprintf("; %s purged", plural(int(r.history), "older revision")) //nolint:gosec // G115: a key's revisions
	}
	fmt.Fprintf(w, "  record    %s\n", record)
	switch {
	case r.duplicate:
		fmt.Fprintf(w, "  event     erased was published already (the stream dropped this copy of %s)\n", kybflow.EventID(r.lookupID, kybflow.KindErased))
	case r.published:
		fmt.Fprintf(w, "  event     erased published to %s\n", e.subjects.Event(r.lookupID, kybflow.KindErased))
	}
}
