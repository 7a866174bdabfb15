package messages_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/messages"
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
func producedEvents(t testing.TB, commands ...[]byte) []messages.Event {
	t.Helper()
	var out []messages.Event
	for _, data := range commands {
		c, err := messages.ParseCommand(data)
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
func eventsOf(t testing.TB, c messages.LookupCommand) []messages.Event {
	t.Helper()
	failed := c.FailedData(messages.CodeRejected, "the AML API answered 400: "+strings.Repeat("x", 2000))
	failed.SessionID = goldenSession
	data := map[messages.Kind]any{
		messages.KindAccepted:      c.AcceptedData(),
		messages.KindSessionOpened: c.SessionOpenedData(goldenSession),
		messages.KindCompleted:     c.CompletedData(goldenSession, goldenArtifacts(t, c)),
		messages.KindFailed:        failed,
	}
	var out []messages.Event
	for _, k := range messages.Kinds() {
		e, err := messages.NewEvent(messages.DefaultSource, k, c.LookupID, goldenTime, data[k])
		if err != nil {
			t.Fatalf("NewEvent(%s) for %+v: %v", k, c, err)
		}
		out = append(out, e)
	}
	return out
}
