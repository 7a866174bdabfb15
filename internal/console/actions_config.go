package console

// The worker's settings the console's actions read: what an erasure needs
// (EVENT_SOURCE, BLOB_KEY_PREFIX, and S3_BUCKET with S3, as amlctl erase
// reads them) and SESSION_BUDGET for the health page. Each is optional:
// without it, the page that needs it says what is missing.

import (
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/erasure"
)

// ActionSettings are the worker's settings behind the console's actions.
type ActionSettings struct {
	// KeyPrefix is the worker's BLOB_KEY_PREFIX: where an erasure finds a
	// lookup's objects.
	KeyPrefix string
	// EventSource is the worker's EVENT_SOURCE: the source of the erased
	// event an erasure publishes. "" (a Config built by hand): the console
	// does not erase.
	EventSource string
	// Budget is the worker's SESSION_BUDGET: the health page shows what
	// each limit has left. Nil: the page says the console does not know it.
	Budget []budget.Limit
}

// Register registers the settings on s, with the worker's variables and
// defaults.
func (a *ActionSettings) Register(s *envconfig.Set) {
	s.KeyPrefix(&a.KeyPrefix)
	s.EventSource(&a.EventSource)
	s.Func("SESSION_BUDGET", "session-budget", "", "the worker's SESSION_BUDGET, for the health page to show what each limit has left (empty: not shown)",
		func(v string) (err error) { a.Budget, err = budget.ParseLimits(v); return err })
}

// Check checks the settings that are set.
func (a ActionSettings) Check(ck *envconfig.Checker) {
	if a.KeyPrefix != "" {
		ck.KeyPrefix(a.KeyPrefix)
	}
	if a.EventSource != "" {
		_, err := erasure.ErasedEvent(a.EventSource, "x", time.Now())
		ck.Check(err == nil, envconfig.EnvEventSource, "%q: want an absolute URI, the worker's EVENT_SOURCE (%s by default)", a.EventSource, kybflow.DefaultSource)
	}
}
