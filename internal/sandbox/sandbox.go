// Package sandbox is a faithful emulator of the BankID AML API as modelled
// in internal/amlapi (model.go is the one place of every wire detail; this
// package spells none of its own): the OIDC token endpoint, the
// organization and beneficial owners session APIs with their lazily
// computed state, synthetic JSON and PDF results, webhooks, access rights,
// and fault knobs, plus an inspection endpoint for tests.
//
// Use it in-process with New, Handler and Run, or with Start, which
// listens, serves and runs the webhook dispatcher. See docs/sandbox.md.
//
// Cost: a session is a small struct; its state is computed from its
// timestamps on every read, so there is no timer or goroutine per session.
// Webhooks go through one dispatcher goroutine with a time-ordered queue and
// a bounded pool of delivery workers.
package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// Sandbox is the emulated AML API. It is safe for concurrent use.
type Sandbox struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux

	rngMu sync.Mutex
	rng   *mrand.Rand // fault decisions; guarded by rngMu

	tokMu      sync.Mutex
	tokens     map[string]token
	tokenSweep int // sweep expired tokens when len(tokens) reaches it

	sessMu    sync.RWMutex
	sessions  map[string]*session
	sessSweep int // sweep forgotten sessions when len(sessions) reaches it

	sequences sessionCounter // sessions per changing identifier

	insp    inspector
	wh      dispatcher
	signer  webhookSigner  // bearer-jwt webhooks' and ID tokens' key, served at IssuerPath+JWKSPath
	logins  oidcLogins     // the OIDC login's codes (oidc_login.go)
	signing *reportSigning // the PDF reports' signers (signing.go)

	running atomic.Bool
}

// New validates cfg, fills in its defaults and returns a Sandbox. Call Run
// (or use Start) for webhooks to be delivered.
func New(cfg Config) (*Sandbox, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sandbox{
		cfg:        c,
		log:        c.Logger,
		rng:        mrand.New(mrand.NewPCG(uint64(c.Seed), 0x5eed_5a4d_b0c5)),
		tokens:     make(map[string]token),
		tokenSweep: 1024,
		sessions:   make(map[string]*session),
		sessSweep:  1024,
	}
	if s.signing, err = newReportSigning(c, time.Now()); err != nil {
		return nil, fmt.Errorf("sandbox: report signing: %w", err)
	}
	s.insp.init()
	s.wh.init()
	s.routes()
	return s, nil
}

// Config returns the effective configuration (defaults filled in).
func (s *Sandbox) Config() Config { return s.cfg }

// Handler is the HTTP handler of the whole sandbox: the AML API at the
// root, the OIDC issuer at IssuerPath, and /_sandbox/ for inspection.
func (s *Sandbox) Handler() http.Handler { return s.mux }

// routes registers every endpoint. Paths come from amlapi's constants and
// path functions only.
func (s *Sandbox) routes() {
	s.mux = http.NewServeMux()
	// handle registers h under pattern, counting requests by pattern.
	handle := func(pattern string, h http.HandlerFunc) {
		s.mux.Handle(pattern, s.recoverer(s.counted(pattern, h)))
	}

	handle("GET "+IssuerPath+amlapi.WellKnownPath, s.latent(s.handleDiscovery))
	handle("POST "+IssuerPath+amlapi.TokenPath, s.latent(s.handleToken))
	handle("GET "+IssuerPath+JWKSPath, s.latent(s.handleJWKS))
	handle("GET "+IssuerPath+AuthPath, s.latent(s.handleAuthorize))
	handle("POST "+IssuerPath+AuthPath, s.latent(s.handleAuthorize))

	for _, c := range []amlapi.Country{amlapi.NO, amlapi.SE, amlapi.FI} {
		handle("POST "+amlapi.CreateOrganizationPath(c), s.api(s.slowCreate(s.handleCreate(amlapi.KindOrganization, c))))
	}
	handle("POST "+amlapi.CreateBeneficialPath+"{$}", s.api(s.slowCreate(s.handleCreate(amlapi.KindBeneficial, amlapi.NO))))
	for _, k := range []amlapi.Kind{amlapi.KindOrganization, amlapi.KindBeneficial} {
		handle("GET "+pattern(amlapi.SessionPath(k, idMark)), s.api(s.handleSession(k)))
		handle("GET "+pattern(amlapi.JSONLinkPath(k, idMark)), s.api(s.handleJSON(k)))
		handle("GET "+pattern(amlapi.ReportLinkPath(k, idMark, reportMark)), s.api(s.handleReport(k)))
	}
	handle("GET "+amlapi.AccessRightsPath, s.api(s.handleAccessRights))

	handle("GET "+InspectPath, s.handleInspect)
	handle("GET "+CAPath, s.handleCA)
	handle("POST "+ResetPath, s.handleReset)
	handle("/", s.latent(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, http.StatusNotFound, amlapi.CodeNotFound, "no endpoint "+r.Method+" "+r.URL.Path)
	}))
}

