package streams

// The worker's own subjects and stream names: checks, webhooks and the
// lookups bucket travel inside a deployment and are no part of the public
// contract (package kybflow names the commands, events and dead letters).

import (
	"strings"

	"github.com/kybflow/kybflow"
)

// Default names of the internal streams and bucket (prefix "aml").
const (
	StreamWebhooks  = "AML_WEBHOOKS"  // work queue: verified AML webhooks
	StreamChecks    = "AML_CHECKS"    // work queue: scheduled session checks
	BucketLookups   = "AML_LOOKUPS"   // key-value: one record per lookup
	BucketBudget    = "AML_BUDGET"    // key-value: the session budget's counters
	StreamSchedules = "AML_SCHEDULES" // monitors' schedules and their fires
	BucketMonitors  = "AML_MONITORS"  // key-value: one record per monitor
)

// Names are a deployment's subjects and stream names: the public ones of
// kybflow.Subjects, and the worker's own.
type Names struct{ kybflow.Subjects }

// NamesOf are the names of the deployment of s.
func NamesOf(s kybflow.Subjects) Names { return Names{s} }

// prefix is the subject prefix (the default when none is set).
func (n Names) prefix() string { return strings.TrimSuffix(n.CommandsAll(), ".commands.>") }

// stream names a stream of this deployment, as CommandsStream does.
func (n Names) stream(name string) string {
	return strings.TrimSuffix(n.CommandsStream(), "COMMANDS") + name
}

// Webhook is where the webhook bridge publishes a verified AML webhook
// for a lookup: <prefix>.webhooks.<key>. The worker registers each
// session's webhook URL with the lookup's key in it.
func (n Names) Webhook(key string) string { return n.prefix() + ".webhooks." + key }

// WebhookLookupID is the lookup key of a Webhook subject, and whether
// subject is one (of this prefix, with a valid key: ValidLookupKey).
func (n Names) WebhookLookupID(subject string) (string, bool) {
	id, ok := strings.CutPrefix(subject, n.prefix()+".webhooks.")
	return id, ok && kybflow.ValidLookupKey(id)
}

// WebhooksAll is the webhooks stream's subject filter: <prefix>.webhooks.>.
func (n Names) WebhooksAll() string { return n.prefix() + ".webhooks.>" }

// Check is where the worker schedules the next session check (poll) of a
// lookup: <prefix>.checks.<key>.
func (n Names) Check(key string) string { return n.prefix() + ".checks." + key }

// ChecksAll is the checks stream's subject filter: <prefix>.checks.>.
func (n Names) ChecksAll() string { return n.prefix() + ".checks.>" }

// WebhooksStream is the name of the webhooks stream (see
// kybflow.Subjects.CommandsStream).
func (n Names) WebhooksStream() string { return n.stream("WEBHOOKS") }

// ChecksStream is the name of the checks stream.
func (n Names) ChecksStream() string { return n.stream("CHECKS") }

// LookupsBucket is the name of the key-value bucket of lookup state
// records: AML_LOOKUPS for the default prefix.
func (n Names) LookupsBucket() string { return n.stream("LOOKUPS") }

// BudgetBucket is the name of the key-value bucket of the session
// budget's counters (internal/budget), one per limit and window.
func (n Names) BudgetBucket() string { return n.stream("BUDGET") }

// SchedulesStream is the name of the stream of monitors' schedules and
// their fires (JetStream message schedules: a schedule publishes its
// fires on a subject of its own stream only).
func (n Names) SchedulesStream() string { return n.stream("SCHEDULES") }

// MonitorsBucket is the name of the key-value bucket of monitor records.
func (n Names) MonitorsBucket() string { return n.stream("MONITORS") }

// Schedule is the subject of a monitor's schedule message (one per
// monitor, the stream keeps the last): <prefix>.schedules.set.<key>.
func (n Names) Schedule(key string) string { return n.prefix() + ".schedules.set." + key }

// Fire is where a monitor's schedule publishes each fire:
// <prefix>.schedules.fire.<key>.
func (n Names) Fire(key string) string { return n.prefix() + ".schedules.fire." + key }

// FiresAll is the monitors consumer's filter: <prefix>.schedules.fire.>.
func (n Names) FiresAll() string { return n.prefix() + ".schedules.fire.>" }

// SchedulesAll is the schedules stream's subject filter.
func (n Names) SchedulesAll() string { return n.prefix() + ".schedules.>" }

// FireMonitor is the monitor key of a Fire subject, and whether subject
// is one (of this prefix, with a valid key).
func (n Names) FireMonitor(subject string) (string, bool) {
	key, ok := strings.CutPrefix(subject, n.prefix()+".schedules.fire.")
	return key, ok && kybflow.ValidLookupKey(key)
}
