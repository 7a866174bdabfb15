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

// eventsOf builds one event of each kind for c, and fails the test when
// NewEvent rejects one: everything ParseCommand accepts must make valid
// events.
func eventsOf(t testing.TB, c kybflow.LookupCommand) []kybflow.Event {
	t.Helper()
	failed := c.FailedData(kybflow.CodeRejected, "the AML API answered 400: "+strings.Repeat("x", 2000))
	failed.SessionID = goldenSession
	data := map[kybflow.Kind]any{
		kybflow.KindAccepted:      c.AcceptedData(),
		kybflow.KindSessionOpened: c.SessionOpenedData(goldenSession),
		kybflow.KindCompleted:     c.CompletedData(goldenSession, goldenArtifacts(t, c)),
		kybflow.KindFailed:        failed,
		kybflow.KindErased:        kybflow.ErasedData{LookupID: c.LookupID, Tenant: c.Tenant, ErasedAt: goldenTime},
	}
	var out []kybflow.Event
	for _, k := range kybflow.Kinds() {
		e, err := kybflow.NewEvent(kybflow.DefaultSource, k, c.Key(), goldenTime, data[k])
		if err != nil {
			t.Fatalf("NewEvent(%s) for %+v: %v", k, c, err)
		}
		out = append(out, e)
	}
	return out
}
