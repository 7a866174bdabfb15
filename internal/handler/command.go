package handler

// Taking in commands: a command is validated, recorded, and taken as far
// as an opened session (open.go). A command that cannot be attributed to a
// lookup is dead-lettered; an invalid one ends its lookup failed.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/tracing"
)

// Command handles a lookup command: validate it, record it, open its
// session, record the session, poll it once, and schedule its check when
// that poll did not finish it. It is acked once the session is recorded
// and polled; a duplicate finds the record and does nothing.
func (h *Handlers) Command(ctx context.Context, msg jetstream.Msg) (o outcome) {
	// A lookup's trace is its command's: continued from its traceparent
	// header, or started here.
	ctx, span := h.tracer.Start(tracing.Extract(ctx, msg.Headers()), "lookup command",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(deliveryAttrs(msg)...))
	defer func() { endMessage(ctx, span, o) }()
	// The tenant is where the command was published, which NATS authorised
	// the publisher for; never what its body says.
	if tenant, ok := h.c.Subjects.MonitorCommandTenant(msg.Subject()); ok {
		return h.monitorCommand(ctx, msg, tenant)
	}
	tenant, ok := h.c.Subjects.CommandTenant(msg.Subject())
	if !ok {
		return h.deadLetter(ctx, msg, fmt.Errorf("published on %s: commands are published on %s, or %s.<tenant>",
			msg.Subject(), h.c.Subjects.CommandLookup(), h.c.Subjects.CommandLookup()))
	}
	cmd, err := kybflow.ParseCommand(msg.Data())
	if err != nil {
		var ce *kybflow.CommandError
		if errors.As(err, &ce) && ce.LookupID != "" {
			if kybflow.ValidLookupID(ce.LookupID) {
				span.SetAttributes(AttrLookupID.String(kybflow.LookupKey(tenant, ce.LookupID)))
			}
			return h.rejectCommand(ctx, ce, tenant)
		}
		return h.deadLetter(ctx, msg, err)
	}
	cmd.Tenant = tenant
	cmd.Monitor = nil // a run's link is the worker's to make (Fire), never a platform's
	span.SetAttributes(AttrLookupID.String(cmd.Key()))
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	return h.advance(ctx, cmd, seq)
}

// rejectCommand ends a lookup whose command is invalid with a failed event,
// unless its lookupId is already someone's lookup: then that one stands.
func (h *Handlers) rejectCommand(ctx context.Context, ce *kybflow.CommandError, tenant string) outcome {
	data, _ := ce.FailedData()
	data.Tenant = tenant
	key := kybflow.LookupKey(tenant, ce.LookupID)
	cmd := kybflow.LookupCommand{LookupID: ce.LookupID, Tenant: tenant, CorrelationID: ce.CorrelationID, Metadata: ce.Metadata}
	rec := lookups.Rejected(cmd, data, h.c.Now(), traceOf(ctx))
	existing, _, err := h.c.Lookups.Get(ctx, key)
	switch {
	case err == nil:
		if existing.State == lookups.Failed && existing.Failure != nil && existing.Failure.Code == data.Code && existing.SessionID == "" {
			// Our own earlier rejection, redelivered: make sure its event is out.
			if o := h.finish(ctx, existing); !o.IsAck() {
				return o
			}
			return drop(ce)
		}
		h.log.Warn("invalid command reuses the lookupId of an existing lookup; ignored", "lookup_id", key, "err", ce)
		return drop(ce)
	case !errors.Is(err, lookups.ErrNotFound):
		return retryBackoff(err)
	}
	_, err = h.c.Lookups.Create(ctx, rec)
	if err != nil {
		if errors.Is(err, lookups.ErrExists) {
			return retryAfter(err, twinRetry) // raced a twin; decide again on its record
		}
		return retryBackoff(err)
	}
	if o := h.publishEnding(ctx, rec); !o.IsAck() {
		return o
	}
	return drop(ce)
}

// deadLetter keeps a command that cannot be attributed to any lookup, with
// the reason, and terminates it.
func (h *Handlers) deadLetter(ctx context.Context, msg jetstream.Msg, cause error) outcome {
	md, err := msg.Metadata()
	if err != nil {
		return retryBackoff(fmt.Errorf("dead letter: metadata: %w", err))
	}
	hdr := nats.Header{}
	hdr.Set(kybflow.HeaderDeadLetterReason, kybflow.DeadLetterReason(cause))
	hdr.Set(kybflow.HeaderDeadLetterSubject, msg.Subject())
	hdr.Set(kybflow.HeaderDeadLetterStream, md.Stream)
	hdr.Set(kybflow.HeaderDeadLetterSequence, fmt.Sprint(md.Sequence.Stream))
	data, id := msg.Data(), kybflow.DeadLetterMsgID(md.Stream, md.Sequence.Stream)
	_, err = streams.Publish(ctx, h.c.Publisher, h.c.Subjects.DeadLetterCommands(), data, id, hdr)
	if errors.Is(err, nats.ErrMaxPayload) && len(data) > kybflow.DeadLetterKeep {
		// Too large to keep whole with the headers (it was published at
		// the limit): keep its start, its size and its digest. Retrying
		// the whole would fail the same way forever.
		sum := sha256.Sum256(data)
		hdr.Set(kybflow.HeaderDeadLetterTruncated, "true")
		hdr.Set(kybflow.HeaderDeadLetterSize, strconv.Itoa(len(data)))
		hdr.Set(kybflow.HeaderDeadLetterSHA256, hex.EncodeToString(sum[:]))
		_, err = streams.Publish(ctx, h.c.Publisher, h.c.Subjects.DeadLetterCommands(), data[:kybflow.DeadLetterKeep], id, hdr)
	}
	if err != nil {
		return retryBackoff(fmt.Errorf("dead letter: %w", err))
	}
	h.c.Metrics.DeadLetters.Inc()
	h.log.Warn("command dead-lettered", "stream", md.Stream, "seq", md.Sequence.Stream, "reason", kybflow.DeadLetterReason(cause))
	return drop(fmt.Errorf("dead-lettered: %w", cause))
}

