// Package handler is the lookup pipeline's logic: a command opens a session;
// a check (poll) or a webhook moves a session's results into storage; the
// end of a lookup is one completed or failed event.
//
// Handlers are plain functions over a JetStream message; what they return is
// turned into the acknowledgement by streams.Decide. Every step reads the
// lookup's state record first and writes it by compare-and-set, so any
// replica can take any message, and a redelivered or duplicate message
// changes nothing that was already done (docs/design.md).
package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
)

// API is what the handlers need of the AML API client (*amlapi.Client).
type API interface {
	CreateOrganizationSession(ctx context.Context, country amlapi.Country, req amlapi.CreateSessionRequest, opts amlapi.CreateOptions) (string, error)
	CreateBeneficialSession(ctx context.Context, req amlapi.CreateSessionRequest, opts amlapi.CreateOptions) (string, error)
	Session(ctx context.Context, kind amlapi.Kind, sessionID string) (*amlapi.Session, error)
	Download(ctx context.Context, link string) (*amlapi.Download, error)
}

// Blobs is what the handlers need of storage (*blob.S3, *blob.Dir).
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error)
}

// Publisher is what the handlers need of JetStream.
type Publisher = streams.Publisher

// Poll is the polling policy: the n-th check of a session waits
// min(Initial·2^(n-1), Max) before the next. With webhooks configured the
// cap is MaxWithWebhooks: polls are then only the fallback.
type Poll struct {
	Initial         time.Duration
	Max             time.Duration
	MaxWithWebhooks time.Duration
}

// Config wires the handlers.
type Config struct {
	API       API
	Blobs     Blobs
	Lookups   *lookups.Store
	Publisher Publisher
	Subjects  kybflow.Subjects
	Keys      kybflow.ObjectKeys
	// Source is the CloudEvents source of our events.
	Source string
	// WebhookURL is the bridge's public base URL (ending in /webhooks); the
	// URL of a lookup is WebhookURL/<lookupId>. Empty: no webhooks, poll.
	WebhookURL string
	// Lease is the opening lease (default 15s): renewed every third of it
	// while its holder lives, it lets another replica take over within
	// about one lease of the holder's death (lease.go).
	Lease time.Duration
	Poll  Poll
	// MaxWait bounds how long a lookup may wait (default 6h; results
	// themselves live 2h after they are ready): a session not opened
	// within MaxWait of the command because the API stayed unavailable
	// fails with code unavailable; results not all ready within MaxWait of
	// the session's opening fail with code expired, or unavailable when
	// the status calls themselves kept failing.
	MaxWait time.Duration
	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
}

// Handlers are the pipeline's message handlers.
type Handlers struct {
	c   Config
	log *slog.Logger
}

