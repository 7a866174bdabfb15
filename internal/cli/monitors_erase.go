package cli

// amlctl monitors delete --erase-history: delete the monitor, wait for the
// worker's answer, then erase each of its runs with internal/erasure, as
// amlctl erase erases a lookup, and the monitor's own events and dead
// letters.

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/erasure"
	"github.com/kybflow/kybflow/internal/monitors"
	"github.com/kybflow/kybflow/internal/streams"
)

const eraseHistoryAbout = `

--erase-history erases the monitor's history once the worker has deleted it
(it waits for the answer, as --wait does, within --timeout): every run of the
monitor, a lookup of its tenant named MONITOR_ID-r<digits>, found among the
keys of the bucket <PREFIX>_LOOKUPS and, for a run whose record has expired,
under BLOB_KEY_PREFIX in the store (BLOB_DIR, or S3_BUCKET), is erased as
amlctl erase erases a lookup (its objects, diff.json included, its events,
webhooks, checks, dead letters and record; an erased event), and each erasure
is printed; then the monitor's own monitor events (which echo its
correlationId and metadata) and its commands' dead letters are deleted. A lookup so named whose record says it is no run of the monitor is
left alone, and said so. A run that has not ended is not erased (erase it
with amlctl erase once it has). A monitor that is deleted already is not an
error: its runs are erased all the same, so that running the command again
finishes an erasure cut short. It needs a NATS user allowed to erase (the
operator's) and the worker's storage variables below. Exit status: 0 deleted
and every run erased; 1 the delete was rejected, or a run not erased.`

// deleteErasingHistory deletes the monitor and erases its runs: the store
// and the streams an erasure needs are reached first, so that a wrong
// setting deletes nothing.
func (a *app) deleteErasingHistory(ctx context.Context, c *client.Client, js jetstream.JetStream, req monitorRequest, m monitorFlags, opts erasure.Options) error {
	e, p, err := m.erasure.open(ctx, js, opts, a.stdout)
	if err != nil {
		return err
	}
	names := streams.NamesOf(opts.Subjects)
	kv, err := js.KeyValue(ctx, names.MonitorsBucket())
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		err = fmt.Errorf("%w (bucket %s)", jetstream.ErrStreamNotFound, names.MonitorsBucket())
	}
	if err != nil {
		return streamError(opts.Subjects, names.MonitorsBucket(), err)
	}
	key := kybflow.LookupKey(m.conn.tenant, req.monitorID)

	waitCtx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	s, err := c.DeleteMonitor(waitCtx, req.monitorID, req.opts...)
	if err != nil {
		var ce *kybflow.CommandError
		if errors.As(err, &ce) {
			return &exitError{code: exitFailure, msg: invalidMonitorMessage(err)}
		}
		return monitorWaitError(ctx, waitCtx, req.monitorID, m.timeout, streamError(opts.Subjects, opts.Subjects.CommandsStream(), err))
	}
	fmt.Fprintf(a.stdout, "delete of monitor %s stored as command %d; waiting up to %s for the answer\n", req.monitorID, s.Sequence, m.timeout)
	res, err := c.WaitMonitor(waitCtx, s)
	if err != nil {
		return monitorWaitError(ctx, waitCtx, req.monitorID, m.timeout, err)
	}
	fmt.Fprintf(a.stdout, "monitor %s: %s\n", req.monitorID, summary(res.Event))
	if !res.Applied() {
		_, _, err := monitors.NewStore(kv).Get(ctx, key)
		if !errors.Is(err, monitors.ErrNotFound) {
			if err != nil {
				return fmt.Errorf("its history is not erased: %w", err)
			}
			return &exitError{code: exitFailure, msg: fmt.Sprintf("monitor %s is not deleted: its history is not erased", req.monitorID)}
		}
		fmt.Fprintf(a.stdout, "monitor %s is not in %s (deleted already): erasing the runs it left\n", req.monitorID, names.MonitorsBucket())
	}
	return a.eraseRuns(ctx, e, p, key)
}

// eraseRuns erases the runs of the monitor key, printing each erasure; a
// run not erased is said so, and exits 1 after the others.
func (a *app) eraseRuns(ctx context.Context, e *erasure.Eraser, p erasurePrinter, key string) error {
	_, monitorID, _ := kybflow.SplitLookupKey(key)
	runs, err := e.Runs(ctx, key)
	if err != nil {
		return fmt.Errorf("find the runs of monitor %s: %w", monitorID, explainStream(p.subjects, err))
	}
	for _, k := range runs.NotRuns {
		fmt.Fprintf(a.stderr, "amlctl monitors delete: lookup %s is named as a run of monitor %s, but its record says it is none: left alone\n", k, monitorID)
	}
	fmt.Fprintf(a.stdout, "monitor %s: %s to erase (%d with a record, %d with objects only)\n",
		monitorID, plural(len(runs.Keys), "run"), runs.Recorded, len(runs.Keys)-runs.Recorded)
	failed := 0
	for _, k := range runs.Keys {
		r, err := e.Erase(ctx, k)
		if err == nil {
			p.print(r)
			if len(r.Refused) > 0 {
				fmt.Fprintf(a.stderr, "amlctl monitors delete: lookup %s: %s named in its record left in place (see \"refused\"): look at them by hand\n",
					k, plural(len(r.Refused), "location"))
			}
			continue
		}
		err = explainStream(p.subjects, err)
		_, lookupID, _ := kybflow.SplitLookupKey(k) // amlctl erase takes it with AML_TENANT
		switch {
		case errors.Is(err, erasure.ErrNotEnded):
			err = fmt.Errorf("%w; erase it once it has ended: amlctl erase %s", err, lookupID)
		case r.Tombstoned:
			err = fmt.Errorf("%w; the erasure is begun: run amlctl erase %s to finish it", err, lookupID)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("lookup %s not erased: %w", k, err)
		}
		failed++
		fmt.Fprintf(a.stderr, "amlctl monitors delete: lookup %s not erased: %v\n", k, err)
	}
	own, err := e.EraseMonitor(ctx, key)
	if err != nil {
		return fmt.Errorf("monitor %s: its own events and dead letters: %w", monitorID, explainStream(p.subjects, err))
	}
	fmt.Fprintf(a.stdout, "monitor %s: %s and %s of its commands erased\n",
		monitorID, plural(own.Events, "monitor event"), plural(len(own.DeadLetters), "dead letter"))
	if failed > 0 {
		return &exitError{code: exitFailure, msg: fmt.Sprintf("%d of %s of monitor %s not erased", failed, plural(len(runs.Keys), "run"), monitorID)}
	}
	fmt.Fprintf(a.stdout, "monitor %s: history erased (%s)\n", monitorID, plural(len(runs.Keys), "run"))
	return nil
}
