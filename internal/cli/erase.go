package cli

// amlctl erase: the GDPR erasure of lookups' personal data, a shell over
// internal/erasure: flags, the stores, what each erasure did (erase_print.go)
// and the exit status.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/erasure"
)

const eraseAbout = `
Erases the personal data of each lookup (a GDPR erasure), and says what it
removed:
  - its record in the bucket <PREFIX>_LOOKUPS becomes a tombstone that holds the
    lookupId and erasedAt only (and its older revisions are purged), so that no
    worker takes the lookup further and a command re-sent with its lookupId
    opens nothing, for the worker's LOOKUP_RETENTION after the erasure;
  - everything stored under the lookup's own prefix, <BLOB_KEY_PREFIX>/<lookupId>/
    in S3_BUCKET (or BLOB_DIR), found by listing it: every object, whatever
    its report type; in a bucket with versioning every version and delete
    marker; every incomplete multipart upload (with BLOB_DIR, the sidecars
    and the temporary files of writes cut short). A location its record names
    in another bucket, or outside that prefix, is not deleted: it is listed
    as refused, with the reason, to be looked at by hand;
  - its events (but an erased one), webhooks, checks and dead letters are
    deleted from their streams, with a secure delete: the NATS servers
    overwrite them on disk. A dead letter is the lookup's when its body names
    the lookupId and it was published on the lookup's tenant's subject (or on
    a subject that names no tenant);
  - an erased event (<prefix>.events.<lookupId>.erased, id <lookupId>.erased,
    data: the lookupId and erasedAt, never the correlationId) is published, so
    that downstream services erase their copies.

A lookup that has not ended (accepted, opening, opened) is refused: a worker
handling it would store results and publish events again after the erasure.
--force erases it anyway; erase it again once the worker is done with it.

Erasing is idempotent. A second erase of a lookup deletes whatever appeared
since (normally nothing, and it says so) and publishes no second erased event.
An erasure cut short (NATS or the storage failed) is finished by running it
again, with the same erasedAt and the same erased event (the stream drops a
copy it already has within DUPLICATE_WINDOW).

Not reached: copies downstream (hence the erased event), objects under object
lock, and backups. See docs/operations.md.

Exit status: 0 every lookup erased; 1 one or more not erased (each one says
why; the others are erased), or NATS or the storage cannot be reached.`

// erasureSettings are the worker's variables an erasure reads: its
// storage (BLOB_DIR, or S3 with S3_BUCKET), BLOB_KEY_PREFIX and
// EVENT_SOURCE.
type erasureSettings struct {
	storage           storageSettings
	keyPrefix, source string
}

func (s *erasureSettings) register(f *flags) {
	s.storage.register(f, blob.PartS3|blob.PartBucket|blob.PartDir)
	f.set.KeyPrefix(&s.keyPrefix)
	f.set.EventSource(&s.source)
}

// options checks the settings, for command, before anything is connected
// to, and returns the erasure's options.
func (s *erasureSettings) options(command string, conn *natsSettings, force bool) (erasure.Options, error) {
	opts := erasure.Options{Keys: kybflow.ObjectKeys{Prefix: s.keyPrefix}, Source: s.source, Force: force}
	if err := opts.Keys.Validate(); err != nil {
		return opts, usagef("BLOB_KEY_PREFIX: %v", err)
	}
	var err error
	if opts.Subjects, err = conn.subjects(); err != nil {
		return opts, err
	}
	if err := opts.Validate(); err != nil { // the others are valid: the source is not
		return opts, usagef("EVENT_SOURCE %q: want an absolute URI, the worker's EVENT_SOURCE (%s by default)", s.source, kybflow.DefaultSource)
	}
	if err := s.storage.check(command, "erase from"); err != nil {
		return opts, err
	}
	if s.storage.Dir == "" && s.storage.Bucket == "" {
		return opts, usagef("S3_BUCKET is required with S3_ENDPOINT: set it to the worker's S3_BUCKET")
	}
	return opts, nil
}

// open reaches the store and finds the deployment's streams: the eraser,
// and the printer of its erasures.
func (s *erasureSettings) open(ctx context.Context, js jetstream.JetStream, opts erasure.Options, w io.Writer) (*erasure.Eraser, erasurePrinter, error) {
	store, err := openStore(ctx, &s.storage)
	if err != nil {
		return nil, erasurePrinter{}, err
	}
	e, err := erasure.New(ctx, js, store, opts)
	if err != nil {
		return nil, erasurePrinter{}, explainStream(opts.Subjects, err)
	}
	return e, erasurePrinter{w: w, subjects: opts.Subjects, bucket: store.Bucket(), dir: s.storage.Dir != ""}, nil
}

func (a *app) runErase(ctx context.Context, args []string) error {
	var (
		conn  natsSettings
		es    erasureSettings
		force bool
	)
	f := a.newFlags("erase", "amlctl erase [flags] LOOKUP_ID...", eraseAbout)
	f.Bool(&force, "force", false, "erase a lookup that has not ended too (a worker handling it may store or publish again)")
	conn.register(f)
	es.register(f)
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
	opts, err := es.options("erase", &conn, force)
	if err != nil {
		return err
	}
	nc, js, err := conn.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	e, p, err := es.open(ctx, js, opts, a.stdout)
	if err != nil {
		return err
	}
	failed := 0
	for _, id := range ids {
		r, err := e.Erase(ctx, id)
		if err == nil {
			p.print(r)
			if len(r.Refused) > 0 {
				fmt.Fprintf(a.stderr, "amlctl erase: lookup %s: %s named in its record left in place (see \"refused\"): look at them by hand\n",
					id, plural(len(r.Refused), "location"))
			}
			continue
		}
		err = explainStream(opts.Subjects, err)
		switch {
		case errors.Is(err, erasure.ErrNotEnded):
			err = fmt.Errorf("%w; wait until it ends (amlctl events --lookup %s --all), or erase it anyway with --force", err, id)
		case r.Tombstoned:
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

// explainStream explains an erasure's error of a stream the worker makes
// (streamError), keeping what it was doing for another error.
func explainStream(s kybflow.Subjects, err error) error {
	var se *erasure.StreamError
	if !errors.As(err, &se) {
		return err
	}
	if explained := explainMissing(s, se.Stream, se.Err); explained != se.Err { //nolint:errorlint // the same error: not explained
		return explained
	}
	return err
}
