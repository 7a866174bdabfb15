package lookups

// The record: what a lookup is and how far it got. Its fields change only
// through the transitions (transitions.go), applied by Store.Apply; this
// file holds its shape, its version, and the one place where a record
// written by an older version is brought up to date (decode).

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/kybflow/kybflow"
)

// State is where a lookup is in its life.
type State string

// The states, in order. Completed and Failed are terminal. Erased is not
// a step of a lookup's life but what an operator makes of it afterwards
// (erase.go): a tombstone that workers must ignore everything for.
const (
	Accepted  State = "accepted"  // valid, ours, no session yet
	Opening   State = "opening"   // a replica holds the lease and is creating the session
	Opened    State = "opened"    // session recorded; results being waited for and stored
	Completed State = "completed" // every artifact stored; the completed event is published next
	Failed    State = "failed"    // failed; the failed event is published next
	Erased    State = "erased"    // personal data erased: a tombstone; nothing more is done for the lookup
)

// Terminal reports whether nothing more happens to a lookup in state s
// because it ended. Erased is not terminal on purpose: a worker must not
// finish (publish the ending of) an erased lookup, but ignore it.
func (s State) Terminal() bool { return s == Completed || s == Failed }

// Version is the version of the record's shape that this code writes. A
// record of an older version is upgraded when it is decoded (decode); one
// of a newer version is not written by this code (ErrNewer), since every
// field it does not know would be lost.
//
//	0, 1  no version field; 1 wrote the ending's kind into Published
//	      with markedAtEnd, for version 0, which took that mark for
//	      "out". Version 0 also marked "check" there once the first check
//	      was published.
//	2     the events stream alone says whether an ending is out
//	      (handler.finish); Published holds non-terminal events only.
const Version = 2

