package erasure

// A monitor's runs, to erase with its history (amlctl monitors delete
// --erase-history): the lookups of the monitor's tenant whose lookupId is
// kybflow.RunLookupID's, <monitorId>-r<Unix seconds>, found where they are
// kept: the lookups bucket (its keys), and, for a run whose record has
// expired (LOOKUP_RETENTION) while its objects have not, the store (the
// prefixes under the key prefix).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
)

// Runs are the runs of one monitor that Eraser.Runs found.
type Runs struct {
	// Keys are the lookup keys of its runs, sorted: those in the lookups
	// bucket whose record is a run of the monitor or a tombstone, and
	// those in the store without a record.
	Keys []string
	// Recorded counts the Keys found in the lookups bucket.
	Recorded int
	// NotRuns are lookups named as its runs are whose record says they
	// are not (a platform's own lookupId, or another monitor's): not to
	// be erased with it.
	NotRuns []string
}

// Runs finds the runs of the monitor monitorKey (a monitorId, or
// tenant.monitorId). Keys listed while a run is being made may miss it:
// call it once the monitor is deleted (its fires then make no run).
func (e *Eraser) Runs(ctx context.Context, monitorKey string) (Runs, error) {
	var out Runs
	if !kybflow.ValidLookupKey(monitorKey) {
		return out, fmt.Errorf("monitor %q: %w", monitorKey, ErrInvalidKey)
	}
	tenant, monitorID, _ := kybflow.SplitLookupKey(monitorKey)
	start := monitorKey + "-r"
	isRun := func(key string) bool {
		digits, ok := strings.CutPrefix(key, start)
		return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
	}

	filter := "*" // the keys without a tenant
	if tenant != "" {
		filter = tenant + ".*"
	}
	bucket := streams.NamesOf(e.opts.Subjects).LookupsBucket()
	lister, err := e.lookupsKV.ListKeysFiltered(ctx, filter)
	if err != nil {
		return out, &StreamError{Stream: bucket, Err: err}
	}
	var named []string
	for key := range lister.Keys() {
		if isRun(key) {
			named = append(named, key)
		}
	}
	_ = lister.Stop() // the keys are all read: stopping only deletes the consumer
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("list the keys of %s: %w", bucket, err)
	}
	for _, key := range named {
		rec, _, err := e.records.Get(ctx, key)
		switch {
		case errors.Is(err, lookups.ErrNotFound): // expired meanwhile: its objects are looked for below
			continue
		case err != nil:
			return out, &StreamError{Stream: bucket, Err: err}
		case rec.State != lookups.Erased && (rec.Command.Monitor == nil || rec.Command.Monitor.MonitorID != monitorID):
			out.NotRuns = append(out.NotRuns, key)
			continue
		}
		out.Keys = append(out.Keys, key)
	}
	out.Recorded = len(out.Keys)

	parent := strings.TrimSuffix(e.opts.Keys.LookupPrefix(start), start+"/")
	prefixes, err := e.store.Prefixes(ctx, parent, start)
	if err != nil {
		return out, fmt.Errorf("list the runs' objects: %w", err)
	}
	for _, p := range prefixes {
		key := strings.TrimSuffix(strings.TrimPrefix(p, parent), "/")
		if isRun(key) && !slices.Contains(out.Keys, key) && !slices.Contains(out.NotRuns, key) {
			out.Keys = append(out.Keys, key)
		}
	}
	slices.Sort(out.Keys)
	return out, nil
}
