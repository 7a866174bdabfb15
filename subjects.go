package kybflow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultPrefix is the subject prefix when none is configured.
const DefaultPrefix = "aml"

// MaxPrefixLength is the longest subject prefix.
const MaxPrefixLength = 64

// Stream names for the default prefix. With another prefix they change
// too (see Subjects.CommandsStream), so that two deployments with
// different prefixes can share a NATS account.
const (
	StreamCommands   = "AML_COMMANDS"   // work queue: lookup and monitor commands
	StreamEvents     = "AML_EVENTS"     // limits, max age: CloudEvents
	StreamDeadLetter = "AML_DEADLETTER" // limits: unreadable commands
)

// Subjects names the NATS subjects and JetStream streams of one
// deployment. The zero value uses DefaultPrefix.
//
// Methods that take a lookupID expect a valid one (ValidLookupID, which
// ParseCommand guarantees): it is used as one subject token.
type Subjects struct {
	// Prefix is one or more dot-separated tokens, each a lower-case letter
	// followed by lower-case letters, digits and '-', e.g. "aml" or
	// "acme.aml" (Validate). Stricter than NATS requires, because stream
	// names and message ids are made from it.
	Prefix string
}

// NewSubjects returns the Subjects of prefix ("" for DefaultPrefix), or an
// error when the prefix is invalid.
func NewSubjects(prefix string) (Subjects, error) {
	s := Subjects{Prefix: prefix}
	return s, s.Validate()
}

// ErrInvalidPrefix is wrapped by the error of Subjects.Validate.
var ErrInvalidPrefix = errors.New("invalid subject prefix")

// reservedTokens are the tokens that follow the prefix in the subjects of
// kybflow (this package's and the internal streams'). A prefix holding one
// would make subjects of another deployment's streams: the events stream
// of prefix "acme" (acme.events.>) holds every subject of prefix
// "acme.events".
var reservedTokens = []string{"commands", "events", "deadletter", "webhooks", "checks", "schedules"}

// Validate checks the prefix ("" means DefaultPrefix): at most
// MaxPrefixLength characters; dot-separated tokens, each a lower-case
// letter (a-z) followed by lower-case letters, digits and '-'; no token
// one of the words kybflow's subjects use after the prefix (commands,
// events, deadletter, webhooks, checks, schedules).
//
// The rule makes the names derived from a prefix distinct for distinct
// prefixes and valid everywhere they are used: a stream name is the prefix
// in upper case with dots as underscores, so upper case ("AML" would share
// "aml"'s streams) and '_' ("a_b" would share "a.b"'s) are refused; every
// derived name and message id (a dead letter's <stream>.<sequence>)
// matches the patterns of docs/asyncapi.yaml; and no deployment's stream
// holds the subjects of another's. Every binary checks it at start.
func (s Subjects) Validate() error {
	p := s.Prefix
	if p == "" {
		return nil
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidPrefix, p, fmt.Sprintf(format, args...))
	}
	if len(p) > MaxPrefixLength {
		return invalid("longer than %d characters", MaxPrefixLength)
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return invalid("empty token")
		}
		if c := tok[0]; c < 'a' || c > 'z' {
			return invalid("token %q does not start with a lower-case letter a-z", tok)
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return invalid("character %q not allowed; want dot-separated tokens of a-z 0-9 - (lower case, no '_': stream names are the prefix in upper case with dots as '_')", c)
			}
		}
		if slices.Contains(reservedTokens, tok) {
			return invalid("token %q is a word of kybflow's subjects (%s)", tok, strings.Join(reservedTokens, ", "))
		}
	}
	return nil
}

func (s Subjects) prefix() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

// CommandLookup is where platforms publish lookup commands:
// <prefix>.commands.lookup.
func (s Subjects) CommandLookup() string { return s.prefix() + ".commands.lookup" }

// CommandMonitor is where platforms publish monitor commands:
// <prefix>.commands.monitor (monitor.go). Like lookup commands, they are
// in the commands stream.
func (s Subjects) CommandMonitor() string { return s.prefix() + ".commands.monitor" }

// CommandMonitorOf is where the platform of tenant publishes its monitor
// commands: <prefix>.commands.monitor.<tenant>, or CommandMonitor without
// a tenant.
func (s Subjects) CommandMonitorOf(tenant string) string {
	if tenant == "" {
		return s.CommandMonitor()
	}
	return s.CommandMonitor() + "." + tenant
}

// MonitorCommandTenant is the tenant of a monitor command published on
// subject, and whether subject is where monitor commands are published:
// CommandMonitor (no tenant) or CommandMonitorOf a valid tenant. With
// CommandTenant, which answers the same for lookup commands, it tells the
// two kinds of command apart; a subject of the commands stream that
// neither accepts is no command.
func (s Subjects) MonitorCommandTenant(subject string) (string, bool) {
	return tenantOf(subject, s.CommandMonitor())
}

// tenantOf is the tenant of subject under base: "" for base itself, the
// token after it for base.<tenant>, and false for anything else.
func tenantOf(subject, base string) (string, bool) {
	if subject == base {
		return "", true
	}
	tenant, ok := strings.CutPrefix(subject, base+".")
	return tenant, ok && ValidTenant(tenant)
}

// CommandsAll is the subject filter of the commands stream:
// <prefix>.commands.>.
func (s Subjects) CommandsAll() string { return s.prefix() + ".commands.>" }

// Event is where the event of kind for a lookup is published:
// <prefix>.events.<lookupId>.<kind>.
func (s Subjects) Event(lookupID string, kind Kind) string {
	return s.prefix() + ".events." + lookupID + "." + string(kind)
}

// EventsFor matches every event of one lookup, by its key (LookupKey):
// <prefix>.events.<key>.*. The last token is a wildcard for one token, not
// >, so that the untenanted lookup "acme" never matches the events of
// tenant acme's lookups.
func (s Subjects) EventsFor(key string) string {
	return s.prefix() + ".events." + key + ".*"
}

// EventsAll matches every event, and is the events stream's subject
// filter: <prefix>.events.>.
func (s Subjects) EventsAll() string { return s.prefix() + ".events.>" }

// DeadLetterCommands is where unreadable commands go, with the headers of
// deadletter.go: <prefix>.deadletter.commands.
func (s Subjects) DeadLetterCommands() string { return s.prefix() + ".deadletter.commands" }

// DeadLetterAll is the dead-letter stream's subject filter:
// <prefix>.deadletter.>.
func (s Subjects) DeadLetterAll() string { return s.prefix() + ".deadletter.>" }

// CommandsStream is the name of the commands stream: AML_COMMANDS for the
// default prefix; for another, the prefix in upper case with dots as
// underscores, e.g. ACME_AML_COMMANDS for "acme.aml".
func (s Subjects) CommandsStream() string { return s.stream("COMMANDS") }

// EventsStream is the name of the events stream (see CommandsStream).
func (s Subjects) EventsStream() string { return s.stream("EVENTS") }

// DeadLetterStream is the name of the dead-letter stream (see
// CommandsStream).
func (s Subjects) DeadLetterStream() string { return s.stream("DEADLETTER") }

func (s Subjects) stream(name string) string {
	return strings.ToUpper(strings.ReplaceAll(s.prefix(), ".", "_")) + "_" + name
}
