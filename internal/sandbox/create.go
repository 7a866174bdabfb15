package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
)

// maxCreateBody bounds the body of a create call.
const maxCreateBody = 64 << 10

// apiError is an error answer of the AML API.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

// createRequest is a validated create call.
type createRequest struct {
	identifier string // canonical
	idKind     identifier.Kind
	expands    []string
	reports    []amlapi.ReportType
	language   string
	webhook    *amlapi.WebhookSubscription
}

// parseCreate decodes and validates the body of a create call of kind k in
// country c, made with a token holding scopes. Errors are 400s (bad body,
// identifier, expand, report, language, webhook) or 403 (an expand needing
// a scope the token lacks), in that order.
func parseCreate(k amlapi.Kind, c amlapi.Country, body []byte, scopes []string) (createRequest, *apiError) {
	var req amlapi.CreateSessionRequest
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return createRequest{}, badRequest(amlapi.CodeInvalidRequest, "the body must be a JSON object")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return createRequest{}, badRequest(amlapi.CodeInvalidRequest, "the body is not a valid create request: %v", err)
	}
	var out createRequest
	var bad *apiError
	if out.identifier, out.idKind, bad = validateIdentifier(k, c, req.Identifier, req.IdentifierType); bad != nil {
		return createRequest{}, bad
	}

	known := amlapi.OrganizationExpands
	if k == amlapi.KindBeneficial {
		known = amlapi.BeneficialExpands
	}
	for _, e := range req.Expands {
		if !slices.Contains(known, e) {
			return createRequest{}, badRequest(amlapi.CodeInvalidExpand, "unknown expand %q for %s sessions; known: %s",
				e, k, strings.Join(known, ", "))
		}
		if !slices.Contains(out.expands, e) {
			out.expands = append(out.expands, e)
		}
	}

	allowedReports := []amlapi.ReportType{amlapi.ReportAML, amlapi.ReportCertificateOfIncorporation}
	if k == amlapi.KindBeneficial {
		allowedReports = []amlapi.ReportType{amlapi.ReportAML}
	}
	addReport := func(r amlapi.ReportType) *apiError {
		if !slices.Contains(allowedReports, r) {
			return badRequest(amlapi.CodeInvalidRequest, "unknown report type %q for %s sessions; known: %q", r, k, allowedReports)
		}
		if !slices.Contains(out.reports, r) {
			out.reports = append(out.reports, r)
		}
		return nil
	}
	for _, r := range req.Reports {
		if bad := addReport(r); bad != nil {
			return createRequest{}, bad
		}
	}
	for _, e := range out.expands {
		for _, r := range allowedReports {
			if e == amlapi.ReportExpand(r) {
				_ = addReport(r) // cannot fail: r is one of allowedReports
			}
		}
	}
	if k == amlapi.KindBeneficial {
		// The guide gives every beneficial owners result as the JSON and
		// the PDF report, with no way to leave the report out.
		_ = addReport(amlapi.BeneficialReport) // cannot fail: it is in allowedReports
	}

	if req.Language != "" && !slices.Contains(amlapi.Languages, req.Language) {
		return createRequest{}, badRequest(amlapi.CodeInvalidRequest, "unknown language %q; known: %s",
			req.Language, strings.Join(amlapi.Languages, ", "))
	}
	out.language = req.Language

	if wh := req.Webhook; wh != nil {
		u, err := url.Parse(wh.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return createRequest{}, badRequest(amlapi.CodeInvalidRequest, "webhook url %q is not an absolute http(s) URL", wh.URL)
		}
		sub := &amlapi.WebhookSubscription{URL: wh.URL}
		for _, ev := range wh.Events {
			if !slices.Contains(amlapi.AllWebhookEvents, ev) {
				return createRequest{}, badRequest(amlapi.CodeInvalidRequest, "unknown webhook event %q; known: %q", ev, amlapi.AllWebhookEvents)
			}
			if !slices.Contains(sub.Events, ev) {
				sub.Events = append(sub.Events, ev)
			}
		}
		out.webhook = sub
	}

	for _, e := range out.expands {
		if need := amlapi.RequiredScope(e); need != "" && !slices.Contains(scopes, need) {
			return createRequest{}, &apiError{http.StatusForbidden, amlapi.CodeForbidden,
				fmt.Sprintf("the expand %s needs the scope %s, which the token lacks", e, need)}
		}
	}
	return out, nil
}

// validateIdentifier checks an identifier with internal/identifier. With
// identifierType DUNS it is a 9-digit DUNS number, on every endpoint (the
// API takes an organization number or a DUNS number). Otherwise it is the
// endpoint's organization number; on SE and FI, where a 9-digit value
// cannot be an organization number, a DUNS number is also recognised
// without the type. On NO and beneficial endpoints a 9-digit value without
// the type is always an organization number: never guessed.
func validateIdentifier(k amlapi.Kind, c amlapi.Country, raw, typ string) (string, identifier.Kind, *apiError) {
	if strings.TrimSpace(raw) == "" {
		return "", "", badRequest(amlapi.CodeInvalidIdentifier, "identifier is required")
	}
	switch typ {
	case "":
	case amlapi.IdentifierTypeDUNS:
		d, err := identifier.Normalize(identifier.DUNS, raw)
		if err != nil {
			return "", "", badRequest(amlapi.CodeInvalidIdentifier, "%v", err)
		}
		return d, identifier.DUNS, nil
	default:
		return "", "", badRequest(amlapi.CodeInvalidRequest, "unknown identifierType %q; want %s or none", typ, amlapi.IdentifierTypeDUNS)
	}
	national, _ := identifier.ForCountry(string(c))
	canon, err := identifier.Normalize(national, raw)
	if err == nil {
		return canon, national, nil
	}
	if k == amlapi.KindOrganization && c != amlapi.NO {
		if d, derr := identifier.Normalize(identifier.DUNS, raw); derr == nil {
			return d, identifier.DUNS, nil
		}
		return "", "", badRequest(amlapi.CodeInvalidIdentifier, "%v (nor is it a 9-digit DUNS number)", err)
	}
	msg := err.Error()
	if d, derr := identifier.Normalize(identifier.DUNS, raw); derr == nil && d != "" {
		msg += fmt.Sprintf("; for a DUNS number send identifierType %s", amlapi.IdentifierTypeDUNS)
	}
	return "", "", badRequest(amlapi.CodeInvalidIdentifier, "%s", msg)
}

