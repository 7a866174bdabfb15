package handler

import (
	"context"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/lookups"
)

// TestPreviousInFlight: a run waits for the run due just before it (named
// by its own due time) while that one has begun and not ended, and for no
// other: not a run that ended, was never begun, belongs to another
// monitor, or has been open longer than previousWait.
func TestPreviousInFlight(t *testing.T) {
	t.Parallel()
	h, store, _ := newHandlers(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	h.c.Now = func() time.Time { return now }
	run := func(monitorID string, at time.Time) *kybflow.MonitorRun {
		return &kybflow.MonitorRun{MonitorID: monitorID, At: at}
	}
	record := func(key, monitorID string, state lookups.State) {
		t.Helper()
		tenant, lookupID, _ := kybflow.SplitLookupKey(key)
		cmd := kybflow.LookupCommand{LookupID: lookupID, Tenant: tenant, Type: kybflow.TypeOrganization, Identifier: "923609016"}
		if monitorID != "" {
			cmd.Monitor = &kybflow.MonitorRun{MonitorID: monitorID, At: now.Add(-time.Minute)}
		}
		if _, err := store.Create(ctx, lookups.Record{State: state, Command: cmd}); err != nil {
			t.Fatal(err)
		}
	}
	due := now.Add(-10 * time.Second)
	// The run before a run due at `due` is named by `due`.
	record("acme."+kybflow.RunLookupID("open", due), "open", lookups.Opened)
	record("acme."+kybflow.RunLookupID("done", due), "done", lookups.Completed)
	record("acme."+kybflow.RunLookupID("failed", due), "failed", lookups.Failed)
	record("acme."+kybflow.RunLookupID("other", due), "someone-else", lookups.Opened)
	record("acme."+kybflow.RunLookupID("platform", due), "", lookups.Opened)
	old := now.Add(-previousWait - time.Second)
	record("acme."+kybflow.RunLookupID("stuck", old), "stuck", lookups.Opened)

	for _, c := range []struct {
		monitorID string
		at        time.Time
		want      bool
	}{
		{"open", due, true},
		{"done", due, false},
		{"failed", due, false},
		{"other", due, false},
		{"platform", due, false},
		{"never", due, false},
		{"stuck", old, false},
	} {
		rec := lookups.Record{Command: kybflow.LookupCommand{LookupID: "this", Tenant: "acme", Monitor: run(c.monitorID, c.at)}}
		got, err := h.previousInFlight(ctx, rec, run(c.monitorID, c.at))
		if err != nil || got != c.want {
			t.Errorf("%s: previousInFlight = %v, %v; want %v", c.monitorID, got, err, c.want)
		}
	}
	// Another tenant's run of that name is not this one's.
	rec := lookups.Record{Command: kybflow.LookupCommand{LookupID: "this", Tenant: "other", Monitor: run("open", due)}}
	if got, err := h.previousInFlight(ctx, rec, run("open", due)); err != nil || got {
		t.Errorf("another tenant: %v, %v; want false", got, err)
	}
}
