package handler

// Collecting: one status call, every ready result stored (store.go),
// and the lookup ended (end.go) when everything is.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/lookups"
)

// progress asks for the session's status, stores every ready result not
// stored yet, and ends the lookup when it can. It reports whether the
// lookup ended, and the outcome; a lookup that waits for more results is
// not ended, with the outcome done().
func (h *Handlers) progress(ctx context.Context, rec lookups.Record, rev uint64) (bool, outcome) {
	cmd := rec.Command
	kind := amlapi.KindOrganization
	if cmd.Type == kybflow.TypeBeneficialOwners {
		kind = amlapi.KindBeneficial
	}
	h.c.Metrics.Polls.Inc()
	sess, err := h.sessionStatus(ctx, kind, rec)
	if err != nil {
		retry, delay, code := classify(err)
		var ae *amlapi.Error
		switch {
		case amlapi.ClassOf(err) == amlapi.Unreadable && errors.As(err, &ae):
			// Paid for, and unreadable: model.go may not match the API.
			// Never a verdict on the lookup; an operator corrects the model.
			h.log.Warn("session answer unreadable; retried later (model.go may not match the API)", "lookup_id", cmd.Key(), "shape", ae.Shape, "err", err)
			h.c.Metrics.Unreadable.Inc()
		case amlapi.ClassOf(err) == amlapi.Expired && h.c.Now().Sub(rec.OpenedAt) < amlapi.Lifetime:
			// Results live two hours after they become available, so a
			// session created less than that ago cannot have expired: the
			// session path of the model is wrong, or the API lost it.
			h.log.Error("session not found soon after it was created; retried later (the session path in model.go may be wrong)", "lookup_id", cmd.Key(), "session_id", rec.SessionID, "err", err)
			h.c.Metrics.SessionNotFound.WithLabelValues("soon_after_create").Inc()
			retry, delay, code = true, unreadableRetry, ""
		case amlapi.ClassOf(err) == amlapi.Expired:
			h.c.Metrics.SessionNotFound.WithLabelValues("expired").Inc()
		}
		if retry && h.c.Now().Sub(rec.OpenedAt) > h.c.MaxWait {
			retry, code = false, kybflow.CodeUnavailable
			err = fmt.Errorf("no session status within %s: %w", h.c.MaxWait, err)
		}
		if retry {
			h.c.Metrics.TransientErrors.WithLabelValues("session_status").Inc()
			return false, retryAfter(err, delay)
		}
		return true, h.fail(ctx, rec, rev, results{}, code, err.Error())
	}
	if sess.Status == amlapi.SessionFailed {
		return true, h.fail(ctx, rec, rev, results{}, kybflow.CodeSessionFailed, fmt.Sprintf("BankID session %s failed", rec.SessionID))
	}

	// Every result ready now is stored, then recorded in one write: the
	// ending's, when nothing is left to wait for. A crash before the write
	// stores them again under the same keys.
	var stored results
	pending, unknown := 0, ""
	for _, want := range wanted(cmd, sess) {
		if _, ok := rec.Artifact(want.name); ok {
			continue
		}
		ent, ok := want.entity(sess)
		switch {
		case !ok:
			if sess.Status == amlapi.SessionDone {
				return true, h.fail(ctx, rec, rev, stored, kybflow.CodeSessionFailed, fmt.Sprintf("session %s is done without %s", rec.SessionID, want.name))
			}
			pending++
		case ent.Status == amlapi.EntityReady && ent.Link != "":
			art, found, err := h.store(ctx, rec, want.name, ent.Link)
			if err != nil {
				retry, delay, code := classifyStore(err)
				if retry {
					if len(stored.arts) > 0 {
						_, _, _ = h.record(ctx, rec, rev, stored) // keep what is stored for the retry, if it can
					}
					return false, retryAfter(err, delay)
				}
				return true, h.fail(ctx, rec, rev, stored, code, err.Error())
			}
			stored.arts = append(stored.arts, art)
			if found.omitted != nil {
				stored.omitted = found.omitted
			}
			if found.summary != nil {
				stored.summary = found.summary
			}
		case ent.Status == amlapi.EntityExpired:
			return true, h.fail(ctx, rec, rev, stored, kybflow.CodeExpired, fmt.Sprintf("%s of session %s expired before it was stored", want.name, rec.SessionID))
		case ent.Status == amlapi.EntityFailed:
			return true, h.fail(ctx, rec, rev, stored, kybflow.CodeSessionFailed, fmt.Sprintf("%s of session %s failed", want.name, rec.SessionID))
		case ent.Status == amlapi.EntityNotStarted || ent.Status == amlapi.EntityInProgress:
			pending++
		default: // a status the model does not know, or READY without a link: waited for
			pending++
			unknown = want.name
			h.log.Warn("session entity in a state the model does not know; waiting", "lookup_id", cmd.Key(),
				"entity", want.name, "status", truncate([]byte(ent.Status), 40), "has_link", ent.Link != "")
		}
	}
	if pending > 0 {
		if len(stored.arts) > 0 {
			cur, next, o := h.record(ctx, rec, rev, stored)
			if !o.IsAck() {
				return false, o
			}
			rec, rev, stored = cur, next, results{}
		}
		if h.c.Now().Sub(rec.OpenedAt) > h.c.MaxWait {
			if unknown != "" {
				return true, h.fail(ctx, rec, rev, stored, kybflow.CodeUnavailable, fmt.Sprintf("no complete result within %s: %s stayed in a state the model does not know", h.c.MaxWait, unknown))
			}
			return true, h.fail(ctx, rec, rev, stored, kybflow.CodeExpired, fmt.Sprintf("no complete result within %s", h.c.MaxWait))
		}
		return false, done()
	}
	// A monitor's run is compared with the previous run first
	// (monitor_compare.go); stored stays for the ending's write, which
	// records it again if the comparison's did not.
	rec, rev, o := h.compareRun(ctx, rec, rev, stored)
	if !o.IsAck() {
		return false, o
	}
	return true, h.complete(ctx, rec, rev, stored)
}

