package handler

// A monitor's run, before it ends completed: its JSON is compared with the
// previous run's, block by block (internal/changes); the structured diff is
// stored beside its results, and the comparison recorded before the
// ending, so a redelivery neither compares again nor reports twice.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/changes"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/monitors"
)

// maxComparedJSON bounds a JSON result read for a comparison: larger
// ones are not compared (the run says so by comparing with nothing).
const maxComparedJSON = 16 << 20

// compareRun records the comparison of a monitor's run rec (with the
// results res stored by this delivery) with the monitor's previous run,
// and makes rec the run the next one is compared with. It returns the
// record as written.
func (h *Handlers) compareRun(ctx context.Context, rec lookups.Record, rev uint64, res results) (lookups.Record, uint64, outcome) {
	run := rec.Command.Monitor
	if run == nil || rec.Comparison != nil || h.c.Monitors == nil {
		return rec, rev, done()
	}
	jsonArt, ok := rec.Artifact(kybflow.ArtifactJSON)
	for _, a := range res.arts {
		if a.Name == kybflow.ArtifactJSON {
			jsonArt, ok = a, true
		}
	}
	if !ok {
		return rec, rev, done()
	}
	monitorKey := kybflow.LookupKey(rec.Command.Tenant, run.MonitorID)
	mon, _, err := h.c.Monitors.Get(ctx, monitorKey)
	if err != nil && !errors.Is(err, monitors.ErrNotFound) {
		return rec, rev, retryBackoff(err)
	}
	waiting, err := h.previousInFlight(ctx, rec, run)
	if err != nil {
		return rec, rev, retryBackoff(err)
	}
	if waiting {
		// Keep what this delivery stored; compare when the previous run
		// has ended.
		cur, next, o := h.record(ctx, rec, rev, res)
		if !o.IsAck() {
			return cur, next, o
		}
		return cur, next, retryAfter(fmt.Errorf("monitor run %s waits for the run before it to end", rec.Command.Key()), previousRetry)
	}
	var cmp lookups.Comparison
	if prev := mon.Before(run.At); prev != nil {
		c, o := h.compare(ctx, rec, prev, jsonArt)
		if !o.IsAck() {
			return rec, rev, o
		}
		cmp = c
	}
	seen := rec.Phase()
	cur, next, err := h.c.Lookups.Apply(ctx, rec, rev, lookups.Then(res.store(seen),
		func(r *lookups.Record) error { return r.Compare(seen, cmp) }))
	if err != nil {
		return rec, rev, h.endRefused(ctx, err, rec, res)
	}
	if mon.Key != "" { // the monitor exists (not deleted meanwhile)
		thisRun := monitors.Run{LookupID: rec.Command.LookupID, At: run.At, JSON: jsonArt}
		if _, _, err := h.c.Monitors.Apply(ctx, monitorKey, func(m *monitors.Record) error { return m.RecordRun(thisRun) }); err != nil && !errors.Is(err, monitors.ErrNotFound) {
			return cur, next, retryBackoff(err)
		}
	}
	return cur, next, done()
}

// previousWait bounds how long a run waits for the run due before it:
// one that has not ended by then (an API that keeps it waiting for hours)
// is compared without it.
const previousWait = 15 * time.Minute

// previousRetry is how soon a run waiting for the previous one looks
// again.
const previousRetry = 2 * time.Second