// Record is the state of one lookup.
type Record struct {
	// Version is the shape of the record (Version); set on every write.
	Version int                   `json:"version"`
	State   State                 `json:"state"`
	Command kybflow.LookupCommand `json:"command"`
	// SessionID is BankID's session, once opened.
	SessionID string `json:"sessionId,omitempty"`
	// LeaseUntil is when an Opening lease ends: before it (plus LeaseSkew),
	// another replica leaves the lookup alone; after it, it may take over.
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	// LeaseHolder is a token of the claim that holds the lease, so that its
	// holder knows its own renewals (one applied unheard) from a take-over.
	LeaseHolder string `json:"leaseHolder,omitempty"`
	// LeaseSeq is the stream sequence of the command that holds the lease:
	// another command for the lookup (a duplicate) is acknowledged while
	// the lease is held, since the holder's own command carries the lookup.
	LeaseSeq uint64 `json:"leaseSeq,omitempty"`
	// OpenedSeq is the stream sequence of the command whose handler opened
	// the session: it alone announces the session (a redelivery of it
	// announces again, deduplicated by the stream); another command for
	// the lookup is a duplicate and announces nothing.
	OpenedSeq uint64 `json:"openedSeq,omitempty"`
	// Traceparent and Tracestate are the W3C trace context of the lookup
	// (its command's span), set when the record is created: the checks and
	// webhooks handled later continue its trace (internal/tracing).
	Traceparent string `json:"traceparent,omitempty"`
	Tracestate  string `json:"tracestate,omitempty"`
	// Artifacts stored so far, in the order they were stored.
	Artifacts []kybflow.Artifact `json:"artifacts,omitempty"`
	// OmittedExpands are requested expands the API left out of the result
	// (read from the stored JSON), for the completed event.
	OmittedExpands []string `json:"omittedExpands,omitempty"`
	// Summary is what the stored JSON says, without personal data, for
	// the completed event. Optional, so added without a Version bump: a
	// record written before it has none, and its completed event no
	// summary.
	Summary *kybflow.Summary `json:"summary,omitempty"`
	// ReportLinks are the report links the stored JSON gives (its
	// links.reports), by report type as the JSON names it: where a report
	// that the session answer does not list is downloaded from.
	// ResultsUntil is until when the results can be downloaded, as known
	// when the JSON was stored (the JSON's links.expires, the session's
	// jsonData expiry, or then plus the two-hour lifetime, whichever is
	// first): the wait for a wanted report ends then. MissingReports are
	// the wanted reports the lookup completed without, because they never
	// appeared within that wait. All optional: no version bump.
	ReportLinks    map[string]string `json:"reportLinks,omitempty"`
	ResultsUntil   time.Time         `json:"resultsUntil,omitzero"`
	MissingReports []string          `json:"missingReports,omitempty"`
	// Comparison is, for a monitor's run, how its JSON compares with the
	// previous run's: recorded before the ending, so that a redelivery
	// neither compares again nor reports twice. Optional: no version bump.
	Comparison *Comparison `json:"comparison,omitempty"`
	// Failure is the failed event's data, once failed.
	Failure *kybflow.FailedData `json:"failure,omitempty"`
	// Published lists the non-terminal events published for this lookup
	// (accepted, session_opened; erased on a tombstone). A stage publishes
	// first and marks here after, with its next transition, so a crash in
	// between re-publishes with the same Nats-Msg-Id (dropped by the
	// stream), and a duplicate command much later publishes nothing at
	// all. Whether an ending is out, the events stream says.
	Published []string `json:"published,omitempty"`

	AcceptedAt time.Time `json:"acceptedAt,omitzero"`
	OpenedAt   time.Time `json:"openedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// ErasedAt is when the lookup's personal data began to be erased
	// (state Erased).
	ErasedAt time.Time `json:"erasedAt,omitzero"`
}

// Comparison is a monitor run's comparison with the monitor's previous
// run.
type Comparison struct {
	// PreviousLookupID is the run compared with; empty for a monitor's
	// first run, compared with nothing.
	PreviousLookupID string                `json:"previousLookupId,omitempty"`
	Changed          bool                  `json:"changed"`
	Blocks           []kybflow.BlockChange `json:"blocks,omitempty"`
	// Diff is the stored structured diff, when something changed.
	Diff *kybflow.Artifact `json:"diff,omitempty"`
}

// Trace is the W3C trace context a record is created with.
type Trace struct{ Parent, State string }

// Phase is where a lookup is, as a stage saw it when it decided what to
// do: its state, its session and its lease holder. A transition decided
// on one phase applies only while the record is still in it (ErrMoved).
type Phase struct {
	State       State
	SessionID   string
	LeaseHolder string
}

// Phase returns the phase the record is in.
func (r Record) Phase() Phase {
	return Phase{State: r.State, SessionID: r.SessionID, LeaseHolder: r.LeaseHolder}
}

// Artifact returns the stored artifact with name, if any.
func (r Record) Artifact(name string) (kybflow.Artifact, bool) {
	i := slices.IndexFunc(r.Artifacts, func(a kybflow.Artifact) bool { return a.Name == name })
	if i < 0 {
		return kybflow.Artifact{}, false
	}
	return r.Artifacts[i], true
}

// HasPublished reports whether the event kind is marked in Published.
func (r Record) HasPublished(kind kybflow.Kind) bool {
	return slices.Contains(r.Published, string(kind))
}

// LogValue logs the state, not the command's personal fields.
func (r Record) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("lookup_id", r.Command.Key()),
		slog.String("state", string(r.State)),
		slog.String("session_id", r.SessionID),
		slog.Int("artifacts", len(r.Artifacts)),
	)
}

// clone is a copy of r that shares no slice or pointer with it: a
// transition changes the clone, and a refused or lost write leaves r as
// it was.
func (r Record) clone() Record {
	c := r
	c.Artifacts = slices.Clone(r.Artifacts)
	c.OmittedExpands = slices.Clone(r.OmittedExpands)
	c.ReportLinks = maps.Clone(r.ReportLinks)
	c.MissingReports = slices.Clone(r.MissingReports)
	c.Summary = r.Summary.Clone()
	if r.Comparison != nil {
		cmp := *r.Comparison
		cmp.Blocks = slices.Clone(cmp.Blocks)
		if cmp.Diff != nil {
			d := *cmp.Diff
			cmp.Diff = &d
		}
		c.Comparison = &cmp
	}
	c.Published = slices.Clone(r.Published)
	if r.Failure != nil {
		f := *r.Failure
		c.Failure = &f
	}
	return c
}

// encode is the stored form of r, at this Version. The command's metadata
// is kept byte for byte: the events made of the record echo it.
func encode(r Record) ([]byte, error) {
	r.Version = Version
	return kybflow.MarshalKeepingMetadata(r, r.Command.Metadata, "command", "metadata")
}

// decode reads a stored record, and upgrades one of an older version to
// this one: the only place that knows older shapes.
func decode(b []byte) (Record, error) {
	var stored struct {
		Record
		// MarkedAtEnd (version 1): the ending's mark in Published was
		// written with the ending, before its event.
		MarkedAtEnd bool `json:"markedAtEnd"`
	}
	if err := json.Unmarshal(b, &stored); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	r := stored.Record
	if r.Version > Version {
		return Record{}, fmt.Errorf("%w: version %d, this worker writes %d", ErrNewer, r.Version, Version)
	}
	if r.Version < 2 {
		// Whether an ending is out is the events stream's to say: a
		// version 1 mark only said it was due, and a version 0 mark, that
		// it was out, which the stream says too (or, when it keeps none of
		// the lookup's events, the duplicate window makes a repeat
		// harmless). The first check's mark of version 0 goes too: a
		// redelivered command publishes the check again under its
		// Nats-Msg-Id, which the stream drops.
		r.Published = slices.DeleteFunc(r.Published, func(m string) bool {
			return m == string(kybflow.KindCompleted) || m == string(kybflow.KindFailed) || m == "check"
		})
		if len(r.Published) == 0 {
			r.Published = nil
		}
	}
	r.Version = Version
	return r, nil
}

// Outlived is how long after its last change a lookup's record must be
// kept (LOOKUP_RETENTION, the bucket's max age) so that no lookup in
// flight loses it, for a LOOKUP_MAX_WAIT of maxWait: the wait for its
// results, during which nothing rewrites the record, and an hour's margin
// for the opening before it and the ending after it. A check older than
// this finds no record because retention removed it, never because a
// read lags.
func Outlived(maxWait time.Duration) time.Duration { return maxWait + time.Hour }
