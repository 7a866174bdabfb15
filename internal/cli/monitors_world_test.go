package cli

// Monitors and their runs as the worker leaves them, written by hand
// through the worker's own stores (internal/monitors, internal/lookups,
// internal/blob), for amlctl monitors list, show and delete
// --erase-history to read and erase.

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/monitors"
	"github.com/kybflow/kybflow/internal/streams"
)

// stores are the worker's stores of the monitorEnv's deployment.
func (e *monitorEnv) stores() (*monitors.Store, *monitors.Schedules, *lookups.Store) {
	e.t.Helper()
	ctx := context.Background()
	names := streams.NamesOf(kybflow.Subjects{})
	mkv, err := e.js.KeyValue(ctx, names.MonitorsBucket())
	if err != nil {
		e.t.Fatal(err)
	}
	lkv, err := e.js.KeyValue(ctx, names.LookupsBucket())
	if err != nil {
		e.t.Fatal(err)
	}
	stream, err := e.js.Stream(ctx, names.SchedulesStream())
	if err != nil {
		e.t.Fatal(err)
	}
	return monitors.NewStore(mkv), monitors.NewSchedules(e.js, stream, names), lookups.NewStore(lkv)
}

// monitor writes the record of a monitor, with its runs, as the worker
// would; an active one gets its schedule too.
func (e *monitorEnv) monitor(key string, sch kybflow.Schedule, status kybflow.MonitorStatus, runs ...monitors.Run) monitors.Record {
	e.t.Helper()
	until := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	tenant, _, _ := kybflow.SplitLookupKey(key)
	def := kybflow.MonitorDefinition{Schedule: sch, Until: &until, Lookup: kybflow.LookupCommand{Tenant: tenant, Type: kybflow.TypeOrganization,
		Country: kybflow.CountryNO, Identifier: "923609016", Expands: []string{"roles"}, Reports: []kybflow.ReportType{kybflow.ReportAML},
		CorrelationID: "case-77", Metadata: []byte(`{"email":"kari@example.com"}`)}}
	rec := monitors.New(key, def, time.Now().Add(-time.Hour))
	rec.Status = status
	for _, r := range runs {
		if err := rec.RecordRun(r); err != nil {
			e.t.Fatal(err)
		}
	}
	store, schedules, _ := e.stores()
	if _, err := store.Create(context.Background(), rec); err != nil {
		e.t.Fatal(err)
	}
	if status == kybflow.MonitorActive {
		if err := schedules.Set(context.Background(), rec); err != nil {
			e.t.Fatal(err)
		}
	}
	return rec
}

// runRecord writes the record of the lookup key in state: a run of
// monitorID, or with monitorID empty a platform's own lookup.
func (e *monitorEnv) runRecord(key, monitorID string, state lookups.State) {
	e.t.Helper()
	tenant, lookupID, _ := kybflow.SplitLookupKey(key)
	cmd := kybflow.LookupCommand{LookupID: lookupID, Tenant: tenant, Type: kybflow.TypeOrganization, Identifier: "923609016", CorrelationID: "case-77"}
	if monitorID != "" {
		cmd.Monitor = &kybflow.MonitorRun{MonitorID: monitorID, At: time.Unix(1772443815, 0).UTC()}
	}
	_, _, records := e.stores()
	if _, err := records.Create(context.Background(), lookups.Record{State: state, Command: cmd}); err != nil {
		e.t.Fatal(err)
	}
}

// put stores the artifacts name of the lookup key in the directory dir,
// as the worker's BLOB_DIR.
func (e *monitorEnv) put(dir, key string, names ...string) {
	e.t.Helper()
	d, err := blob.NewDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, name := range names {
		k, err := kybflow.ObjectKeys{}.Key(key, name)
		if err != nil {
			e.t.Fatal(err)
		}
		body := "results of " + key + " about Kari Nordmann"
		if _, err := d.Put(context.Background(), k, strings.NewReader(body), int64(len(body)), blob.PutOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// objects counts the objects (sidecars included) left of the lookup key
// in dir.
func objects(dir, key string) int {
	n := 0
	_ = filepath.WalkDir(filepath.Join(dir, kybflow.DefaultKeyPrefix, key), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
	return n
}

// blobDir is a new result directory.
func blobDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "results")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// countEvents is the number of messages on subject in the events stream.
func (e *monitorEnv) countEvents(ctx context.Context, subject string) uint64 {
	e.t.Helper()
	stream, err := e.js.Stream(ctx, kybflow.Subjects{}.EventsStream())
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Subjects[subject]
}
