package handler

// Collecting: one status call, every ready result stored (store.go),
// and the lookup ended (end.go) when everything is.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

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
	var pending, gone []string // wanted results to wait for; wanted reports that will never come
	unknown := ""
	for _, want := range wanted(cmd, sess, rec.ReportLinks) {
		if _, ok := rec.Artifact(want.name); ok {
			continue
		}
		ent, listed := want.entity(sess)
		link := ""
		switch {
		case listed && ent.Status == amlapi.EntityReady && ent.Link != "":
			link = ent.Link
			if ent.Guessed && want.report != "" {
				// Listed READY without a link (the guides' example): the
				// JSON's links.reports, when it names one, over our guess.
				if l := reportLink(stored.links, want.report); l != "" {
					link = l
				} else if l := reportLink(rec.ReportLinks, want.report); l != "" {
					link = l
				}
			}
		case !listed && want.report != "":
			// Not in the session answer (the guides' shape may list no
			// reports): the stored JSON's links.reports may name it.
			link = reportLink(stored.links, want.report)
			if link == "" {
				link = reportLink(rec.ReportLinks, want.report)
			}
		}
		switch {
		case link != "":
			sctx := ctx
			if !listed {
				sctx = amlapi.Once(ctx) // probed on every poll: a "not ready" is not retried here
			}
			art, found, err := h.store(sctx, rec, want.name, link)
			if err != nil && !listed && notThereYet(err) {
				pending = append(pending, want.name) // linked by the JSON, not made yet
				continue
			}
			if errors.Is(err, errNotPDF) {
				// Not stored (signature.go); asked for again at the next
				// poll, until the results can no longer be read: then the
				// lookup completes with it missing.
				pending = append(pending, want.name)
				continue
			}
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
			if want.name == kybflow.ArtifactJSON {
				stored.links, stored.until = found.links, h.resultsUntil(found.until, ent)
			}
		case !listed:
			if sess.Status == amlapi.SessionDone {
				if want.report == "" {
					return true, h.fail(ctx, rec, rev, stored, kybflow.CodeSessionFailed, fmt.Sprintf("session %s is done without %s", rec.SessionID, want.name))
				}
				gone = append(gone, string(want.report)) // done without it: it will not come
				continue
			}
			pending = append(pending, want.name)
		case ent.Status == amlapi.EntityExpired:
			return true, h.fail(ctx, rec, rev, stored, kybflow.CodeExpired, fmt.Sprintf("%s of session %s expired before it was stored", want.name, rec.SessionID))
		case ent.Status == amlapi.EntityFailed:
			return true, h.fail(ctx, rec, rev, stored, kybflow.CodeSessionFailed, fmt.Sprintf("%s of session %s failed", want.name, rec.SessionID))
		case ent.Status == amlapi.EntityNotStarted || ent.Status == amlapi.EntityInProgress:
			pending = append(pending, want.name)
		default: // a status the model does not know, or READY without a link: waited for
			pending = append(pending, want.name)
			unknown = want.name
			h.log.Warn("session entity in a state the model does not know; waiting", "lookup_id", cmd.Key(),
				"entity", want.name, "status", truncate([]byte(ent.Status), 40), "has_link", ent.Link != "")
		}
	}
	if len(pending) > 0 {
		if len(stored.arts) > 0 {
			cur, next, o := h.record(ctx, rec, rev, stored)
			if !o.IsAck() {
				return false, o
			}
			rec, rev, stored = cur, next, results{}
		}
		_, jsonStored := rec.Artifact(kybflow.ArtifactJSON)
		switch now := h.c.Now(); {
		case jsonStored && !now.Before(reportsDeadline(rec, h.c.MaxWait)):
			// Only reports are left, and the results they belong with
			// can no longer be read: the lookup completes without them.
			for _, name := range pending {
				if r, ok := kybflow.ArtifactReport(name); ok {
					gone = append(gone, string(r))
				}
			}
			h.log.Warn("wanted reports did not appear while the results could be read; completing without them", "lookup_id", cmd.Key(),
				"session_id", rec.SessionID, "missing", gone, "results_until", rec.ResultsUntil)
		case now.Sub(rec.OpenedAt) > h.c.MaxWait:
			if unknown != "" {
				return true, h.fail(ctx, rec, rev, stored, kybflow.CodeUnavailable, fmt.Sprintf("no complete result within %s: %s stayed in a state the model does not know", h.c.MaxWait, unknown))
			}
			return true, h.fail(ctx, rec, rev, stored, kybflow.CodeExpired, fmt.Sprintf("no complete result within %s", h.c.MaxWait))
		default:
			return false, done()
		}
	} else if len(gone) > 0 {
		h.log.Warn("session done without wanted reports; completing without them", "lookup_id", cmd.Key(), "session_id", rec.SessionID, "missing", gone)
	}
	stored.missing = gone
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
// API left out (nil when the question did not come up), the summary of
// the JSON (nil when the JSON was not stored by this delivery), the JSON's
// report links and until when the results can be read (when this delivery
// stored the JSON), and the wanted reports the lookup completes without.
type results struct {
	arts    []kybflow.Artifact
	omitted []string
	summary *kybflow.Summary
	links   map[string]string
	until   time.Time
	missing []string
}