// previousInFlight reports whether the run due just before run has begun
// and not ended. Runs that overlap (one delayed by a worker's death, say,
// past the next fire) are compared in the order they were due: a run is
// compared once the one before it has ended, so each change is reported
// once, by the first run that sees it. The run before is found by name: a
// run's lookupId is named by the fire after it (kybflow.RunLookupID), so
// the previous run of the run due at At is RunLookupID(monitor, At). A
// previous run that has not begun (skipped, or its fire not taken yet) is
// not waited for, nor one still open previousWait after this run was due.
func (h *Handlers) previousInFlight(ctx context.Context, rec lookups.Record, run *kybflow.MonitorRun) (bool, error) {
	key := kybflow.LookupKey(rec.Command.Tenant, kybflow.RunLookupID(run.MonitorID, run.At))
	prev, _, err := h.c.Lookups.Get(ctx, key)
	switch {
	case errors.Is(err, lookups.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case prev.Command.Monitor == nil || prev.Command.Monitor.MonitorID != run.MonitorID, prev.State.Terminal(), prev.State == lookups.Erased:
		return false, nil
	case h.c.Now().Sub(run.At) > previousWait:
		h.log.Warn("monitor run compared without the run before it, which has not ended", "lookup_id", rec.Command.Key(), "previous", key, "waited", previousWait)
		return false, nil
	}
	return true, nil
}

// compare compares the JSON of rec (jsonArt) with the previous run's and
// stores the structured diff when something changed.
func (h *Handlers) compare(ctx context.Context, rec lookups.Record, prev *monitors.Run, jsonArt kybflow.Artifact) (lookups.Comparison, outcome) {
	cmp := lookups.Comparison{PreviousLookupID: prev.LookupID}
	before, err := h.readJSON(ctx, prev.JSON.Key)
	if errors.Is(err, blob.ErrNotFound) || errors.Is(err, errTooLarge) {
		h.log.Warn("previous run's JSON gone or too large; the run is compared with nothing", "lookup_id", rec.Command.Key(), "previous", prev.LookupID, "err", err)
		return lookups.Comparison{}, done()
	}
	if err != nil {
		return cmp, retryBackoff(err)
	}
	after, err := h.readJSON(ctx, jsonArt.Key)
	if err != nil {
		return cmp, retryBackoff(err)
	}
	report, err := changes.Compare(changes.Kind(rec.Command.Type), before, after)
	if err != nil {
		h.log.Warn("runs' JSON not comparable; the run is compared with nothing", "lookup_id", rec.Command.Key(), "err", err)
		return lookups.Comparison{}, done()
	}
	cmp.Changed = report.Changed
	for _, b := range report.Blocks {
		cmp.Blocks = append(cmp.Blocks, kybflow.BlockChange{Block: b.Block, Presence: string(b.Presence), Added: b.Added, Removed: b.Removed, Modified: b.Modified})
	}
	if !report.Changed {
		return cmp, done()
	}
	diff, err := json.Marshal(report.Diff)
	if err != nil {
		return cmp, retryBackoff(fmt.Errorf("encode the diff of %s: %w", rec.Command.Key(), err))
	}
	key, err := h.c.Keys.Key(rec.Command.Key(), kybflow.ArtifactDiff)
	if err != nil {
		return cmp, retryBackoff(err)
	}
	obj, err := h.c.Blobs.Put(ctx, key, bytes.NewReader(diff), int64(len(diff)), blob.PutOptions{
		ContentType: kybflow.ContentTypeJSON, Metadata: kybflow.ObjectMetadata(rec.Command.Key(), rec.SessionID, kybflow.ArtifactDiff),
	})
	if err != nil {
		return cmp, retryBackoff(fmt.Errorf("store the diff of %s: %w", rec.Command.Key(), err))
	}
	cmp.Diff = &kybflow.Artifact{Name: kybflow.ArtifactDiff, Bucket: obj.Bucket, Key: obj.Key, Size: obj.Size, SHA256: obj.SHA256, ContentType: obj.ContentType}
	return cmp, done()
}

var errTooLarge = errors.New("too large to compare")

// readJSON reads a stored JSON result, at most maxComparedJSON bytes.
func (h *Handlers) readJSON(ctx context.Context, key string) ([]byte, error) {
	r, _, err := h.c.Blobs.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxComparedJSON+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxComparedJSON {
		return nil, fmt.Errorf("%s: %w", key, errTooLarge)
	}
	return b, nil
}

// endRefused is the outcome of a refused comparison write, as end's.
func (h *Handlers) endRefused(ctx context.Context, err error, rec lookups.Record, res results) outcome {
	switch {
	case errors.Is(err, lookups.ErrErased):
		return h.erasedMeanwhile(ctx, rec, res)
	case errors.Is(err, lookups.ErrEnded), errors.Is(err, lookups.ErrMoved):
		return retryAfter(err, conflictRetry)
	}
	return h.readError(err)
}
