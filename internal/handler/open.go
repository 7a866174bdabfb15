package handler

// Opening: the replica that claimed a lookup creates its session under a
// renewed lease (lease.go), records it, announces it with the
// session_opened event, and polls it once: what that poll does not finish
// goes to the session's check.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/tracing"
)

// open creates the session of a lookup this replica has claimed, and
// records it. The lease is renewed while the create call runs; the call is
// cancelled if the lease cannot be counted on any more (lease.go).
func (h *Handlers) open(ctx context.Context, rec lookups.Record, rev uint64) outcome {
	cmd := rec.Command
	source := sourceOf(cmd)
	grant, err := h.c.Budget.Take(ctx, source)
	if err != nil {
		h.unclaim(ctx, rec, rev)
		var ex *budget.Exhausted
		if errors.As(err, &ex) {
			h.c.Metrics.BudgetWaits.WithLabelValues(string(source)).Inc()
			h.log.Info("session budget used up; the lookup waits for the next window", "lookup_id", cmd.Key(), "limit", ex.Limit.String(), "until", ex.Until)
			return retryAfter(err, budgetWait(ex))
		}
		return retryBackoff(err)
	}
	l := h.holdLease(ctx, rec, rev)
	defer func() { _, _, _ = l.release() }()      // for a panic in the create call; a second release is a no-op
	sessionID, err := h.createSession(l.ctx, cmd) //nolint:contextcheck // l.ctx derives from ctx (holdLease)
	rec, rev, lost := l.release()
	if err != nil {
		h.c.Budget.Give(context.WithoutCancel(ctx), grant) // not opened: not spent
		if errors.Is(lost, errLeaseTaken) {
			return retryBackoff(fmt.Errorf("create session: %w (%w)", lost, err))
		}
		retry, delay, code := classify(err)
		if retry && h.c.Now().Sub(rec.AcceptedAt) > h.c.MaxWait {
			retry, code = false, kybflow.CodeUnavailable
			err = fmt.Errorf("could not open a session within %s: %w", h.c.MaxWait, err)
		}
		if retry {
			h.unclaim(ctx, rec, rev)
			h.c.Metrics.TransientErrors.WithLabelValues("create_session").Inc()
			return retryAfter(err, delay)
		}
		return h.fail(ctx, rec, rev, results{}, code, err.Error())
	}
	h.c.Metrics.SessionsOpened.WithLabelValues(string(source)).Inc()
	rec, next, err := h.recordSession(ctx, rec, rev, sessionID)
	if errors.Is(err, lookups.ErrErased) {
		h.log.Warn("session opened for a lookup erased meanwhile; its tombstone blocks any other", "lookup_id", cmd.Key())
		return drop(err)
	}
	if err != nil {
		// Not recorded: a replica that takes over will not know this
		// session, and will open another one.
		h.log.Error("session opened but not recorded; a second session may be opened for this lookup", "lookup_id", cmd.Key(), "session_id", sessionID, "err", err)
		return retryBackoff(err)
	}
	h.log.Info("session opened", "lookup_id", cmd.Key(), "session_id", sessionID)
	return h.announceOpened(ctx, rec, next, true)
}

// sourceOf is whom a lookup's session is for, in the budget's order:
// on-demand lookups go before monitor runs.
func sourceOf(cmd kybflow.LookupCommand) budget.Source {
	if cmd.Monitor != nil {
		return budget.Monitor
	}
	return budget.OnDemand
}

// budgetWait is how long a lookup over the budget waits: until the full
// window ends, and a little more, spread so that the lookups waiting for
// it do not all come back in the same instant.
func budgetWait(ex *budget.Exhausted) time.Duration {
	spread := min(ex.Limit.Window/20, 30*time.Second)
	return ex.Wait + rand.N(spread+1) //nolint:gosec // a spread of retries, not a secret
}

// unclaim gives an opening claim back (state accepted), so that the next
// delivery may try at once; also when our own context is ending (a drain),
// hence WithoutCancel. If it cannot, the claim runs out with its lease.
func (h *Handlers) unclaim(ctx context.Context, rec lookups.Record, rev uint64) {
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer ucancel()
	holder := rec.LeaseHolder
	if _, _, err := h.c.Lookups.Apply(uctx, rec, rev, func(r *lookups.Record) error { return r.Release(holder) }); err != nil {
		h.log.Warn("release opening lease", "lookup_id", rec.Command.Key(), "err", err)
	}
}

// releaseTimeout bounds giving an opening claim back.
const releaseTimeout = 5 * time.Second

// recordPatience is how long recording a just-opened session keeps trying
// through NATS trouble (a leader election, a server restart). The write is
// a compare-and-set on the claimed revision, so it can only land while no
// other replica has taken the lookup over, however late it is: trying long
// only narrows the window for a second session. It goes on through a drain,
// so it is kept short enough that DRAIN_TIMEOUT plus it stays inside the
// pods' termination grace period (45 s in deploy/k8s, DRAIN_TIMEOUT 20 s).
const recordPatience = 20 * time.Second

// recordRetry is the wait between attempts to record a session.
const recordRetry = 200 * time.Millisecond

