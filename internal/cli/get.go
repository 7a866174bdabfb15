package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/reportsig"
)

const getAbout = `
Reads the lookup's completed event from the events stream, downloads each of
its artifacts (the JSON result, the PDF reports) from the worker's storage
into DIR/<lookupId>/, named after the object key (json.json, report-aml.pdf,
...), and prints each file's path. Each file is checked against the size and
SHA-256 in the event before it appears under its name; files are mode 0600,
since results hold personal data. An existing file of the same name is
replaced.

The storage is BLOB_DIR when the worker stores results in a local directory,
else S3 (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY). The bucket and the key of
each artifact come from the event, so S3_BUCKET and BLOB_KEY_PREFIX are not
needed.

Each PDF report's signature is checked again as it downloads, as the worker
checks it (the byte range and its digest, the CMS signature, the chain to the
CAs of REPORT_TRUST_CA at the signing time), and its status printed after its
path: valid, invalid, unsigned or untrusted, with the signer and the signing
time, and why when not valid. A status other than the one the worker recorded
in the event (another trust store, say) is said on stderr.

Exit status: 0 every artifact downloaded and checked; 1 the lookup failed, has
not finished, is unknown (events are kept for the worker's EVENTS_MAX_AGE), or
an artifact could not be downloaded or does not match the event, or, with
--require-valid, a report's signature is not valid.`

func (a *app) runGet(ctx context.Context, args []string) error {
	var (
		conn         natsSettings
		storage      storageSettings
		dir          string
		reports      reportsig.Settings
		requireValid bool
	)
	f := a.newFlags("get", "amlctl get [flags] LOOKUP_ID", getAbout)
	f.String(&dir, "dir", ".", "download into `DIR`/<lookupId>/ (created, mode 0700)")
	reports.Register(f.set)
	f.Bool(&requireValid, "require-valid", false, "exit 1 unless every report's signature is valid")
	conn.register(f)
	storage.register(f, blob.PartS3|blob.PartDir)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one LOOKUP_ID, got %d arguments", len(pos))
	}
	lookupID, err := conn.key(pos[0])
	if err != nil {
		return err
	}
	if dir == "" {
		return usagef("--dir is empty")
	}
	subjects, err := conn.subjects()
	if err != nil {
		return err
	}
	nc, js, err := conn.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	name := subjects.EventsStream()
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return streamError(subjects, name, err)
	}
	d, err := completedData(ctx, stream, subjects, lookupID)
	if err != nil {
		return err
	}
	if len(d.Artifacts) == 0 {
		return fmt.Errorf("lookup %s completed without artifacts", lookupID)
	}

	trust, err := reports.Load()
	if err != nil {
		return usagef("REPORT_TRUST_CA: %v", err)
	}
	// Only now: a failed or unknown lookup needs no storage.
	if err := storage.check("get", "download from"); err != nil {
		return err
	}
	stores, err := storage.open()
	if err != nil {
		return err
	}
	dest := filepath.Join(dir, lookupID)
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	notValid := 0
	for _, art := range d.Artifacts {
		var v *reportsig.Verifier
		var check io.Writer // nil for the JSON: a nil *Verifier is no nil io.Writer
		if _, ok := kybflow.ArtifactReport(art.Name); ok {
			v = reportsig.New()
			check = v
		}
		p, err := download(ctx, stores.src, art, dest, check)
		if err != nil {
			return fmt.Errorf("artifact %s (%s/%s in %s): %w", art.Name, art.Bucket, art.Key, stores.where(art.Bucket), err)
		}
		if v == nil {
			fmt.Fprintln(a.stdout, p)
			continue
		}
		r := v.Result(trust, time.Now())
		fmt.Fprintf(a.stdout, "%s  signature %s\n", p, describeSignature(r))
		if recorded := art.Signature; recorded != nil && string(recorded.Status) != string(r.Status) {
			fmt.Fprintf(a.stderr, "amlctl get: %s: the worker recorded its signature %s; checked here: %s\n", art.Name, recorded.Status, r.Status)
		}
		if r.Status != reportsig.Valid {
			notValid++
		}
	}
	if requireValid && notValid > 0 {
		return &exitError{code: exitFailure, msg: fmt.Sprintf("%s of lookup %s not valid (--require-valid)", plural(notValid, "report signature"), lookupID)}
	}
	return nil
}

