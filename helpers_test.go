package kybflow_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
)

// commandFiles returns the contents of testdata/commands/<prefix>*.json.
func commandFiles(t testing.TB, prefix string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "commands", prefix+"*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no command files %s*: %v", prefix, err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// producedEvents parses each command and builds the events the worker
// would publish for it: every kind, with realistic artifacts.
func producedEvents(t testing.TB, commands ...[]byte) []kybflow.Event {
	t.Helper()
	var out []kybflow.Event
	for _, data := range commands {
		c, err := kybflow.ParseCommand(data)
		if err != nil {
			t.Fatalf("ParseCommand(%s): %v", data, err)
		}
		out = append(out, eventsOf(t, c)...)
	}
	return out
}

// eventsOf builds one event of each kind of a lookup for c (every kind but
// monitor, which is a monitor's; changed as if c were a monitor's run),
// and fails the test when NewEvent rejects one: everything ParseCommand
// accepts must make valid events.
func eventsOf(t testing.TB, c kybflow.LookupCommand) []kybflow.Event {
	t.Helper()
	failed := c.FailedData(kybflow.CodeRejected, "the AML API answered 400: "+strings.Repeat("x", 2000))
	failed.SessionID = goldenSession
	changed := goldenChangedData(t)
	changed.LookupID, changed.Tenant, changed.CorrelationID, changed.Metadata = c.LookupID, c.Tenant, c.CorrelationID, c.Metadata
	data := map[kybflow.Kind]any{
		kybflow.KindAccepted:      c.AcceptedData(),
		kybflow.KindSessionOpened: c.SessionOpenedData(goldenSession),
		kybflow.KindChanged:       changed,
		kybflow.KindCompleted:     c.CompletedData(goldenSession, goldenArtifacts(t, c)),
		kybflow.KindFailed:        failed,
		kybflow.KindErased:        kybflow.ErasedData{LookupID: c.LookupID, Tenant: c.Tenant, ErasedAt: goldenTime},
	}
	var out []kybflow.Event
	for _, k := range lookupKinds() {
		e, err := kybflow.NewEvent(kybflow.DefaultSource, k, c.Key(), goldenTime, data[k])
		if err != nil {
			t.Fatalf("NewEvent(%s) for %+v: %v", k, c, err)
		}
		out = append(out, e)
	}
	return out
}

// lookupKinds are the kinds of a lookup's events: every kind but monitor.
func lookupKinds() []kybflow.Kind {
	var out []kybflow.Kind
	for _, k := range kybflow.Kinds() {
		if k != kybflow.KindMonitor {
			out = append(out, k)
		}
	}
	return out
}