// Placeholders for building mux patterns from amlapi's path functions, so
// that no path is spelled here.
const (
	idMark     = "SANDBOXSESSIONID"
	reportMark = "SANDBOXREPORT"
)

func pattern(p string) string {
	return strings.NewReplacer(idMark, "{id}", reportMark, "{report}").Replace(p)
}

// recoverer turns a panic into a 500 with the model's error body.
func (s *Sandbox) recoverer(h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // a recovered value, re-panicked only if it is the sentinel itself, as net/http does
					panic(v)
				}
				s.log.Error("sandbox: handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				s.writeError(w, http.StatusInternalServerError, amlapi.CodeInternal, "internal error")
			}
		}()
		h.ServeHTTP(w, r)
	}
}

func (s *Sandbox) counted(pattern string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.insp.request(pattern)
		h(w, r)
	}
}

// latent adds Faults.Latency.
func (s *Sandbox) latent(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d := s.cfg.Faults.Latency; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		h(w, r)
	}
}

// slowCreate adds Faults.CreateLatency to a create call, before the session
// exists: a caller that goes away meanwhile (a worker killed mid-create)
// opens nothing.
func (s *Sandbox) slowCreate(h apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, tok token) {
		if d := s.cfg.Faults.CreateLatency; d > 0 {
			// Read the body first: only then does the server watch the
			// connection, and end r's context when the caller goes away.
			body, err := io.ReadAll(io.LimitReader(r.Body, maxCreateBody+1)) // the handler refuses more
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		h(w, r, tok)
	}
}

// apiHandler is an AML API handler, called with the caller's valid token.
type apiHandler func(w http.ResponseWriter, r *http.Request, tok token)

// api wraps an AML API handler: latency, then the bearer token (401) and
// the basic scope (403), then the rate limit and error faults, decided
// before the handler changes any state.
func (s *Sandbox) api(h apiHandler) http.HandlerFunc {
	return s.latent(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if !tok.has(amlapi.ScopeBasic) {
			s.writeError(w, http.StatusForbidden, amlapi.CodeForbidden, "the token lacks the scope "+amlapi.ScopeBasic)
			return
		}
		if s.fault(w) {
			return
		}
		h(w, r, tok)
	})
}

// fault answers 429 or 500/503 when the fault knobs say so.
func (s *Sandbox) fault(w http.ResponseWriter) bool {
	f := s.cfg.Faults
	if f.RateLimitRate == 0 && f.ErrorRate == 0 {
		return false
	}
	s.rngMu.Lock()
	limited := s.rng.Float64() < f.RateLimitRate
	failed := !limited && s.rng.Float64() < f.ErrorRate
	unavailable := s.rng.IntN(2) == 0
	s.rngMu.Unlock()
	switch {
	case limited:
		w.Header().Set("Retry-After", strconv.FormatInt(f.retryAfterSeconds(), 10))
		s.writeError(w, http.StatusTooManyRequests, amlapi.CodeRateLimited, "rate limited (sandbox fault knob)")
	case failed && unavailable:
		s.writeError(w, http.StatusServiceUnavailable, amlapi.CodeUnavailable, "service unavailable (sandbox fault knob)")
	case failed:
		s.writeError(w, http.StatusInternalServerError, amlapi.CodeInternal, "internal error (sandbox fault knob)")
	default:
		return false
	}
	return true
}

// writeError writes the model's error body.
func (s *Sandbox) writeError(w http.ResponseWriter, status int, code, msg string) {
	body := amlapi.ErrorBody{ErrorCode: code, ErrorMessage: msg, TraceID: randomHex(8)}
	s.writeJSON(w, status, body)
}

func (s *Sandbox) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("sandbox: encode answer", "error", err)
		http.Error(w, "encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", amlapi.ContentTypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // the status is sent: nothing to do if the client went away
}

// baseURL is the API's base URL as seen by request r.
func (s *Sandbox) baseURL(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
