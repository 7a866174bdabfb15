// The topology step: the streams, the bucket and the consumers the worker
// settings describe, who makes them (TOPOLOGY_MODE), and `worker
// topology`, the operator's command that makes them.

package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/streams"
)

// topology is what c's settings make of the streams, the bucket and the
// consumers; checkTopology checks every setting it reads.
func (c *Config) topology(log *slog.Logger) streams.Topology {
	subjects, _ := kybflow.NewSubjects(c.SubjectPrefix) // checked by checkTopology
	return streams.Topology{
		Subjects: subjects, Replicas: c.StreamReplicas, Duplicates: c.Duplicates, EventsMaxAge: c.EventsMaxAge,
		LookupsMaxAge: c.LookupsMaxAge, AckWait: c.AckWait, DeadLetterMaxAge: c.DeadLetterAge,
		WebhookMaxDeliver: c.WebhookDeliver, Logger: log, BudgetMaxAge: 2 * budget.MaxWindow(c.SessionBudget),
		CommandsMaxBytes: c.CommandsMaxBytes, ChecksMaxBytes: c.ChecksMaxBytes, WebhooksMaxBytes: c.WebhooksMaxBytes,
		EventsMaxBytes: c.EventsMaxBytes, DeadLetterMaxBytes: c.DeadLetterMaxBytes, LookupsMaxBytes: c.LookupsMaxBytes,
		CommandMaxMsgSize: int32(c.CommandMaxMsgSize), WebhookMaxMsgSize: int32(c.WebhookMaxMsgSize), // at most 64 MiB: validateBounds
	}
}

// makeTopology makes the topology (manage) or checks that the operator
// has (verify), retrying until ctx ends.
func (a *App) makeTopology(ctx context.Context) (*streams.Resources, error) {
	if a.cfg.TopologyMode == TopologyVerify {
		return streams.Verify(ctx, a.js, a.topo, a.topoState.failed)
	}
	t := a.topo
	t.Failed = a.topoState.failed
	return streams.Ensure(ctx, a.js, t)
}

// recreate is the consume loop's Recreate for the named consumer: made
// again in manage mode; in verify mode none (the loop waits for the
// operator to make it again, and says so).
func (a *App) recreate(name string) func(context.Context) (jetstream.Consumer, error) {
	if a.cfg.TopologyMode == TopologyVerify {
		return nil
	}
	return func(ctx context.Context) (jetstream.Consumer, error) {
		return streams.EnsureConsumer(ctx, a.js, a.topo, name)
	}
}

// topologyState is the last error of the topology step, for /readyz while
// it has not succeeded (verify mode says which resource is missing).
type topologyState struct {
	mu   sync.Mutex
	last error
}

func (s *topologyState) failed(err error) {
	s.mu.Lock()
	s.last = err
	s.mu.Unlock()
}

func (s *topologyState) lastErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// TopologyMain is `worker topology`, the operator's command: it creates or
// updates the streams, the bucket and the consumers once, as a worker in
// TOPOLOGY_MODE=manage does at start, and returns. It reads the worker's
// settings (the same ConfigMap) but checks and uses only NATS's and the
// streams' (ValidateTopology): the AML_* and S3_* ones may be missing. Like
// the worker it retries while JetStream cannot do it yet, for up to
// STARTUP_TIMEOUT. Idempotent: run again unchanged, it changes nothing.
func TopologyMain(ctx context.Context, args []string, lookup envconfig.Lookup, stdout, stderr io.Writer) error {
	var cfg Config
	set := envconfig.New("worker topology", lookup, stderr)
	cfg.Settings(set)
	set.SetUsage(topologyUsage)
	if err := set.Parse(args); err != nil {
		return err
	}
	if len(set.Args()) > 0 {
		return fmt.Errorf("topology takes no arguments, got %q", set.Args())
	}
	if err := cfg.ValidateTopology(); err != nil {
		return err
	}
	log, err := cfg.Log.New(stdout)
	if err != nil {
		return err
	}
	conn, err := streams.Connect(cfg.NATS, "kybflow-topology", log)
	if err != nil {
		return err
	}
	defer conn.Close()
	js, err := jetstream.New(conn.Conn)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartupTimeout)
	defer cancel()
	topo := cfg.topology(log)
	if _, err := streams.Ensure(ctx, js, topo); err != nil {
		if cerr := conn.Check(ctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("nats: %w", cerr)) // why it never got an answer
		}
		return fmt.Errorf("NATS_URL %s: within STARTUP_TIMEOUT (%s): %w", envconfig.RedactURLs(cfg.NATS.URL), cfg.StartupTimeout, err)
	}
	log.Info("topology ensured: streams, bucket and consumers are made and up to date",
		"prefix", topo.Subjects.Prefix, "replicas", topo.Replicas, "nats", cfg.NATS)
	return nil
}

const topologyUsage = `Usage: worker topology [flags]

Creates or updates the JetStream streams, the KV bucket and the durable
consumers of the worker once, then exits 0: the operator's step when the
workers run with TOPOLOGY_MODE=verify (their NATS user may not manage
streams). Run it as a NATS user allowed to (kybflow-operator in
deploy/nats/kybflow-users.conf), before the workers start and after every
change of the settings below. Running it again unchanged changes nothing.

It reads the worker's variables (give it the worker's ConfigMap) and uses
only the NATS_* ones, AML_SUBJECT_PREFIX, STARTUP_TIMEOUT, LOG_* and those
of the streams (STREAM_REPLICAS, *_MAX_AGE, *_MAX_BYTES, *_MAX_MSG_SIZE,
DUPLICATE_WINDOW, LOOKUP_RETENTION, ACK_WAIT, WEBHOOK_MAX_DELIVER); the
AML_* and S3_* ones may be missing. It retries while JetStream cannot do it
yet, for up to STARTUP_TIMEOUT.

`