// recordSession records the just-opened session of our claim (the record
// as our lease last wrote it, at rev), with the accepted event's mark, and
// returns the record as it stands with its revision. The session exists
// upstream and cost money, so this write is worth more than our context:
// it goes on when the context ends (a drain) and retries passing
// failures, for recordPatience. A write that landed unheard is found
// (lookups.Record.Open); a lookup erased meanwhile is lookups.ErrErased;
// one taken over by another replica is an error.
func (h *Handlers) recordSession(ctx context.Context, rec lookups.Record, rev uint64, sessionID string) (lookups.Record, uint64, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordPatience)
	defer cancel()
	holder := rec.LeaseHolder
	open := lookups.Then(
		func(r *lookups.Record) error { return r.Open(holder, sessionID, h.c.Now()) },
		func(r *lookups.Record) error { return r.MarkPublished(kybflow.KindAccepted) })
	for {
		cur, next, err := h.c.Lookups.Apply(rctx, rec, rev, open)
		switch {
		case err == nil:
			return cur, next, nil
		case errors.Is(err, lookups.ErrErased):
			return cur, 0, err
		case errors.Is(err, lookups.ErrMoved), errors.Is(err, lookups.ErrEnded):
			return cur, 0, fmt.Errorf("the lookup was taken over: %w", err)
		}
		select {
		case <-rctx.Done():
			return rec, 0, fmt.Errorf("%w (last: %w)", rctx.Err(), err)
		case <-time.After(recordRetry):
		}
	}
}

func (h *Handlers) createSession(ctx context.Context, cmd kybflow.LookupCommand) (sessionID string, err error) {
	ctx, span := h.tracer.Start(ctx, "create session", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		AttrLookupID.String(cmd.Key()), AttrLookupType.String(string(cmd.Type)), AttrCountry.String(string(cmd.Country))))
	defer func() {
		if err == nil {
			span.SetAttributes(AttrSessionID.String(sessionID))
		}
		endStep(span, err)
	}()
	kind, _ := cmd.IdentifierType.Kind(cmd.Country)
	req := amlapi.CreateSessionRequest{
		Identifier: cmd.Identifier, Expands: slices.Clone(cmd.Expands), Language: cmd.Language,
	}
	for _, r := range requestedReports(cmd) {
		req.Reports = append(req.Reports, amlapi.ReportType(r))
		// The organization guide documents both ways of asking for a
		// report, the reports parameter and the links.reports.<type>
		// expand: send both. Beneficial owners sessions make their report
		// without being asked and take no such expands.
		if cmd.Type == kybflow.TypeOrganization {
			if x := amlapi.ReportExpand(amlapi.ReportType(r)); !slices.Contains(req.Expands, x) {
				req.Expands = append(req.Expands, x)
			}
		}
	}
	if h.c.WebhookURL != "" {
		req.Webhook = &amlapi.WebhookSubscription{URL: h.c.WebhookURL + "/" + cmd.Key()}
	}
	opts := amlapi.CreateOptions{IdentifierKind: kind}
	if cmd.Type == kybflow.TypeBeneficialOwners {
		return h.c.API.CreateBeneficialSession(ctx, req, opts)
	}
	return h.c.API.CreateOrganizationSession(ctx, amlapi.Country(cmd.Country), req, opts)
}

// requestedReports are the reports a command asks for: its reports, and
// those named by links.reports.<type> expands.
func requestedReports(cmd kybflow.LookupCommand) []kybflow.ReportType {
	out := slices.Clone(cmd.Reports)
	for _, x := range cmd.Expands {
		if t, ok := strings.CutPrefix(x, "links.reports."); ok && !slices.Contains(out, kybflow.ReportType(t)) {
			out = append(out, kybflow.ReportType(t))
		}
	}
	return out
}

// announceOpened publishes the session_opened event, then either finishes
// the lookup at its first poll or publishes its first check, and then the
// command is done. It runs for the command that opened the session
// (pollFirst), and again for a redelivery of it (a crash in between): the
// stream drops the repeats by their Nats-Msg-Id. Nothing is written back:
// a duplicate command (another sequence) announces nothing (advance).
//
// The first poll is made here, by the command that opened the session,
// before any check exists: until the command is acknowledged it carries the
// lookup (a crash redelivers it, and its redelivery schedules the check). A
// session whose results are ready at once ends without a check message; any
// other outcome (results not ready, a transient error, a conflict with a
// webhook) publishes the check, due one poll interval later, as the check's
// own first poll would have been followed by.
func (h *Handlers) announceOpened(ctx context.Context, rec lookups.Record, rev uint64, pollFirst bool) outcome {
	if o := h.publishOnce(ctx, rec, kybflow.KindSessionOpened, rec.Command.SessionOpenedData(rec.SessionID)); !o.IsAck() {
		return o
	}
	check := CheckMessage{LookupID: rec.Command.Key()}
	if pollFirst && ctx.Err() == nil {
		ended, o := h.progress(ctx, rec, rev)
		switch {
		case ended && o.IsAck():
			return o // ended, its event out
		case o.Action() == streams.ActTerm:
			return o // ended failed, its event out; or erased meanwhile
		case !o.IsAck():
			h.log.Debug("first poll did not finish; the check takes over", "lookup_id", rec.Command.Key(), "err", o.Err())
		}
		// Due one poll interval later, or later still when the poll's
		// outcome asked for it (a Retry-After).
		check.PollAfterMs = max(h.pollDelay(1), o.Delay()).Milliseconds()
	}
	body, _ := json.Marshal(check)
	// The check carries the lookup's trace: every delivery of it is a
	// span of that trace.
	hdr := nats.Header{}
	tracing.Inject(lookupContext(ctx, rec), hdr)
	if _, err := streams.Publish(ctx, h.c.Publisher, streams.NamesOf(h.c.Subjects).Check(rec.Command.Key()), body, checkMsgID(rec.Command.Key()), hdr); err != nil {
		return retryBackoff(err)
	}
	return done()
}