// New validates cfg and returns the handlers.
func New(cfg Config) (*Handlers, error) {
	if cfg.API == nil || cfg.Blobs == nil || cfg.Lookups == nil || cfg.Publisher == nil {
		return nil, errors.New("handler: API, Blobs, Lookups and Publisher are required")
	}
	if err := cfg.Keys.Validate(); err != nil {
		return nil, fmt.Errorf("handler: %w", err)
	}
	if cfg.Source == "" {
		cfg.Source = "urn:kybflow:worker"
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 15 * time.Second
	}
	if cfg.Poll.Initial <= 0 {
		cfg.Poll.Initial = 2 * time.Second
	}
	if cfg.Poll.Max <= 0 {
		cfg.Poll.Max = 30 * time.Second
	}
	if cfg.Poll.MaxWithWebhooks <= 0 {
		cfg.Poll.MaxWithWebhooks = 2 * time.Minute
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 6 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.WebhookURL = strings.TrimRight(cfg.WebhookURL, "/")
	return &Handlers{c: cfg, log: cfg.Logger}, nil
}

// readError is the outcome of a failed read of a record. A record that
// cannot be decoded is retried late, not dropped: it may be written by a
// newer version during a rolling upgrade, and dropping its message would
// strand the lookup. It is logged as an error, for an operator.
func (h *Handlers) readError(err error) error {
	if errors.Is(err, lookups.ErrCorrupt) {
		h.log.Error("lookup record cannot be decoded; retried later", "err", err)
		return streams.Retry(err, streams.PanicDelay)
	}
	return streams.Retry(err, 0)
}

// errNotReady is the Retry of a check whose session is not done yet.
var errNotReady = errors.New("session results not all stored yet")

// ---- Commands ----

// Command handles a lookup command: validate it, record it, open its
// session, record the session, schedule its first check. It is acked once
// the session is recorded; a duplicate finds the record and does nothing.
func (h *Handlers) Command(ctx context.Context, msg jetstream.Msg) error {
	cmd, err := kybflow.ParseCommand(msg.Data())
	if err != nil {
		var ce *kybflow.CommandError
		if errors.As(err, &ce) && ce.LookupID != "" {
			return h.rejectCommand(ctx, ce)
		}
		return h.deadLetter(ctx, msg, err)
	}
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	return h.advance(ctx, cmd, seq)
}

// rejectCommand ends a lookup whose command is invalid with a failed event,
// unless its lookupId is already someone's lookup: then that one stands.
func (h *Handlers) rejectCommand(ctx context.Context, ce *kybflow.CommandError) error {
	data, _ := ce.FailedData()
	rec := lookups.Record{
		State:      lookups.Failed,
		Command:    kybflow.LookupCommand{LookupID: ce.LookupID, CorrelationID: ce.CorrelationID, Metadata: ce.Metadata},
		Failure:    &data,
		AcceptedAt: h.c.Now(), FinishedAt: h.c.Now(),
	}
	existing, rev, err := h.c.Lookups.Get(ctx, ce.LookupID)
	switch {
	case err == nil:
		if existing.State == lookups.Failed && existing.Failure != nil && existing.Failure.Code == data.Code && existing.SessionID == "" {
			// Our own earlier rejection, redelivered: make sure its event is out.
			return h.finish(ctx, existing, rev, streams.Term(ce))
		}
		h.log.Warn("invalid command reuses the lookupId of an existing lookup; ignored", "lookup_id", ce.LookupID, "err", ce)
		return streams.Term(ce)
	case !errors.Is(err, lookups.ErrNotFound):
		return streams.Retry(err, 0)
	}
	rev, err = h.c.Lookups.Create(ctx, rec)
	if err != nil {
		if errors.Is(err, lookups.ErrExists) {
			return streams.Retry(err, time.Second) // raced a twin; decide again on its record
		}
		return streams.Retry(err, 0)
	}
	return h.finish(ctx, rec, rev, streams.Term(ce))
}

// deadLetter keeps a command that cannot be attributed to any lookup, with
// the reason, and terminates it.
func (h *Handlers) deadLetter(ctx context.Context, msg jetstream.Msg, cause error) error {
	md, err := msg.Metadata()
	if err != nil {
		return streams.Retry(fmt.Errorf("dead letter: metadata: %w", err), 0)
	}
	hdr := nats.Header{}
	hdr.Set(kybflow.HeaderDeadLetterReason, kybflow.DeadLetterReason(cause))
	hdr.Set(kybflow.HeaderDeadLetterSubject, msg.Subject())
	hdr.Set(kybflow.HeaderDeadLetterStream, md.Stream)
	hdr.Set(kybflow.HeaderDeadLetterSequence, fmt.Sprint(md.Sequence.Stream))
	if _, err := streams.Publish(ctx, h.c.Publisher, h.c.Subjects.DeadLetterCommands(), msg.Data(), kybflow.DeadLetterMsgID(md.Stream, md.Sequence.Stream), hdr); err != nil {
		return streams.Retry(fmt.Errorf("dead letter: %w", err), 0)
	}
	h.c.Metrics.DeadLetters.Inc()
	h.log.Warn("command dead-lettered", "stream", md.Stream, "seq", md.Sequence.Stream, "reason", kybflow.DeadLetterReason(cause))
	return streams.Term(fmt.Errorf("dead-lettered: %w", cause))
}

// advance takes a valid command (stream sequence seq) as far as it goes:
// from no record to an opened session with its check scheduled.
func (h *Handlers) advance(ctx context.Context, cmd kybflow.LookupCommand, seq uint64) error {
	id := cmd.LookupID
	rec, rev, err := h.c.Lookups.Get(ctx, id)
	if errors.Is(err, lookups.ErrNotFound) {
		rec = lookups.Record{State: lookups.Accepted, Command: cmd, AcceptedAt: h.c.Now()}
		rev, err = h.c.Lookups.Create(ctx, rec)
		if errors.Is(err, lookups.ErrExists) {
			rec, rev, err = h.c.Lookups.Get(ctx, id)
		} else if err == nil {
			h.c.Metrics.LookupsAccepted.Inc()
		}
	}
	if err != nil {
		return h.readError(err)
	}
	if !sameLookup(rec.Command, cmd) {
		// The first command with a lookupId defines the lookup. Another one
		// with the same id but other content is a caller's mistake; it must
		// not open a second session.
		h.log.Warn("command differs from the lookup recorded under its lookupId; the recorded one stands", "lookup_id", id)
	}

	for range 10 { // compare-and-set rounds; each conflict means another replica moved
		switch rec.State {
		case lookups.Completed, lookups.Failed:
			return h.finish(ctx, rec, rev, nil)

		case lookups.Opened:
			return h.announceOpened(ctx, rec, rev)

		case lookups.Opening:
			now := h.c.Now()
			if end := rec.LeaseUntil.Add(leaseSkew); now.Before(end) {
				if rec.LeaseSeq != 0 && seq != 0 && rec.LeaseSeq != seq {
					// A duplicate: the lease holder's own command carries the
					// lookup (it stays unacknowledged until the session is
					// recorded, and comes back if its holder dies), so this
					// one is done, and the pending count stays work not
					// started yet.
					h.log.Info("duplicate command while its lookup is being opened; acknowledged", "lookup_id", id)
					return nil
				}
				// Our own command, redelivered while its lease is held.
				return streams.Retry(fmt.Errorf("lookup %s: session being opened elsewhere", id), end.Sub(now))
			}
			h.log.Warn("taking over a lookup whose opening lease expired; a session may have been opened by the replica that held it", "lookup_id", id)
			fallthrough

		case lookups.Accepted:
			if err := h.ensureEvent(ctx, &rec, kybflow.KindAccepted, rec.Command.AcceptedData()); err != nil {
				return err
			}
			// Claim: one replica opens the session.
			rec.State, rec.LeaseUntil, rec.LeaseHolder, rec.LeaseSeq = lookups.Opening, h.c.Now().Add(h.c.Lease), newLeaseHolder(), seq
			next, err := h.c.Lookups.Update(ctx, rec, rev)
			if errors.Is(err, lookups.ErrConflict) {
				if rec, rev, err = h.c.Lookups.Get(ctx, id); err != nil {
					return streams.Retry(err, 0)
				}
				continue
			}
			if err != nil {
				return streams.Retry(err, 0)
			}
			return h.open(ctx, rec, next)

		default:
			return streams.Term(fmt.Errorf("lookup %s: unknown state %q", id, rec.State))
		}
	}
	return streams.Retry(fmt.Errorf("lookup %s: too many concurrent changes", id), 0)
}

// sameLookup reports whether two commands ask for the same lookup.
func sameLookup(a, b kybflow.LookupCommand) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// open creates the session of a lookup this replica has claimed, and
// records it. The lease is renewed while the create call runs; the call is
// cancelled if the lease cannot be counted on any more (lease.go).
func (h *Handlers) open(ctx context.Context, rec lookups.Record, rev uint64) error {
	cmd := rec.Command
	l := h.holdLease(ctx, rec, rev)
	sessionID, err := h.createSession(l.ctx, cmd)
	rec, rev, lost := l.release()
	if err != nil {
		if errors.Is(lost, errLeaseTaken) {
			return streams.Retry(fmt.Errorf("create session: %w (%w)", lost, err), 0)
		}
		retry, delay, code := classify(err)
		if retry && h.c.Now().Sub(rec.AcceptedAt) > h.c.MaxWait {
			retry, code = false, kybflow.CodeUnavailable
			err = fmt.Errorf("could not open a session within %s: %w", h.c.MaxWait, err)
		}
		if retry {
			// Give the claim back so the next delivery may try at once; also
			// when our own context is ending (a drain), hence WithoutCancel.
			rec.State, rec.LeaseUntil, rec.LeaseHolder, rec.LeaseSeq = lookups.Accepted, time.Time{}, "", 0
			uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			if _, uerr := h.c.Lookups.Update(uctx, rec, rev); uerr != nil {
				h.log.Warn("release opening lease", "lookup_id", cmd.LookupID, "err", uerr)
			}
			ucancel()
			h.c.Metrics.TransientErrors.WithLabelValues("create_session").Inc()
			return streams.Retry(err, delay)
		}
		return h.fail(ctx, rec, rev, code, err.Error())
	}
	h.c.Metrics.SessionsOpened.Inc()
	holder := rec.LeaseHolder
	rec.State, rec.SessionID, rec.OpenedAt = lookups.Opened, sessionID, h.c.Now()
	rec.LeaseUntil, rec.LeaseHolder, rec.LeaseSeq = time.Time{}, "", 0
	next, err := h.recordSession(ctx, rec, rev, holder)
	if err != nil {
		// Not recorded: a replica that takes over will not know this
		// session, and will open another one.
		h.log.Error("session opened but not recorded; a second session may be opened for this lookup", "lookup_id", cmd.LookupID, "session_id", sessionID, "err", err)
		return streams.Retry(err, 0)
	}
	h.log.Info("session opened", "lookup_id", cmd.LookupID, "session_id", sessionID)
	return h.announceOpened(ctx, rec, next)
}

// releaseTimeout bounds giving an opening claim back.
const releaseTimeout = 5 * time.Second

// recordPatience is how long recording a just-opened session keeps trying
// through NATS trouble (a leader election, a server restart). The write is
// a compare-and-set on the claimed revision, so it can only land while no
// other replica has taken the lookup over, however late it is: trying long
// only narrows the window for a second session.
const recordPatience = 2 * time.Minute

// recordRetry is the wait between attempts to record a session.
const recordRetry = 200 * time.Millisecond

// recordSession writes the record of a just-opened session. The session
// exists upstream and cost money, so this write is worth more than our
// context: it goes on when the context ends (a drain) and retries passing
// failures, for recordPatience.
func (h *Handlers) recordSession(ctx context.Context, rec lookups.Record, rev uint64, holder string) (uint64, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordPatience)
	defer cancel()
	for {
		next, err := h.c.Lookups.Update(rctx, rec, rev)
		if errors.Is(err, lookups.ErrConflict) {
			// An earlier attempt, or a renewal of our lease, may have been
			// applied without our hearing: decide on what is there.
			cur, curRev, gerr := h.c.Lookups.Get(rctx, rec.Command.LookupID)
			switch {
			case gerr != nil:
				err = gerr
			case cur.State == lookups.Opened && cur.SessionID == rec.SessionID:
				return curRev, nil
			case cur.State == lookups.Opening && cur.LeaseHolder == holder:
				rev = curRev // still our claim: write over our own renewal
				err = fmt.Errorf("record session: our claim moved to revision %d", curRev)
			default:
				return 0, fmt.Errorf("the lookup was taken over (state %s): %w", cur.State, err)
			}
		}
		if err == nil {
			return next, nil
		}
		select {
		case <-rctx.Done():
			return 0, fmt.Errorf("%w (last: %w)", rctx.Err(), err)
		case <-time.After(recordRetry):
		}
	}
}

