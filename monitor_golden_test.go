package kybflow_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
)

// The golden monitor: goldenCommand's organization, looked up every week
// for a year, by the monitor the command goldenMonitorCommandJSON creates.
// Its changed event is of the run a week after, compared with the first;
// its monitor event answers the create, the 42nd command of the stream.
const (
	goldenMonitorID  = "kyc-923609016"
	goldenMonitorSeq = 42

	goldenMonitorCommandJSON = `{
  "action": "create",
  "monitorId": "kyc-923609016",
  "lookup": { "type": "organization", "identifier": "923 609 016", "expands": ["roles"] },
  "schedule": { "every": "168h" },
  "until": "2027-03-02T00:00:00Z",
  "correlationId": "case-77",
  "metadata": { "customer": "c-991" }
}`
)

var (
	// goldenRunAt is when the second run was due; the first was a week
	// before.
	goldenRunAt = time.Date(2026, 3, 9, 9, 30, 15, 0, time.UTC)
	goldenUntil = time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC)
)

func goldenRunID() string { return kybflow.RunLookupID(goldenMonitorID, goldenRunAt) }

func goldenPreviousRunID() string {
	return kybflow.RunLookupID(goldenMonitorID, goldenRunAt.Add(-168*time.Hour))
}

// goldenMonitorCommand is goldenMonitorCommandJSON parsed.
func goldenMonitorCommand(t testing.TB) kybflow.MonitorCommand {
	t.Helper()
	c, err := kybflow.ParseMonitorCommand([]byte(goldenMonitorCommandJSON))
	if err != nil {
		t.Fatalf("ParseMonitorCommand(golden): %v", err)
	}
	return c
}

// goldenChangedData: the second run found a role added and one modified.
func goldenChangedData(t testing.TB) kybflow.ChangedData {
	t.Helper()
	key, err := kybflow.ObjectKeys{}.Key(goldenRunID(), kybflow.ArtifactDiff)
	if err != nil {
		t.Fatal(err)
	}
	return kybflow.ChangedData{
		LookupID: goldenRunID(), CorrelationID: "case-77", Metadata: json.RawMessage(`{"customer":"c-991"}`),
		MonitorID: goldenMonitorID, PreviousLookupID: goldenPreviousRunID(),
		Blocks: []kybflow.BlockChange{{Block: "roles", Added: 1, Modified: 1}},
		Diff: kybflow.Artifact{Name: kybflow.ArtifactDiff, Bucket: "kybflow-results", Key: key, Size: 612,
			SHA256: strings.Repeat("fedcba9876543210", 4), ContentType: kybflow.ArtifactContentType(kybflow.ArtifactDiff)},
	}
}

// goldenMonitorData: the create was applied.
func goldenMonitorData() kybflow.MonitorData {
	until := goldenUntil
	return kybflow.MonitorData{
		MonitorID: goldenMonitorID, CorrelationID: "case-77", Metadata: json.RawMessage(`{"customer":"c-991"}`),
		Action: kybflow.MonitorCreate, Status: kybflow.MonitorActive,
		Schedule: &kybflow.Schedule{Every: "168h"}, Until: &until,
	}
}