// advance takes a valid command (stream sequence seq) as far as it goes:
// from no record to an opened session with its check scheduled. A new
// lookup's record is created claimed (state opening, under this replica's
// lease): one write, no read before it.
func (h *Handlers) advance(ctx context.Context, cmd kybflow.LookupCommand, seq uint64) outcome {
	id := cmd.Key()
	claim := h.claim(seq)
	rec := lookups.New(cmd, h.c.Now(), traceOf(ctx))
	_ = rec.Claim(claim) // a new record is always claimable
	rev, err := h.c.Lookups.Create(ctx, rec)
	switch {
	case err == nil:
		h.c.Metrics.LookupsAccepted.Inc()
		// Marked with the session (open), or published again by the
		// redelivery, under the same Nats-Msg-Id.
		if o := h.publishOnce(ctx, rec, kybflow.KindAccepted, rec.Command.AcceptedData()); !o.IsAck() {
			// Claimed but not announced: give the claim back, so that the
			// redelivery publishes accepted and claims again at once.
			h.unclaim(ctx, rec, rev)
			return o
		}
		return h.open(ctx, rec, rev)
	case errors.Is(err, lookups.ErrExists):
		rec, rev, err = h.c.Lookups.Get(ctx, id)
	}
	if err != nil {
		return h.readError(err)
	}
	if rec.State != lookups.Erased && !sameLookup(rec.Command, cmd) {
		// The first command with a lookupId defines the lookup. Another one
		// with the same id but other content is a caller's mistake; it must
		// not open a second session.
		h.log.Warn("command differs from the lookup recorded under its lookupId; the recorded one stands", "lookup_id", id)
	}

	for range 3 { // a claim refused because the record moved: decide again on it
		switch rec.State {
		case lookups.Completed, lookups.Failed:
			return h.finish(ctx, rec)

		case lookups.Erased:
			// Erased (amlctl erase): its tombstone blocks a second session
			// for this lookupId while it is kept (LOOKUP_RETENTION).
			h.log.Warn("command for an erased lookup; ignored", "lookup_id", id)
			return drop(fmt.Errorf("lookup %s was erased", id))

		case lookups.Opened:
			if rec.OpenedSeq != 0 && seq != 0 && rec.OpenedSeq != seq {
				// A duplicate: the command that opened the session
				// announces it (it stays unacknowledged until it has).
				h.log.Info("duplicate command for an opened lookup; acknowledged", "lookup_id", id)
				return done()
			}
			return h.announceOpened(ctx, rec, rev, false)

		case lookups.Opening:
			now := h.c.Now()
			if end := rec.LeaseUntil.Add(lookups.LeaseSkew); now.Before(end) {
				if rec.LeaseSeq != 0 && seq != 0 && rec.LeaseSeq != seq {
					// A duplicate: the lease holder's own command carries the
					// lookup (it stays unacknowledged until the session is
					// recorded, and comes back if its holder dies), so this
					// one is done, and the pending count stays work not
					// started yet.
					h.log.Info("duplicate command while its lookup is being opened; acknowledged", "lookup_id", id)
					return done()
				}
				// Our own command, redelivered while its lease is held.
				return retryAfter(fmt.Errorf("lookup %s: session being opened elsewhere", id), end.Sub(now))
			}
			h.log.Warn("taking over a lookup whose opening lease expired; a session may have been opened by the replica that held it", "lookup_id", id)
			fallthrough

		case lookups.Accepted:
			if o := h.publishOnce(ctx, rec, kybflow.KindAccepted, rec.Command.AcceptedData()); !o.IsAck() {
				return o
			}
			// Claim: one replica opens the session.
			claim.Now = h.c.Now()
			cur, next, err := h.c.Lookups.Apply(ctx, rec, rev, lookups.Then(
				func(r *lookups.Record) error { return r.MarkPublished(kybflow.KindAccepted) },
				func(r *lookups.Record) error { return r.Claim(claim) }))
			switch {
			case errors.Is(err, lookups.ErrMoved), errors.Is(err, lookups.ErrEnded), errors.Is(err, lookups.ErrErased):
				rec, rev = cur, next
				continue
			case err != nil:
				return h.readError(err)
			}
			return h.open(ctx, cur, next)

		default:
			return drop(fmt.Errorf("lookup %s: unknown state %q", id, rec.State))
		}
	}
	return retryAfter(fmt.Errorf("lookup %s: moved by other replicas while being claimed", id), conflictRetry)
}

// claim is this replica's claim to open a session, for the command at
// stream sequence seq.
func (h *Handlers) claim(seq uint64) lookups.Claim {
	return lookups.Claim{Holder: newLeaseHolder(), Seq: seq, Now: h.c.Now(), Lease: h.c.Lease}
}

// sameLookup reports whether two commands ask for the same lookup.
func sameLookup(a, b kybflow.LookupCommand) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