// handleCreate is POST of a create path.
func (s *Sandbox) handleCreate(k amlapi.Kind, c amlapi.Country) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, tok token) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCreateBody))
		if err != nil {
			s.writeError(w, http.StatusBadRequest, amlapi.CodeInvalidRequest, "cannot read the body: "+err.Error())
			return
		}
		req, bad := parseCreate(k, c, body, tok.scopes)
		if bad != nil {
			s.writeError(w, bad.status, bad.code, bad.msg)
			return
		}
		sess := s.open(k, c, req, tok.clientID, time.Now())
		base := s.baseURL(r)
		w.Header().Set("Location", base+amlapi.SessionPath(k, sess.id))
		s.writeJSON(w, http.StatusCreated, amlapi.SessionCreated{SessionID: sess.id})
	}
}

// open creates and stores a session and schedules its webhooks.
func (s *Sandbox) open(k amlapi.Kind, c amlapi.Country, req createRequest, clientID string, now time.Time) *session {
	sess := &session{
		id: newUUID(), clientID: clientID, kind: k, country: c,
		identifier: req.identifier, idKind: req.idKind, expands: req.expands, reports: req.reports,
		language: req.language, webhook: req.webhook,
	}
	if sp, ok := special(c, req.identifier); ok && req.idKind != identifier.DUNS {
		sess.behaviour = sp.Behaviour
	}
	if sess.behaviour.changes() {
		sess.sequence = s.sequences.next(sess.key())
	}
	switch {
	case sess.behaviour == BehaviourFail:
		sess.failing = true
	case sess.behaviour != BehaviourNormal || s.cfg.Faults.FailRate == 0:
	default:
		s.rngMu.Lock()
		sess.failing = s.rng.Float64() < s.cfg.Faults.FailRate
		s.rngMu.Unlock()
	}
	readyAfter, life := s.cfg.ReadyAfter, s.cfg.Lifetime
	switch sess.behaviour {
	case BehaviourSlow:
		readyAfter *= SlowFactor
	case BehaviourExpires:
		life = min(life, ExpiresAtOnceLifetime)
	}
	sess.tl = newTimeline(now, readyAfter, s.cfg.ReportInterval, life, s.cfg.Lifetime, len(sess.reports), sess.failing)
	sess.tl.delayReports(sess.behaviour, readyAfter)

	s.sessMu.Lock()
	if len(s.sessions) >= s.sessSweep {
		for id, x := range s.sessions {
			if x.tl.forgotten(now) {
				delete(s.sessions, id)
			}
		}
		s.sessSweep = 2*len(s.sessions) + 1024
	}
	s.sessions[sess.id] = sess
	s.sessMu.Unlock()

	s.insp.session(sess)
	s.scheduleWebhooks(sess)
	s.log.Info("sandbox: session created", "session", sess.id, "kind", string(k), "country", string(c),
		"reports", len(sess.reports), "failing", sess.failing, "behaviour", string(sess.behaviour))
	return sess
}

// lookup finds session id of kind k for the caller, answering 404 when it
// does not exist (any more), is of another kind, or belongs to another
// client.
func (s *Sandbox) lookup(w http.ResponseWriter, k amlapi.Kind, id string, tok token, now time.Time) (*session, bool) {
	s.sessMu.RLock()
	sess, ok := s.sessions[id]
	s.sessMu.RUnlock()
	if ok && sess.tl.forgotten(now) {
		s.sessMu.Lock()
		delete(s.sessions, id)
		s.sessMu.Unlock()
		ok = false
	}
	if !ok || sess.kind != k || sess.clientID != tok.clientID {
		s.writeError(w, http.StatusNotFound, amlapi.CodeNotFound, fmt.Sprintf("no %s session %q", k, id))
		return nil, false
	}
	return sess, true
}

// handleSession is GET of a session.
func (s *Sandbox) handleSession(k amlapi.Kind) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, tok token) {
		now := time.Now()
		sess, ok := s.lookup(w, k, r.PathValue("id"), tok, now)
		if !ok {
			return
		}
		if s.cfg.SessionShape == ShapeGuide {
			s.writeJSON(w, http.StatusOK, sess.guideView(now))
			return
		}
		s.writeJSON(w, http.StatusOK, sess.view(now, s.baseURL(r)))
	}
}

// handleAccessRights is GET of the access rights.
func (s *Sandbox) handleAccessRights(w http.ResponseWriter, r *http.Request, _ token) {
	s.writeJSON(w, http.StatusOK, amlapi.AccessRights{NationalRegistry: s.cfg.NationalRegistry})
}