// store is the transition that records res on a lookup in phase seen.
func (res results) store(seen lookups.Phase) lookups.Transition {
	return func(r *lookups.Record) error {
		if err := r.Store(seen, res.arts, res.omitted, res.summary); err != nil {
			return err
		}
		if res.links != nil || !res.until.IsZero() {
			if err := r.NoteResults(seen, res.links, res.until); err != nil {
				return err
			}
		}
		if len(res.missing) > 0 {
			return r.Miss(seen, res.missing)
		}
		return nil
	}
}

// resultsUntil is until when the results of a session can be read, as
// known when its JSON is stored now: the first of the JSON's own word
// (links.expires; zero when it gives none), the session's expiry of the
// JSON entity (the model's shape; none in the guides'), and now plus the
// lifetime of a result (confirmed: two hours after it becomes available,
// so never later than that from now).
func (h *Handlers) resultsUntil(fromJSON time.Time, jsonEntity amlapi.Entity) time.Time {
	until := h.c.Now().Add(amlapi.Lifetime)
	if !fromJSON.IsZero() && fromJSON.Before(until) {
		until = fromJSON
	}
	if e := jsonEntity.Expires; e != nil && !e.IsZero() && e.Before(until) {
		until = e.Time
	}
	return until
}

// reportsDeadline is when a lookup whose JSON is stored stops waiting for
// its reports: when its results can no longer be read (ResultsUntil), and
// never later than maxWait after the session was opened. A record stored
// before ResultsUntil existed waits maxWait.
func reportsDeadline(rec lookups.Record, maxWait time.Duration) time.Time {
	deadline := rec.OpenedAt.Add(maxWait)
	if !rec.ResultsUntil.IsZero() && rec.ResultsUntil.Before(deadline) {
		deadline = rec.ResultsUntil
	}
	return deadline
}

// notThereYet reports whether a download failed because the content is
// not there yet, or not any more: 404, 409, 410 or 425. For a report that
// only the JSON's links name, with no status to say more, that is waited
// for, until the results can no longer be read.
func notThereYet(err error) bool {
	var ae *amlapi.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.StatusCode {
	case http.StatusNotFound, http.StatusConflict, http.StatusGone, http.StatusTooEarly:
		return true
	}
	return false
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

// wantedEntity is one result a lookup waits for: the JSON (report "") or
// a report, by its artifact name.
type wantedEntity struct {
	name   string
	report amlapi.ReportType // canonical (amlapi.ReportType.Canonical); "" for the JSON
	entity func(*amlapi.Session) (amlapi.Entity, bool)
}

// wanted is every result a lookup stores: the JSON; every report it asked
// for (reports, and links.reports.<type> expands); the report of every
// beneficial owners lookup, which the API makes unasked (model.go,
// BeneficialReport); and every other report the session lists or the
// stored JSON links (jsonLinks), asked for or not, since whatever a
// session makes is paid for and expires in two hours.
//
// Report types are matched and stored in canonical form
// (amlapi.ReportType.Canonical): a session that lists
// "certificate-of-incorporation-report" lists the report
// certificate_of_incorporation, stored as
// report:certificate_of_incorporation. A type that still cannot name an
// artifact (longer than 64 characters) is skipped, with a warning.
func wanted(cmd kybflow.LookupCommand, sess *amlapi.Session, jsonLinks map[string]string) []wantedEntity {
	out := []wantedEntity{{name: kybflow.ArtifactJSON, entity: func(s *amlapi.Session) (amlapi.Entity, bool) { return s.JSONData, true }}}
	var reports []amlapi.ReportType
	add := func(t amlapi.ReportType) {
		if c := t.Canonical(); c != "" && !slices.Contains(reports, c) && kybflow.ValidArtifactName(kybflow.ReportArtifactName(kybflow.ReportType(c))) {
			reports = append(reports, c)
		}
	}
	for _, r := range requestedReports(cmd) {
		add(amlapi.ReportType(r))
	}
	if cmd.Type == kybflow.TypeBeneficialOwners {
		add(amlapi.BeneficialReport)
	}
	for _, t := range slices.Sorted(maps.Keys(sess.Reports)) {
		add(t)
	}
	for _, t := range slices.Sorted(maps.Keys(jsonLinks)) {
		add(amlapi.ReportType(t))
	}
	for _, r := range reports {
		out = append(out, wantedEntity{kybflow.ReportArtifactName(kybflow.ReportType(r)), r, func(s *amlapi.Session) (amlapi.Entity, bool) {
			return listedReport(s, r)
		}})
	}
	return out
}

// listedReport is the session's entity of the report of canonical type r:
// the one listed under r itself, else the first, by key, whose type is r
// in canonical form.
func listedReport(s *amlapi.Session, r amlapi.ReportType) (amlapi.Entity, bool) {
	if e, ok := s.Reports[r]; ok {
		return e, true
	}
	for _, t := range slices.Sorted(maps.Keys(s.Reports)) {
		if t.Canonical() == r {
			return s.Reports[t], true
		}
	}
	return amlapi.Entity{}, false
}

// reportLink is the link of the report of canonical type r in links (the
// JSON's links.reports, by type as the JSON names it), or "".
func reportLink(links map[string]string, r amlapi.ReportType) string {
	if l, ok := links[string(r)]; ok {
		return l
	}
	for _, t := range slices.Sorted(maps.Keys(links)) {
		if amlapi.ReportType(t).Canonical() == r {
			return links[t]
		}
	}
	return ""
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
