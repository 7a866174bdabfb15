package kybflow

// The events of monitors: monitor (what happened to a monitor) on the
// monitor's subjects, and changed (what a run found changed) on its run's.

import (
	"encoding/json"
	"time"
)

// MonitorStatus is where a monitor is.
type MonitorStatus string

// The monitor statuses.
const (
	MonitorActive  MonitorStatus = "active"  // runs on its schedule
	MonitorPaused  MonitorStatus = "paused"  // no runs until resumed
	MonitorEnded   MonitorStatus = "ended"   // past its until: no more runs
	MonitorDeleted MonitorStatus = "deleted" // deleted: no more runs
)

// MonitorData is the data of a monitor event: a monitor command was
// applied (Action, the monitor's Status after it) or rejected (Code and
// Reason, Status empty), or the monitor ended (Action "end").
type MonitorData struct {
	MonitorID     string          `json:"monitorId"`
	Tenant        string          `json:"tenant,omitempty"`
	CorrelationID string          `json:"correlationId,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	Action        MonitorAction   `json:"action"`
	Status        MonitorStatus   `json:"status,omitempty"`
	Schedule      *Schedule       `json:"schedule,omitempty"`
	Until         *time.Time      `json:"until,omitempty"`
	// Code and Reason say why a command was rejected (invalid_command,
	// invalid_identifier, or rejected: it does not apply to the monitor
	// as it is, e.g. a create for a monitorId that exists).
	Code   FailureCode `json:"code,omitempty"`
	Reason string      `json:"reason,omitempty"`
}

// MonitorEnd is the Action of the monitor event of a monitor that
// reached its until.
const MonitorEnd MonitorAction = "end"

// BlockChange counts what changed in one block of a run's JSON since the
// previous run: entries of a list added, removed and modified, or fields
// of an object block modified. It names no entry.
type BlockChange struct {
	Block string `json:"block"`
	// Presence is "appeared" for a block the previous run did not have
	// (its entries count as added), "disappeared" for one the run no
	// longer has (as removed), and absent for one in both.
	Presence string `json:"presence,omitempty"`
	Added    int    `json:"added"`
	Removed  int    `json:"removed"`
	Modified int    `json:"modified"`
}

// ChangedData is the data of a changed event: a monitor's run found its
// JSON changed since the previous run. It holds no personal data: which
// blocks changed and how many entries; the full structured diff is the
// Diff artifact, stored beside the run's results.
type ChangedData struct {
	LookupID         string          `json:"lookupId"`
	Tenant           string          `json:"tenant,omitempty"`
	CorrelationID    string          `json:"correlationId,omitempty"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	MonitorID        string          `json:"monitorId"`
	PreviousLookupID string          `json:"previousLookupId"`
	Blocks           []BlockChange   `json:"blocks"`
	Diff             Artifact        `json:"diff"`
}

// ArtifactDiff names the structured diff of a monitor's run against the
// previous run (JSON), stored beside the run's results.
const ArtifactDiff = "diff"
