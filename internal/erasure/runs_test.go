package erasure_test

import (
	"slices"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestRuns finds a monitor's runs in the lookups bucket and, for those
// whose record has expired, in the store; and nothing else: not another
// tenant's, another monitor's, nor a lookup named as a run that is none.
func TestRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.MinIO(t))
	run := func(key, monitorID string, state lookups.State) {
		t.Helper()
		tenant, lookupID, _ := kybflow.SplitLookupKey(key)
		cmd := kybflow.LookupCommand{LookupID: lookupID, Tenant: tenant, Type: kybflow.TypeOrganization, Identifier: "923609016",
			Monitor: &kybflow.MonitorRun{MonitorID: monitorID, At: time.Unix(1772443815, 0).UTC()}}
		rec := lookups.Record{State: state, Command: cmd, Artifacts: []kybflow.Artifact{e.put("lookups/" + key + "/json.json")}}
		if _, err := e.records.Create(e.ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	run("acme.kyc-1-r1772443815", "kyc-1", lookups.Completed)
	run("acme.kyc-1-r1772530215", "kyc-1", lookups.Opened)
	e.put("lookups/acme.kyc-1-r1772357415/json.json") // its record expired
	e.put("lookups/acme.kyc-1-r1772357415/diff.json")
	e.record("acme.kyc-1-r1772616615", lookups.Completed) // named as a run, a platform's own lookup
	run("acme.kyc-1-x-r1772443815", "kyc-1-x", lookups.Completed)
	run("other.kyc-1-r1772443815", "kyc-1", lookups.Completed)
	run("kyc-1-r1772443815", "kyc-1", lookups.Completed)
	e.put("lookups/acme.kyc-1-rx/json.json")
	e.record("acme.kyc-1", lookups.Completed)

	er := e.eraser(false)
	got, err := er.Runs(e.ctx, "acme.kyc-1")
	want := []string{"acme.kyc-1-r1772357415", "acme.kyc-1-r1772443815", "acme.kyc-1-r1772530215"}
	if err != nil || !slices.Equal(got.Keys, want) || got.Recorded != 2 || !slices.Equal(got.NotRuns, []string{"acme.kyc-1-r1772616615"}) {
		t.Fatalf("Runs(acme.kyc-1) = %+v, %v; want %q (2 recorded), and the platform's lookup not a run", got, err, want)
	}
	got, err = er.Runs(e.ctx, "kyc-1")
	if err != nil || !slices.Equal(got.Keys, []string{"kyc-1-r1772443815"}) || got.Recorded != 1 || got.NotRuns != nil {
		t.Fatalf("Runs(kyc-1) = %+v, %v; want the run without a tenant only", got, err)
	}

	// Erased, a run is a tombstone and is still found (erasing it again
	// removes what appeared since); its objects are gone.
	for _, key := range []string{"acme.kyc-1-r1772443815", "acme.kyc-1-r1772357415"} {
		if _, err := er.Erase(e.ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	got, err = er.Runs(e.ctx, "acme.kyc-1")
	if err != nil || !slices.Equal(got.Keys, want) || got.Recorded != 3 {
		t.Fatalf("Runs after erasing two = %+v, %v; want %q, all recorded now", got, err, want)
	}
	if left := e.left("lookups/acme.kyc-1-r1772357415/"); len(left) != 0 {
		t.Errorf("left of the run without a record: %q", left)
	}
	if _, err := er.Runs(e.ctx, "a.b.c"); err == nil {
		t.Error("Runs of an invalid key: no error")
	}
}

// TestEraseMonitor deletes a monitor's monitor events and its commands'
// dead letters, and nothing of a lookup that has the monitor's id as its
// lookupId, nor of another tenant's monitor of that id.
func TestEraseMonitor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.MinIO(t))
	e.publish("aml.events.acme.kyc-1.monitor", `{"correlationId":"c-1","metadata":{"customer":"Kari Nordmann"}}`)
	e.publish("aml.events.acme.kyc-1.monitor", `{"action":"delete"}`)
	e.publish("aml.events.acme.kyc-1.completed", `{"lookupId":"kyc-1"}`) // a lookup named as the monitor is
	e.publish("aml.events.other.kyc-1.monitor", `{}`)
	e.publish("aml.events.acme.kyc-1-r1772443815.completed", `{}`) // a run: erased as a lookup
	mine := e.deadLetter("aml.commands.monitor.acme", `{"action":"create","monitorId":"kyc-1","metadata":{"customer":"Kari Nordmann"}}`)
	e.deadLetter("aml.commands.lookup.acme", `{"lookupId":"kyc-1"}`)
	e.deadLetter("aml.commands.monitor.other", `{"monitorId":"kyc-1"}`)

	er := e.eraser(false)
	r, err := er.EraseMonitor(e.ctx, "acme.kyc-1")
	if err != nil || r.Events != 2 || !slices.Equal(r.DeadLetters, []uint64{mine}) {
		t.Fatalf("EraseMonitor = %+v, %v; want its 2 monitor events and dead letter %d", r, err, mine)
	}
	for subject, want := range map[string]uint64{
		"aml.events.acme.kyc-1.monitor": 0, "aml.events.acme.kyc-1.completed": 1,
		"aml.events.other.kyc-1.monitor": 1, "aml.events.acme.kyc-1-r1772443815.completed": 1,
	} {
		if got := e.count("AML_EVENTS", subject); got != want {
			t.Errorf("%s: %d messages left, want %d", subject, got, want)
		}
	}
	if got := e.count("AML_DEADLETTER", "aml.deadletter.commands"); got != 2 {
		t.Errorf("%d dead letters left, want the lookup's and the other tenant's", got)
	}
	if r, err := er.EraseMonitor(e.ctx, "acme.kyc-1"); err != nil || r.Events != 0 || len(r.DeadLetters) != 0 {
		t.Errorf("a second EraseMonitor = %+v, %v; want nothing", r, err)
	}
	if _, err := er.EraseMonitor(e.ctx, "a.b.c"); err == nil {
		t.Error("EraseMonitor of an invalid key: no error")
	}
}