// describeSignature is a check's outcome in a few words.
func describeSignature(r reportsig.Result) string {
	s := string(r.Status)
	if r.Signer != "" {
		s += ", signer " + r.Signer
	}
	if !r.SignedAt.IsZero() {
		s += ", signed " + r.SignedAt.UTC().Format(time.RFC3339)
	}
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

// completedData is the data of the lookup's completed event, or an error
// that says why there is none: the lookup failed, has not finished, or is
// unknown.
func completedData(ctx context.Context, stream jetstream.Stream, subjects kybflow.Subjects, lookupID string) (kybflow.CompletedData, error) {
	last := func(kind kybflow.Kind) (kybflow.Event, bool, error) {
		m, err := stream.GetLastMsgForSubject(ctx, subjects.Event(lookupID, kind))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return kybflow.Event{}, false, nil
		}
		if err != nil {
			return kybflow.Event{}, false, fmt.Errorf("read the %s event of %s: %w", kind, lookupID, err)
		}
		ev, err := kybflow.DecodeEvent(m.Data)
		if err != nil {
			return kybflow.Event{}, false, fmt.Errorf("the %s event of %s (sequence %d): %w", kind, lookupID, m.Sequence, err)
		}
		return ev, true, nil
	}
	ev, ok, err := last(kybflow.KindErased)
	if err != nil {
		return kybflow.CompletedData{}, err
	}
	if ok {
		return kybflow.CompletedData{}, &exitError{code: exitFailure, msg: fmt.Sprintf(
			"lookup %s was erased at %s: its results are deleted", lookupID, ev.Time.UTC().Format(time.RFC3339))}
	}
	ev, ok, err = last(kybflow.KindCompleted)
	if err != nil {
		return kybflow.CompletedData{}, err
	}
	if ok {
		d, isCompleted := ev.Data.(kybflow.CompletedData)
		if !isCompleted {
			return kybflow.CompletedData{}, fmt.Errorf("the completed event of %s has type %s", lookupID, ev.Type)
		}
		return d, nil
	}
	ev, ok, err = last(kybflow.KindFailed)
	if err != nil {
		return kybflow.CompletedData{}, err
	}
	if ok {
		msg := fmt.Sprintf("lookup %s failed, so it has no results", lookupID)
		if _, isFailed := ev.Data.(kybflow.FailedData); isFailed {
			msg = fmt.Sprintf("lookup %s failed, so it has no results: %s", lookupID, summary(ev))
		}
		return kybflow.CompletedData{}, &exitError{code: exitFailure, msg: msg}
	}
	for _, k := range []kybflow.Kind{kybflow.KindSessionOpened, kybflow.KindAccepted} {
		ev, ok, err := last(k)
		if err != nil {
			return kybflow.CompletedData{}, err
		}
		if ok {
			return kybflow.CompletedData{}, &exitError{code: exitFailure, msg: fmt.Sprintf(
				"lookup %s has not finished (its last event: %s at %s); wait for it with: amlctl events --lookup %s --all",
				lookupID, k, ev.Time.UTC().Format("2006-01-02T15:04:05Z"), lookupID)}
		}
	}
	return kybflow.CompletedData{}, &exitError{code: exitFailure, msg: fmt.Sprintf(
		"no lookup %s: stream %s has no events for it (check the lookupId; events are kept for the worker's EVENTS_MAX_AGE)",
		lookupID, stream.CachedInfo().Config.Name)}
}

// download copies one artifact into dir, under the base name of its key,
// through a temporary file that is renamed only when the size and SHA-256
// match the event (client.FetchArtifact). It returns the file's path.
func download(ctx context.Context, src client.ArtifactSource, art kybflow.Artifact, dir string, check io.Writer) (string, error) {
	name := path.Base(art.Key)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("key %q does not end in a usable file name", art.Key)
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*.part") // mode 0600
	if err != nil {
		return "", err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var w io.Writer = tmp
	if check != nil {
		w = io.MultiWriter(tmp, check)
	}
	if err := client.FetchArtifact(ctx, src, art, w); err != nil {
		return "", fmt.Errorf("%w; nothing written", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	final := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", err
	}
	done = true
	return final, nil
}
