package streams

// Verify: the topology's check for a worker that may not manage it
// (TOPOLOGY_MODE=verify). Kept beside topology.go, whose Ensure it mirrors.

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrMissing is wrapped by Verify's errors when a stream, the bucket or a
// consumer does not exist: in verify mode the worker makes none, the
// operator does, with `worker topology`.
var ErrMissing = errors.New("not found: run `worker topology` as the operator (TOPOLOGY_MODE=verify makes nothing)")

// ErrOutdated is wrapped by Verify's errors when a stream exists but
// lacks a setting this version relies on.
var ErrOutdated = errors.New("made by an older version: run `worker topology` as the operator to update it")

// Verify checks that every stream, the bucket and every consumer of t
// exist, and returns them as Ensure does, without creating, updating or
// deleting anything: it asks only for stream info, consumer info and the
// bucket, which is all a worker's NATS user needs for it.
//
// A missing one is waited for like any other failure (the operator's job
// may still be running), until ctx ends: give ctx the start-up deadline.
// The error of each failed attempt goes to failed, when set (readiness
// shows it); a missing one's wraps ErrMissing and names it.
func Verify(ctx context.Context, js jetstream.JetStream, t Topology, failed func(error)) (*Resources, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	attempt := func(f func(ctx context.Context) error) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			err := f(ctx)
			if err != nil && failed != nil {
				failed(err)
			}
			return err
		}
	}
	res := &Resources{}
	for _, cfg := range t.streams() {
		if err := t.retry(ctx, "verify stream "+cfg.Name, attempt(func(ctx context.Context) error {
			st, err := js.Stream(ctx, cfg.Name)
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("stream %s %w", cfg.Name, ErrMissing)
			}
			if err != nil {
				return fmt.Errorf("stream %s: %w", cfg.Name, err)
			}
			if cfg.AllowDirect && !st.CachedInfo().Config.AllowDirect {
				// The worker and tenants' platforms read events by direct
				// get only (their users may not read the stream otherwise):
				// an events stream made by an older version lacks it.
				return fmt.Errorf("stream %s does not allow direct gets: %w", cfg.Name, ErrOutdated)
			}
			if cfg.AllowMsgSchedules && !st.CachedInfo().Config.AllowMsgSchedules {
				return fmt.Errorf("stream %s does not keep message schedules: %w", cfg.Name, ErrOutdated)
			}
			switch cfg.Name {
			case t.Subjects.EventsStream():
				res.Events = st
			case NamesOf(t.Subjects).SchedulesStream():
				res.Schedules = st
			}
			return nil
		})); err != nil {
			return nil, err
		}
	}
	for _, b := range []struct {
		bucket string
		kv     *jetstream.KeyValue
	}{{t.bucket().Bucket, &res.Lookups}, {t.budgetBucket().Bucket, &res.Budget}, {t.monitorsBucket().Bucket, &res.Monitors}} {
		if err := t.retry(ctx, "verify bucket "+b.bucket, attempt(func(ctx context.Context) (err error) {
			*b.kv, err = js.KeyValue(ctx, b.bucket)
			if errors.Is(err, jetstream.ErrBucketNotFound) {
				return fmt.Errorf("bucket %s %w", b.bucket, ErrMissing)
			}
			if err != nil {
				return fmt.Errorf("bucket %s: %w", b.bucket, err)
			}
			return nil
		})); err != nil {
			return nil, err
		}
	}
	for name, c := range map[string]*jetstream.Consumer{ConsumerCommands: &res.Commands, ConsumerChecks: &res.Checks, ConsumerWebhooks: &res.Webhooks, ConsumerMonitors: &res.Fires} {
		stream, _, _ := t.consumer(name)
		if err := t.retry(ctx, fmt.Sprintf("verify consumer %s on %s", name, stream), attempt(func(ctx context.Context) (err error) {
			*c, err = js.Consumer(ctx, stream, name)
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("consumer %s on %s %w", name, stream, ErrMissing)
			}
			if err != nil {
				return fmt.Errorf("consumer %s on %s: %w", name, stream, err)
			}
			return nil
		})); err != nil {
			return nil, err
		}
	}
	return res, nil
}