// results are what one delivery stored: its artifacts, the expands the
// API left out (nil when the question did not come up), and the summary of
// the JSON (nil when the JSON was not stored by this delivery).
type results struct {
	arts    []kybflow.Artifact
	omitted []string
	summary *kybflow.Summary
}

// store is the transition that records res on a lookup in phase seen.
func (res results) store(seen lookups.Phase) lookups.Transition {
	return func(r *lookups.Record) error { return r.Store(seen, res.arts, res.omitted, res.summary) }
}

// record writes the artifacts stored so far, when the lookup still waits
// for others, and returns the record as written.
func (h *Handlers) record(ctx context.Context, rec lookups.Record, rev uint64, res results) (lookups.Record, uint64, outcome) {
	cur, next, err := h.c.Lookups.Apply(ctx, rec, rev, res.store(rec.Phase()))
	switch {
	case errors.Is(err, lookups.ErrErased):
		return cur, 0, h.erasedMeanwhile(ctx, rec, res)
	case errors.Is(err, lookups.ErrEnded), errors.Is(err, lookups.ErrMoved):
		// Another replica ended it: the objects are stored under their
		// deterministic keys either way; decide again soon on its record.
		return cur, 0, retryAfter(err, conflictRetry)
	case err != nil:
		return cur, 0, h.readError(err) // NATS trouble: back off
	}
	return cur, next, done()
}

// erasedMeanwhile deletes the objects stored for rec, and those res stored
// since, after its lookup was erased (amlctl erase --force while it ran),
// so that none outlives the erasure, and drops the message.
func (h *Handlers) erasedMeanwhile(ctx context.Context, rec lookups.Record, res results) outcome {
	for _, a := range append(slices.Clone(rec.Artifacts), res.arts...) {
		if err := h.c.Blobs.Delete(ctx, a.Key); err != nil {
			return retryBackoff(fmt.Errorf("delete %s stored after the erasure of lookup %s: %w", a.Name, rec.Command.Key(), err))
		}
	}
	h.log.Warn("lookup erased while its results were stored; they were deleted", "lookup_id", rec.Command.Key(), "objects", len(rec.Artifacts)+len(res.arts))
	return drop(fmt.Errorf("lookup %s was erased", rec.Command.Key()))
}

// wantedEntity is one result a lookup waits for.
type wantedEntity struct {
	name   string
	entity func(*amlapi.Session) (amlapi.Entity, bool)
}

// wanted is every result a lookup stores: the JSON; every report it asked
// for (reports, and links.reports.<type> expands); the report of every
// beneficial owners lookup, which the API makes unasked (model.go,
// BeneficialReport); and every other report the session lists, asked for
// or not, since whatever a session lists is paid for and expires in two
// hours. A listed report whose type cannot name an artifact is skipped.
func wanted(cmd kybflow.LookupCommand, sess *amlapi.Session) []wantedEntity {
	out := []wantedEntity{{kybflow.ArtifactJSON, func(s *amlapi.Session) (amlapi.Entity, bool) { return s.JSONData, true }}}
	reports := requestedReports(cmd)
	if cmd.Type == kybflow.TypeBeneficialOwners && !slices.Contains(reports, kybflow.ReportType(amlapi.BeneficialReport)) {
		reports = append(reports, kybflow.ReportType(amlapi.BeneficialReport))
	}
	listed := slices.Sorted(maps.Keys(sess.Reports))
	for _, t := range listed {
		if r := kybflow.ReportType(t); !slices.Contains(reports, r) && kybflow.ValidArtifactName(kybflow.ReportArtifactName(r)) {
			reports = append(reports, r)
		}
	}
	for _, r := range reports {
		out = append(out, wantedEntity{kybflow.ReportArtifactName(r), func(s *amlapi.Session) (amlapi.Entity, bool) {
			e, ok := s.Reports[amlapi.ReportType(r)]
			return e, ok
		}})
	}
	return out
}

// sessionStatus is the status call, in a span of its own.
func (h *Handlers) sessionStatus(ctx context.Context, kind amlapi.Kind, rec lookups.Record) (*amlapi.Session, error) {
	ctx, span := h.tracer.Start(ctx, "session status", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		AttrLookupID.String(rec.Command.Key()), AttrSessionID.String(rec.SessionID)))
	sess, err := h.c.API.Session(ctx, kind, rec.SessionID)
	if err == nil {
		span.SetAttributes(AttrStatus.String(truncate([]byte(sess.Status), 40)))
	}
	endStep(span, err)
	return sess, err
}