func (h *Handlers) createSession(ctx context.Context, cmd kybflow.LookupCommand) (string, error) {
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
		req.Webhook = &amlapi.WebhookSubscription{URL: h.c.WebhookURL + "/" + cmd.LookupID}
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

// announceOpened makes sure the session_opened event and the first check
// are out, then the command is done.
func (h *Handlers) announceOpened(ctx context.Context, rec lookups.Record, rev uint64) error {
	if slices.Contains(rec.Published, lookups.MarkCheckScheduled) && slices.Contains(rec.Published, string(kybflow.KindSessionOpened)) {
		return nil
	}
	if err := h.ensureEvent(ctx, &rec, kybflow.KindSessionOpened, rec.Command.SessionOpenedData(rec.SessionID)); err != nil {
		return err
	}
	if !slices.Contains(rec.Published, lookups.MarkCheckScheduled) {
		body, _ := json.Marshal(checkMessage{LookupID: rec.Command.LookupID})
		if _, err := streams.Publish(ctx, h.c.Publisher, h.c.Subjects.Check(rec.Command.LookupID), body, rec.Command.LookupID+".check", nil); err != nil {
			return streams.Retry(err, 0)
		}
		rec.Published = append(rec.Published, lookups.MarkCheckScheduled)
	}
	if _, err := h.c.Lookups.Update(ctx, rec, rev); err != nil && !errors.Is(err, lookups.ErrConflict) {
		// The marks only save a re-publish, which the stream deduplicates.
		h.log.Warn("record published marks", "lookup_id", rec.Command.LookupID, "err", err)
	}
	return nil
}

// checkMessage is the body of a check: which lookup to look at.
type checkMessage struct {
	LookupID string `json:"lookupId"`
}

// ---- Checks and webhooks ----

// Check polls one session: it stores whatever results are ready, ends the
// lookup when all are stored or the session failed, and otherwise asks to
// be redelivered after the next poll interval.
func (h *Handlers) Check(ctx context.Context, msg jetstream.Msg) error {
	var cm checkMessage
	if err := json.Unmarshal(msg.Data(), &cm); err != nil || !kybflow.ValidLookupID(cm.LookupID) {
		return streams.Term(fmt.Errorf("check message %q is not {\"lookupId\": ...}", truncate(msg.Data(), 100)))
	}
	var n uint64 = 1
	published := h.c.Now()
	if md, err := msg.Metadata(); err == nil {
		n, published = md.NumDelivered, md.Timestamp
	}
	// A check exists only once its lookup is opened. A read that says
	// otherwise may come from a key-value replica that lags behind (reads
	// are served by followers on a cluster): never drop the lookup's only
	// check on it. A check older than any lookup can wait belongs to a
	// record that retention removed (or a hand deleted): that one goes.
	rec, rev, err := h.c.Lookups.Get(ctx, cm.LookupID)
	if errors.Is(err, lookups.ErrNotFound) {
		if h.c.Now().Sub(published) < h.c.MaxWait+time.Hour {
			return streams.Retry(err, time.Second)
		}
		h.log.Warn("check for a lookup that no longer exists; dropped", "lookup_id", cm.LookupID)
		return nil
	}
	if err != nil {
		return h.readError(err)
	}
	switch {
	case rec.State.Terminal():
		return h.finish(ctx, rec, rev, nil)
	case rec.State != lookups.Opened:
		return streams.Retry(fmt.Errorf("check for lookup %s in state %s: a lagging read", cm.LookupID, rec.State), time.Second)
	}
	done, err := h.progress(ctx, rec, rev)
	if err != nil || done {
		return err
	}
	return streams.Retry(errNotReady, h.pollDelay(n))
}

func (h *Handlers) pollDelay(n uint64) time.Duration {
	limit := h.c.Poll.Max
	if h.c.WebhookURL != "" {
		limit = h.c.Poll.MaxWithWebhooks
	}
	return streams.Backoff{Initial: h.c.Poll.Initial, Max: limit}.Delay(n)
}

// Webhook handles a webhook republished by the bridge. It is a hint: the
// lookup's own record names the session, and progress asks the API for its
// status with our own token before anything is stored.
func (h *Handlers) Webhook(ctx context.Context, msg jetstream.Msg) error {
	subject := msg.Subject()
	lookupID := subject[strings.LastIndexByte(subject, '.')+1:]
	var wh amlapi.Webhook
	if err := json.Unmarshal(msg.Data(), &wh); err != nil {
		return streams.Term(fmt.Errorf("webhook for %s is not JSON: %w", lookupID, err))
	}
	h.c.Metrics.Webhooks.WithLabelValues(string(wh.Event)).Inc()
	rec, rev, err := h.c.Lookups.Get(ctx, lookupID)
	if errors.Is(err, lookups.ErrNotFound) {
		h.log.Warn("webhook for an unknown lookup; ignored", "lookup_id", lookupID, "event", string(wh.Event))
		return nil
	}
	if err != nil {
		return h.readError(err)
	}
	switch {
	case rec.State.Terminal():
		return h.finish(ctx, rec, rev, nil) // late or duplicate: at most re-publish the ending
	case rec.State != lookups.Opened:
		// BankID can call back before we recorded the session id.
		return streams.Retry(fmt.Errorf("webhook for %s before its session was recorded", lookupID), time.Second)
	case wh.SessionID != rec.SessionID:
		h.log.Warn("webhook names another session than the lookup's; ignored", "lookup_id", lookupID, "event", string(wh.Event))
		return nil
	}
	_, err = h.progress(ctx, rec, rev)
	return err
}

// progress asks for the session's status, stores every ready result not
// stored yet, and ends the lookup when it can. It reports whether the
// lookup is finished.
func (h *Handlers) progress(ctx context.Context, rec lookups.Record, rev uint64) (bool, error) {
	cmd := rec.Command
	kind := amlapi.KindOrganization
	if cmd.Type == kybflow.TypeBeneficialOwners {
		kind = amlapi.KindBeneficial
	}
	h.c.Metrics.Polls.Inc()
	sess, err := h.c.API.Session(ctx, kind, rec.SessionID)
	if err != nil {
		retry, delay, code := classify(err)
		var ae *amlapi.Error
		switch {
		case amlapi.ClassOf(err) == amlapi.Unreadable && errors.As(err, &ae):
			// Paid for, and unreadable: model.go may not match the API.
			// Never a verdict on the lookup; an operator corrects the model.
			h.log.Warn("session answer unreadable; retried later (model.go may not match the API)", "lookup_id", cmd.LookupID, "shape", ae.Shape, "err", err)
			h.c.Metrics.Unreadable.Inc()
		case amlapi.ClassOf(err) == amlapi.Expired && h.c.Now().Sub(rec.OpenedAt) < amlapi.Lifetime:
			// Results live two hours after they become available, so a
			// session created less than that ago cannot have expired: the
			// session path of the model is wrong, or the API lost it.
			h.log.Error("session not found soon after it was created; retried later (the session path in model.go may be wrong)", "lookup_id", cmd.LookupID, "session_id", rec.SessionID, "err", err)
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
			return false, streams.Retry(err, delay)
		}
		return true, h.fail(ctx, rec, rev, code, err.Error())
	}
	if sess.Status == amlapi.SessionFailed {
		return true, h.fail(ctx, rec, rev, kybflow.CodeSessionFailed, fmt.Sprintf("BankID session %s failed", rec.SessionID))
	}

	pending, unknown := 0, ""
	for _, want := range wanted(cmd, sess) {
		if _, ok := rec.Artifact(want.name); ok {
			continue
		}
		ent, ok := want.entity(sess)
		switch {
		case !ok:
			if sess.Status == amlapi.SessionDone {
				return true, h.fail(ctx, rec, rev, kybflow.CodeSessionFailed, fmt.Sprintf("session %s is done without %s", rec.SessionID, want.name))
			}
			pending++
		case ent.Status == amlapi.EntityReady && ent.Link != "":
			art, omitted, err := h.store(ctx, rec, want.name, ent.Link)
			if err != nil {
				retry, delay, code := classifyStore(err)
				if retry {
					return false, streams.Retry(err, delay)
				}
				return true, h.fail(ctx, rec, rev, code, err.Error())
			}
			rec.AddArtifact(art)
			if omitted != nil {
				rec.OmittedExpands = omitted
			}
			next, err := h.c.Lookups.Update(ctx, rec, rev)
			if err != nil {
				// Another replica moved the record: the object is stored
				// under its deterministic key either way; decide again later.
				return false, streams.Retry(err, conflictRetry)
			}
			rev = next
		case ent.Status == amlapi.EntityExpired:
			return true, h.fail(ctx, rec, rev, kybflow.CodeExpired, fmt.Sprintf("%s of session %s expired before it was stored", want.name, rec.SessionID))
		case ent.Status == amlapi.EntityFailed:
			return true, h.fail(ctx, rec, rev, kybflow.CodeSessionFailed, fmt.Sprintf("%s of session %s failed", want.name, rec.SessionID))
		case ent.Status == amlapi.EntityNotStarted || ent.Status == amlapi.EntityInProgress:
			pending++
		default: // a status the model does not know, or READY without a link: waited for
			pending++
			unknown = want.name
			h.log.Warn("session entity in a state the model does not know; waiting", "lookup_id", cmd.LookupID,
				"entity", want.name, "status", truncate([]byte(ent.Status), 40), "has_link", ent.Link != "")
		}
	}
	if pending > 0 {
		if h.c.Now().Sub(rec.OpenedAt) > h.c.MaxWait {
			if unknown != "" {
				return true, h.fail(ctx, rec, rev, kybflow.CodeUnavailable, fmt.Sprintf("no complete result within %s: %s stayed in a state the model does not know", h.c.MaxWait, unknown))
			}
			return true, h.fail(ctx, rec, rev, kybflow.CodeExpired, fmt.Sprintf("no complete result within %s", h.c.MaxWait))
		}
		return false, nil
	}
	return true, h.complete(ctx, rec, rev)
}

// Named delays of the result path.
const (
	// unreadableRetry: a session answer we cannot read, or a session not
	// found soon after its creation, is asked about again after this.
	unreadableRetry = time.Minute
	// conflictRetry: the record moved under us; decide again soon.
	conflictRetry = 100 * time.Millisecond
)

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

// store streams one result from the API into storage. For the JSON of a
// beneficial owners lookup it also reads, from a bounded copy taken while
// streaming, which requested expands the API left out (omitted; nil when
// the question does not apply).
func (h *Handlers) store(ctx context.Context, rec lookups.Record, name, link string) (art kybflow.Artifact, omitted []string, err error) {
	id := rec.Command.LookupID
	key, err := h.c.Keys.Key(id, name)
	if err != nil {
		return kybflow.Artifact{}, nil, err
	}
	dl, err := h.c.API.Download(ctx, link)
	if err != nil {
		return kybflow.Artifact{}, nil, err
	}
	defer dl.Body.Close()
	ct := dl.ContentType
	if want := kybflow.ArtifactContentType(name); want != "" && !strings.HasPrefix(ct, want) {
		ct = want
	}
	var body io.Reader = dl.Body
	var inspect *boundedBuffer
	if name == kybflow.ArtifactJSON && rec.Command.Type == kybflow.TypeBeneficialOwners && len(rec.Command.Expands) > 0 {
		inspect = &boundedBuffer{limit: maxInspectedJSON}
		body = io.TeeReader(dl.Body, inspect)
	}
	obj, err := h.c.Blobs.Put(ctx, key, body, dl.Size, blob.PutOptions{
		ContentType: ct, Metadata: kybflow.ObjectMetadata(id, rec.SessionID, name),
	})
	if err != nil {
		return kybflow.Artifact{}, nil, &storeError{err: fmt.Errorf("store %s of lookup %s: %w", name, id, err)}
	}
	h.c.Metrics.ArtifactsStored.Inc()
	h.c.Metrics.BytesStored.Add(float64(obj.Size))
	h.log.Info("artifact stored", "lookup_id", id, "artifact", name, "key", obj.Key, "size", obj.Size)
	if inspect != nil {
		omitted = h.omittedExpands(rec.Command, inspect)
	}
	return kybflow.Artifact{
		Name: name, Bucket: obj.Bucket, Key: obj.Key, Size: obj.Size, SHA256: obj.SHA256, ContentType: obj.ContentType,
	}, omitted, nil
}

// maxInspectedJSON bounds the copy of a JSON result read for its omitted
// expands; a larger document is stored whole, uninspected.
const maxInspectedJSON = 4 << 20

// omittedExpands are the expands cmd asked for that the document says
// were left out, in the command's order; an empty, non-nil list when none.
func (h *Handlers) omittedExpands(cmd kybflow.LookupCommand, doc *boundedBuffer) []string {
	if doc.overflow {
		h.log.Warn("beneficial owners JSON too large to read its omitted expands", "lookup_id", cmd.LookupID, "limit", maxInspectedJSON)
		return []string{}
	}
	left, err := amlapi.OmittedExpands(doc.buf.Bytes())
	if err != nil {
		h.log.Warn("beneficial owners JSON: omitted expands unreadable", "lookup_id", cmd.LookupID, "err", err)
		return []string{}
	}
	out := []string{}
	for _, x := range cmd.Expands {
		if slices.Contains(left, x) {
			out = append(out, x)
		}
	}
	if len(out) > 0 {
		h.log.Info("the API left requested expands out (no National Registry access?)", "lookup_id", cmd.LookupID, "omitted", out)
	}
	return out
}

// boundedBuffer keeps the first limit bytes written to it and notes
// whether there were more; it never fails a write (the upload goes on).
type boundedBuffer struct {
	buf      bytes.Buffer
	limit    int
	overflow bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.buf.Len(); len(p) > room {
		b.overflow = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// storeError marks a storage failure (as opposed to a download failure).
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// ---- Endings ----

func (h *Handlers) complete(ctx context.Context, rec lookups.Record, rev uint64) error {
	rec.State, rec.FinishedAt = lookups.Completed, h.c.Now()
	return h.end(ctx, rec, rev, nil)
}

// fail ends a lookup with a failed event. It returns the Term the message
// should get, or a Retry when the ending could not be published yet.
func (h *Handlers) fail(ctx context.Context, rec lookups.Record, rev uint64, code kybflow.FailureCode, reason string) error {
	data := rec.Command.FailedData(code, reason)
	data.SessionID = rec.SessionID
	rec.State, rec.Failure, rec.FinishedAt, rec.LeaseUntil = lookups.Failed, &data, h.c.Now(), time.Time{}
	return h.end(ctx, rec, rev, streams.Term(fmt.Errorf("lookup %s failed: %s: %s", rec.Command.LookupID, code, reason)))
}

// end makes a lookup terminal: it first claims the ending by compare-and-set
// on the record, so that of two replicas ending one lookup (a poll and a
// webhook; one seeing it complete, the other a result just expired) only one
// ending exists, then publishes it. The loser publishes the winner's ending
// if that is not out yet. A crash between the claim and the publish leaves a
// terminal record whose event is not marked published: any later delivery
// for the lookup publishes it (finish).
func (h *Handlers) end(ctx context.Context, rec lookups.Record, rev uint64, onDone error) error {
	next, err := h.c.Lookups.Update(ctx, rec, rev)
	if errors.Is(err, lookups.ErrConflict) {
		cur, curRev, gerr := h.c.Lookups.Get(ctx, rec.Command.LookupID)
		if gerr != nil {
			return h.readError(gerr)
		}
		if cur.State.Terminal() {
			return h.finish(ctx, cur, curRev, onDone)
		}
		// Another replica moved it (stored an artifact): decide again.
		return streams.Retry(err, 100*time.Millisecond)
	}
	if err != nil {
		return streams.Retry(err, 0)
	}
	if rec.State == lookups.Failed {
		h.log.Warn("lookup failed", "lookup_id", rec.Command.LookupID, "code", string(rec.Failure.Code), "reason", rec.Failure.Reason)
	}
	return h.finish(ctx, rec, next, onDone)
}

// finish publishes the terminal event of a record that is terminal in the
// store, then marks it published: a crash before the mark re-publishes with
// the same id, which the stream drops. It returns onDone once both hold.
func (h *Handlers) finish(ctx context.Context, rec lookups.Record, rev uint64, onDone error) error {
	var kind kybflow.Kind
	var data any
	switch rec.State {
	case lookups.Completed:
		d := rec.Command.CompletedData(rec.SessionID, rec.Artifacts)
		if len(rec.OmittedExpands) > 0 {
			d.OmittedExpands = rec.OmittedExpands
		}
		kind, data = kybflow.KindCompleted, d
	case lookups.Failed:
		kind, data = kybflow.KindFailed, *rec.Failure
	default:
		return streams.Retry(fmt.Errorf("finish lookup %s in state %s", rec.Command.LookupID, rec.State), 0)
	}
	if slices.Contains(rec.Published, string(kind)) {
		return onDone
	}
	first, err := h.publishEvent(ctx, kind, rec.Command.LookupID, data)
	if err != nil {
		return streams.Retry(err, 0)
	}
	if first { // a poll and a webhook may both get here; the stream kept one event
		if kind == kybflow.KindCompleted {
			h.c.Metrics.lookupCompleted(rec)
		} else {
			h.c.Metrics.lookupFailed(rec.Failure.Code)
		}
	}
	rec.Published = append(rec.Published, string(kind))
	if _, err := h.c.Lookups.Update(ctx, rec, rev); err != nil {
		if errors.Is(err, lookups.ErrConflict) {
			// Another replica marked it too: the record is terminal either
			// way, and the event it published has the same id as ours.
			return onDone
		}
		return streams.Retry(err, 0)
	}
	return onDone
}

// ensureEvent publishes a non-terminal event once (marked in rec.Published;
// the caller writes the record).
func (h *Handlers) ensureEvent(ctx context.Context, rec *lookups.Record, kind kybflow.Kind, data any) error {
	if slices.Contains(rec.Published, string(kind)) {
		return nil
	}
	if _, err := h.publishEvent(ctx, kind, rec.Command.LookupID, data); err != nil {
		return streams.Retry(err, 0)
	}
	rec.Published = append(rec.Published, string(kind))
	return nil
}

// publishEvent publishes an event with its stable id as Nats-Msg-Id. It
// reports whether this was the first publish of that id (the stream drops
// the others within its duplicate window).
func (h *Handlers) publishEvent(ctx context.Context, kind kybflow.Kind, lookupID string, data any) (first bool, err error) {
	ev, err := kybflow.NewEvent(h.c.Source, kind, lookupID, h.c.Now(), data)
	if err != nil {
		return false, fmt.Errorf("event %s of %s: %w", kind, lookupID, err)
	}
	b, err := kybflow.EncodeEvent(ev)
	if err != nil {
		return false, err
	}
	hdr := nats.Header{}
	hdr.Set("Content-Type", "application/cloudevents+json")
	dup, err := streams.Publish(ctx, h.c.Publisher, h.c.Subjects.Event(lookupID, kind), b, ev.ID, hdr)
	if err != nil {
		return false, err
	}
	if !dup {
		h.c.Metrics.Events.WithLabelValues(string(kind)).Inc()
	}
	return !dup, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
