package audit

// The audit stream and its settings (AUDIT_MAX_AGE, AUDIT_REPLICAS). The
// worker's topology (internal/streams) does not make it: the console makes
// it at its first start with Ensure, and only the console uses it.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/envconfig"
)

// Defaults of Settings.
const (
	// DefaultMaxAge keeps entries 5 years: the record keeping of the AML
	// directive (article 40), which covers who saw a customer's data.
	DefaultMaxAge = 5 * 365 * 24 * time.Hour
	// DefaultReplicas: a single server; 3 on a production cluster.
	DefaultReplicas = 1
	// Duplicates is the stream's duplicate window: an entry recorded again
	// with the same ID within it is stored once.
	Duplicates = 10 * time.Minute
)

// Settings are the audit stream's: how long it keeps entries and on how
// many servers.
type Settings struct {
	MaxAge   time.Duration // AUDIT_MAX_AGE
	Replicas int           // AUDIT_REPLICAS
}

// DefaultSettings are DefaultMaxAge and DefaultReplicas.
func DefaultSettings() Settings { return Settings{MaxAge: DefaultMaxAge, Replicas: DefaultReplicas} }

// Register registers the settings, with the values c holds as defaults.
func (c *Settings) Register(s *envconfig.Set) {
	s.Duration(&c.MaxAge, "AUDIT_MAX_AGE", "audit-max-age", c.MaxAge,
		"how long the audit stream keeps entries (43800h: 5 years); a change needs an administrator: see docs/operations.md")
	s.Int(&c.Replicas, "AUDIT_REPLICAS", "audit-replicas", c.Replicas, "replicas of the audit stream: 1, or 3 or 5 on a cluster")
}

// Check reports every problem of c, each naming its variable.
func (c Settings) Check(ck *envconfig.Checker) {
	ck.Check(c.MaxAge >= Duplicates, "AUDIT_MAX_AGE", "must be at least %s, got %s", Duplicates, c.MaxAge)
	ck.Check(slices.Contains([]int{1, 3, 5}, c.Replicas), "AUDIT_REPLICAS", "must be 1, 3 or 5, got %d", c.Replicas)
}

// StreamConfig is the audit stream of the deployment n with settings c.
func (c Settings) StreamConfig(n Names) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: n.Stream(), Description: "The console's audit: who viewed what, and every action, with the reason.",
		Subjects: []string{n.All()}, Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage,
		Replicas: c.Replicas, MaxAge: c.MaxAge, Duplicates: Duplicates,
		// Full, it refuses new entries rather than dropping old ones: the
		// console then refuses to show documents (Record fails) instead of
		// losing the record. No byte bound by default: entries are small.
		Discard: jetstream.DiscardNew,
		// Records cannot be removed: JetStream refuses message deletes and
		// purges, and an update cannot turn these off.
		DenyDelete: true, DenyPurge: true,
	}
}

// ErrStreamDiffers is wrapped by Ensure's error when the stream exists
// with another configuration that the caller may not update (the console's
// NATS user can create the stream, not change it).
var ErrStreamDiffers = errors.New("the audit stream differs from its settings")

// Ensure creates the audit stream of the prefix, or checks it: when it
// exists as c says, nothing is changed (and no right to change it is
// needed); when it differs, it is updated, which needs the right to (an
// administrator's; the console's NATS user has not), else ErrStreamDiffers.
func Ensure(ctx context.Context, js jetstream.JetStream, prefix string, c Settings) (jetstream.Stream, error) {
	n, err := NamesOf(prefix)
	if err != nil {
		return nil, err
	}
	var ck envconfig.Checker
	c.Check(&ck)
	if err := ck.Err(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	want := c.StreamConfig(n)
	st, err := js.Stream(ctx, want.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		st, err = js.CreateStream(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("audit: create stream %s: %w", want.Name, err)
		}
		return st, nil
	case err != nil:
		return nil, fmt.Errorf("audit: stream %s: %w", want.Name, err)
	}
	have := st.CachedInfo().Config
	if same(have, want) {
		return st, nil
	}
	st, err = js.UpdateStream(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("audit: %w: %s has max age %s, %d replicas (want %s, %d), and cannot be updated: %w",
			ErrStreamDiffers, want.Name, have.MaxAge, have.Replicas, want.MaxAge, want.Replicas, err)
	}
	return st, nil
}

// same reports whether the stream have is the stream want, in what
// Settings and the audit's guarantees decide.
func same(have, want jetstream.StreamConfig) bool {
	return slices.Equal(have.Subjects, want.Subjects) && have.MaxAge == want.MaxAge && have.Replicas == want.Replicas &&
		have.Duplicates == want.Duplicates && have.DenyDelete && have.DenyPurge && have.Storage == want.Storage &&
		have.Retention == want.Retention && have.Discard == want.Discard
}
