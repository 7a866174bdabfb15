package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/lookups"
)

// TestMonitorsDeleteEraseHistory: delete --erase-history waits for the
// worker's answer (published here in its place), then erases the
// monitor's runs, those with a record and those with objects only, and
// nothing else; run again, the monitor deleted already, it finishes the
// erasure; a delete rejected while the monitor exists erases nothing.
func TestMonitorsDeleteEraseHistory(t *testing.T) {
	t.Parallel()
	e := newMonitorEnv(t)
	ctx := context.Background()
	dir := blobDir(t)
	acme := map[string]string{"NATS_URL": e.env["NATS_URL"], "AML_TENANT": "acme", "BLOB_DIR": dir, "EVENT_SOURCE": "urn:test"}
	store, _, records := e.stores()
	s := kybflow.Subjects{}

	e.monitor("acme.kyc-1", kybflow.Schedule{Every: "24h"}, kybflow.MonitorActive)
	e.runRecord("acme.kyc-1-r1772443815", "kyc-1", lookups.Completed)
	e.put(dir, "acme.kyc-1-r1772443815", "json", "diff", "report:aml")
	if _, err := e.js.Publish(ctx, s.Event("acme.kyc-1-r1772443815", kybflow.KindCompleted), []byte("completed, with metadata")); err != nil {
		t.Fatal(err)
	}
	e.put(dir, "acme.kyc-1-r1772357415", "json") // its record expired
	e.runRecord("acme.kyc-1-r1772530215", "", lookups.Completed)
	e.put(dir, "acme.kyc-1-r1772530215", "json") // a platform's lookup, named as a run
	e.runRecord("acme.kyc-10-r1772443815", "kyc-10", lookups.Completed)
	e.put(dir, "acme.kyc-10-r1772443815", "json") // another monitor's
	e.put(dir, "kyc-1-r1772443815", "json")       // another tenant's (none)
	if _, err := e.js.Publish(ctx, s.Event("acme.kyc-10", kybflow.KindMonitor), []byte("another monitor's, with metadata")); err != nil {
		t.Fatal(err)
	}

	answered := func(seq uint64, d kybflow.MonitorData) result {
		t.Helper()
		done := e.run(ctx, acme, "monitors", "delete", "--erase-history", "--timeout", "20s", d.MonitorID)
		if d.Code == "" {
			if err := store.Delete(ctx, "acme."+d.MonitorID); err != nil { // as the worker does
				t.Fatal(err)
			}
		}
		e.answer("acme."+d.MonitorID, seq, d) //nolint:contextcheck // published as the worker would, on a context of its own
		return <-done
	}

	r := answered(1, kybflow.MonitorData{MonitorID: "kyc-1", Tenant: "acme", Action: kybflow.MonitorDelete, Status: kybflow.MonitorDeleted})
	for _, want := range []string{"delete of monitor kyc-1 stored as command 1", "monitor kyc-1: delete applied: deleted\n",
		"monitor kyc-1: 2 runs to erase (1 with a record, 1 with objects only)\n",
		"lookup acme.kyc-1-r1772357415: erased at ", "it had no record", "lookup acme.kyc-1-r1772443815: erased at ", "(it was completed)",
		"3 objects deleted: results/lookups/acme.kyc-1-r1772443815/diff.json, ", "1 event deleted from AML_EVENTS",
		"monitor kyc-1: 1 monitor event and 0 dead letters of its commands erased\n", "monitor kyc-1: history erased (2 runs)\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("does not say %q", want)
		}
	}
	if r.code != 0 || !strings.Contains(r.stderr, "lookup acme.kyc-1-r1772530215 is named as a run of monitor kyc-1, but its record says it is none: left alone") {
		t.Fatalf("want exit 0, the platform's lookup left alone and said so:\n%s", r)
	}
	for key, want := range map[string]int{"acme.kyc-1-r1772443815": 0, "acme.kyc-1-r1772357415": 0, "acme.kyc-1-r1772530215": 2,
		"acme.kyc-10-r1772443815": 2, "kyc-1-r1772443815": 2} {
		if n := objects(dir, key); n != want {
			t.Errorf("%s: %d files left, want %d", key, n, want)
		}
	}
	for _, key := range []string{"acme.kyc-1-r1772443815", "acme.kyc-1-r1772357415"} {
		if rec, _, err := records.Get(ctx, key); err != nil || !rec.ErasureDone() {
			t.Errorf("%s: %+v, %v; want a tombstone", key, rec, err)
		}
	}
	if n := e.countEvents(ctx, s.Event("acme.kyc-1", kybflow.KindMonitor)); n != 0 {
		t.Errorf("%d monitor events of kyc-1 left, want none: they echo its correlationId and metadata", n)
	}
	if n := e.countEvents(ctx, s.Event("acme.kyc-10", kybflow.KindMonitor)); n != 1 {
		t.Errorf("%d monitor events of kyc-10 left, want its one", n)
	}
	if rec, _, err := records.Get(ctx, "acme.kyc-1-r1772530215"); err != nil || rec.State != lookups.Completed {
		t.Errorf("the platform's lookup: %+v, %v; want it untouched", rec, err)
	}

	// Again: the delete is rejected (no monitor), the runs are erased
	// already, and a run that appeared since is erased.
	e.put(dir, "acme.kyc-1-r1772616615", "json")
	r = answered(2, kybflow.MonitorData{MonitorID: "kyc-1", Tenant: "acme", Action: kybflow.MonitorDelete, Code: kybflow.CodeRejected, Reason: "no monitor kyc-1"})
	for _, want := range []string{"monitor kyc-1: delete rejected: rejected: no monitor kyc-1\n",
		"monitor kyc-1 is not in AML_MONITORS (deleted already): erasing the runs it left\n", "3 runs to erase (2 with a record, 1 with objects only)",
		"lookup acme.kyc-1-r1772443815: erased already at ", "lookup acme.kyc-1-r1772616615: erased at ", "history erased (3 runs)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("again: does not say %q", want)
		}
	}
	if r.code != 0 {
		t.Fatalf("again: want exit 0:\n%s", r)
	}

	// A delete rejected while the monitor is there erases nothing; a run
	// in flight is not erased, and said so.
	e.monitor("acme.kyc-2", kybflow.Schedule{Every: "24h"}, kybflow.MonitorActive)
	e.put(dir, "acme.kyc-2-r1772443815", "json")
	r = answered(3, kybflow.MonitorData{MonitorID: "kyc-2", Tenant: "acme", Action: kybflow.MonitorDelete, Code: kybflow.CodeRejected, Reason: "stored elsewhere"})
	if r.code != 1 || !strings.Contains(r.stderr, "monitor kyc-2 is not deleted: its history is not erased") || objects(dir, "acme.kyc-2-r1772443815") != 2 {
		t.Fatalf("a rejected delete: want exit 1 and nothing erased:\n%s", r)
	}
	e.runRecord("acme.kyc-2-r1772530215", "kyc-2", lookups.Opened)
	r = answered(4, kybflow.MonitorData{MonitorID: "kyc-2", Tenant: "acme", Action: kybflow.MonitorDelete, Status: kybflow.MonitorDeleted})
	if r.code != 1 || !strings.Contains(r.stdout, "lookup acme.kyc-2-r1772443815: erased at ") ||
		!strings.Contains(r.stderr, "lookup acme.kyc-2-r1772530215 not erased: it is opened, not ended") ||
		!strings.Contains(r.stderr, "amlctl erase kyc-2-r1772530215") || !strings.Contains(r.stderr, "1 of 2 runs of monitor kyc-2 not erased") {
		t.Fatalf("a run in flight: want the other erased, exit 1 saying so:\n%s", r)
	}
}

// TestMonitorsDeleteEraseHistoryChecksFirst: a storage that cannot be
// used stops it before the delete is sent.
func TestMonitorsDeleteEraseHistoryChecksFirst(t *testing.T) {
	t.Parallel()
	e := newMonitorEnv(t)
	for _, env := range []map[string]string{
		{"NATS_URL": e.env["NATS_URL"]},
		{"NATS_URL": e.env["NATS_URL"], "BLOB_DIR": "/no/such/dir"},
	} {
		r := amlctl(context.Background(), env, "monitors", "delete", "--erase-history", "kyc-1")
		if r.code != 1 || !strings.Contains(r.stderr, "BLOB_DIR") || r.stdout != "" {
			t.Errorf("%v: want exit 1 naming BLOB_DIR, nothing sent:\n%s", env, r)
		}
	}
	if s, err := e.js.Stream(context.Background(), kybflow.StreamCommands); err != nil {
		t.Fatal(err)
	} else if info, err := s.Info(context.Background()); err != nil || info.State.Msgs != 0 {
		t.Errorf("commands stored: %+v, %v; want none", info.State, err)
	}
}
