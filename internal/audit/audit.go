// Package audit is the record of who did what in the console: every
// document view and every action (a dead letter replayed, a lookup erased,
// a monitor paused, a login), with who, which lookup, when and why. It is a
// JetStream stream, <PREFIX>_AUDIT on <prefix>.audit.>, that refuses the
// deletion and the purge of messages (DenyDelete, DenyPurge, which
// JetStream never lets an update turn off), kept for AUDIT_MAX_AGE.
//
// Record returns only once the server has stored the entry, so that the
// console shows a document only after its view is recorded: a view that
// cannot be recorded does not happen. List reads the newest entries, of one
// lookup or of all, for the console's audit page.
package audit

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kybflow/kybflow"
)

// The actions the console records. Action is free text; these are the
// ones the console uses.
const (
	ActionLogin            = "login"              // a user logged in (Detail: the role)
	ActionViewDocument     = "view_document"      // a document was read for a user (Detail: the artifact)
	ActionReplayDeadLetter = "replay_dead_letter" // a dead letter was replayed (Detail: its sequence)
	ActionPurgeDeadLetter  = "purge_dead_letter"  // a dead letter was deleted (Detail: its sequence)
	ActionErase            = "erase"              // a lookup was erased; Reason is required
	ActionMonitorPause     = "monitor_pause"      // Detail: the monitor
	ActionMonitorResume    = "monitor_resume"     // Detail: the monitor
	ActionMonitorDelete    = "monitor_delete"     // Detail: the monitor
)

// Bounds of an entry's texts, in bytes.
const (
	MaxReason = 2000
	MaxDetail = 1000
)

// Actor is who acted: the console's user.
type Actor struct {
	Subject string `json:"subject"` // the ID token's sub ("local" without a login)
	Name    string `json:"name"`
	Role    string `json:"role"`
}

// LogValue shows the subject and the role; a name is personal data.
func (a Actor) LogValue() slog.Value {
	return slog.GroupValue(slog.String("subject", a.Subject), slog.String("role", a.Role))
}

// Entry is one record of the audit.
type Entry struct {
	// ID identifies the entry, and is its Nats-Msg-Id: recording an entry
	// again with the same ID (a retry) stores it once, within the stream's
	// duplicate window. Record sets a random one when empty.
	ID        string    `json:"id"`
	Actor     Actor     `json:"actor"`
	Action    string    `json:"action"`              // an Action* constant, lower case and underscores
	LookupKey string    `json:"lookupKey,omitempty"` // the lookup acted on, if any (kybflow.LookupKey)
	Detail    string    `json:"detail,omitempty"`    // e.g. the artifact's name
	Reason    string    `json:"reason,omitempty"`    // why; required for ActionErase
	At        time.Time `json:"at"`                  // Record sets the time when zero
}

// ErrInvalid is wrapped by the errors of Entry.Validate.
var ErrInvalid = errors.New("invalid audit entry")

// Validate checks an entry as Record does: an actor and an action, a valid
// lookup key if any, a reason for an erasure, bounded texts.
func (e Entry) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case e.Actor.Subject == "":
		return bad("no actor")
	case !validAction(e.Action):
		return bad("action %q is not lower-case words joined by underscores", e.Action)
	case e.LookupKey != "" && !kybflow.ValidLookupKey(e.LookupKey):
		return bad("lookup key %q is not one", e.LookupKey)
	case e.Action == ActionErase && strings.TrimSpace(e.Reason) == "":
		return bad("an erasure needs a reason")
	case e.Action == ActionErase && e.LookupKey == "":
		return bad("an erasure needs the lookup")
	case len(e.Reason) > MaxReason || len(e.Detail) > MaxDetail:
		return bad("reason or detail too long (at most %d and %d bytes)", MaxReason, MaxDetail)
	case !utf8.ValidString(e.Reason) || !utf8.ValidString(e.Detail) || !utf8.ValidString(e.Actor.Name):
		return bad("texts must be UTF-8")
	case len(e.ID) > 128 || strings.ContainsAny(e.ID, " \t\r\n"):
		return bad("id %q: at most 128 bytes, no white space", e.ID)
	}
	return nil
}

func validAction(a string) bool {
	if a == "" || len(a) > 64 || a[0] == '_' || a[len(a)-1] == '_' {
		return false
	}
	for _, r := range a {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Names are the stream and subjects of the audit of a deployment.
type Names struct{ s kybflow.Subjects }

// NamesOf are the audit's names for the subject prefix ("" for
// kybflow.DefaultPrefix).
func NamesOf(prefix string) (Names, error) {
	s, err := kybflow.NewSubjects(prefix)
	if err != nil {
		return Names{}, fmt.Errorf("audit: %w", err)
	}
	return Names{s}, nil
}

func (n Names) prefix() string { return strings.TrimSuffix(n.s.CommandsAll(), ".commands.>") }

// Stream is the audit stream's name: <PREFIX>_AUDIT, AML_AUDIT by default.
func (n Names) Stream() string { return strings.TrimSuffix(n.s.CommandsStream(), "COMMANDS") + "AUDIT" }

// All is the stream's subject filter: <prefix>.audit.>.
func (n Names) All() string { return n.prefix() + ".audit.>" }

// Subject is where an entry is published: <prefix>.audit.lookup.<key>
// for a lookup's, <prefix>.audit.other for the others (logins, monitors).
func (n Names) Subject(lookupKey string) string {
	if lookupKey == "" {
		return n.prefix() + ".audit.other"
	}
	return n.prefix() + ".audit.lookup." + lookupKey
}
