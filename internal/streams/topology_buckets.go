package streams

// The key-value buckets of the topology: the lookups' records, the
// session budget's counters and the monitors' records.

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// bucket holds one record per lookup, kept for LookupsMaxAge after its
// last change.
func (t Topology) bucket() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: NamesOf(t.Subjects).LookupsBucket(), Description: "Lookup state records, by lookupId.",
		History: 1, TTL: t.LookupsMaxAge, Storage: jetstream.FileStorage, Replicas: t.Replicas,
		MaxBytes: bound(t.LookupsMaxBytes),
	}
}

// budgetBucket holds the session budget's counters: one small key per
// limit and window, kept for BudgetMaxAge after its last change.
func (t Topology) budgetBucket() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: NamesOf(t.Subjects).BudgetBucket(), Description: "Session budget counters, by limit and window.",
		History: 1, TTL: max(t.BudgetMaxAge, DefaultBudgetMaxAge), Storage: jetstream.FileStorage, Replicas: t.Replicas,
		MaxBytes: budgetMaxBytes,
	}
}

// monitorsBucket holds one record per monitor; a deleted monitor's goes.
func (t Topology) monitorsBucket() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: NamesOf(t.Subjects).MonitorsBucket(), Description: "Monitor records, by monitor key.",
		History: 1, Storage: jetstream.FileStorage, Replicas: t.Replicas, MaxBytes: monitorsMaxBytes,
	}
}

// schedulesMaxBytes and monitorsMaxBytes bound the monitors' stream and
// bucket: a schedule is a few hundred bytes and a record about 2 KiB, so
// a million monitors fit.
const (
	schedulesMaxBytes = 1 << 30
	monitorsMaxBytes  = 4 << 30
)

// DefaultBudgetMaxAge is how long a budget counter is kept at least: two
// windows of a day. A longer window needs BudgetMaxAge of two of it.
const DefaultBudgetMaxAge = 48 * time.Hour

// budgetMaxBytes bounds the budget's bucket: a few keys of a few bytes
// per window, for two days of windows of a second at most.
const budgetMaxBytes = 64 << 20
