package amlapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// fakeAPI is an httptest server playing an OpenID issuer (discovery and a
// client-credentials token endpoint, below /realms/test) and the AML API
// (everything else). Tests set api to answer API requests; the fake checks
// their bearer token first and answers 401 itself when it is not one it
// issued (or when rejectAll is set).
type fakeAPI struct {
	srv      *httptest.Server
	issuer   string
	tokenURL string

	discoveryHits, tokenHits, apiHits atomic.Int32

	mu            sync.Mutex
	expiresIn     int      // of issued tokens; 0 leaves expires_in out
	discoveryFail []int    // statuses answered to discovery, in turn, before success
	tokenFail     []int    // statuses answered to token requests, in turn, before success
	tokenAuth     []string // "basic" or "post", per token request
	tokenScopes   []string // the scope parameter, per token request
	issued        int      // tokens issued so far
	valid         map[string]bool
	rejectAll     bool       // answer every API request 401
	requests      []recorded // API requests that passed the token check
	api           http.HandlerFunc
}

type recorded struct {
	Method, Path, Auth, ContentType string
	Body                            []byte
}

const (
	testClientID     = "client-id"
	testClientSecret = "s3cr+t/secret"
)

func newFake(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{expiresIn: 300, valid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /realms/test"+WellKnownPath, f.discovery)
	mux.HandleFunc("POST /realms/test"+TokenPath, f.token)
	mux.HandleFunc("/realms/", http.NotFound)
	mux.HandleFunc("/", f.serveAPI)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.issuer = f.srv.URL + "/realms/test"
	f.tokenURL = f.issuer + TokenPath
	return f
}

func (f *fakeAPI) discovery(w http.ResponseWriter, r *http.Request) {
	f.discoveryHits.Add(1)
	f.mu.Lock()
	var status int
	if len(f.discoveryFail) > 0 {
		status, f.discoveryFail = f.discoveryFail[0], f.discoveryFail[1:]
	}
	f.mu.Unlock()
	if status != 0 {
		http.Error(w, "<html>upstream trouble</html>", status)
		return
	}
	writeJSON(w, http.StatusOK, Discovery{Issuer: f.issuer, TokenEndpoint: f.tokenURL})
}

func (f *fakeAPI) token(w http.ResponseWriter, r *http.Request) {
	f.tokenHits.Add(1)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret, basic := r.BasicAuth()
	auth := "basic"
	if !basic {
		auth, id, secret = "post", r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	} else {
		// oauth2 form-escapes the credentials in the Basic header (RFC 6749 2.3.1).
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenAuth = append(f.tokenAuth, auth)
	f.tokenScopes = append(f.tokenScopes, r.PostForm.Get("scope"))
	if len(f.tokenFail) > 0 {
		status := f.tokenFail[0]
		f.tokenFail = f.tokenFail[1:]
		writeJSON(w, status, map[string]string{"error": "server_error", "error_description": "try again"})
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || id != testClientID || secret != testClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Invalid client credentials"})
		return
	}
	f.issued++
	tok := fmt.Sprintf("tok-%d", f.issued)
	f.valid[tok] = true
	answer := map[string]any{"access_token": tok, "token_type": "Bearer", "scope": r.PostForm.Get("scope")}
	if f.expiresIn != 0 {
		answer["expires_in"] = f.expiresIn
	}
	writeJSON(w, http.StatusOK, answer)
}

func (f *fakeAPI) serveAPI(w http.ResponseWriter, r *http.Request) {
	f.apiHits.Add(1)
	body, _ := io.ReadAll(r.Body)
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	ok := f.valid[tok] && !f.rejectAll
	if ok {
		f.requests = append(f.requests, recorded{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
	}
	api := f.api
	f.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusUnauthorized, ErrorBody{ErrorCode: CodeUnauthorized, ErrorMessage: "bad token", TraceID: "t-401"})
		return
	}
	if api == nil {
		http.NotFound(w, r)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	api(w, r)
}

// setAPI sets the API handler.
func (f *fakeAPI) setAPI(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.api = h
}

// revokeTokens makes every token issued so far invalid.
func (f *fakeAPI) revokeTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.valid)
}

func (f *fakeAPI) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func (f *fakeAPI) authStyles() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.tokenAuth...)
}

func (f *fakeAPI) scopes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.tokenScopes...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sequence answers the API requests in turn with the given handlers,
// repeating the last one.
func sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		i := min(int(n.Add(1))-1, len(hs)-1)
		hs[i](w, r)
	}
}

// status answers with an API error body.
func status(code int, errorCode string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, code, ErrorBody{ErrorCode: errorCode, ErrorMessage: "message for " + errorCode, TraceID: "trace-" + errorCode})
	}
}

func created(id string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", SessionPath(KindOrganization, id))
		writeJSON(w, http.StatusCreated, SessionCreated{SessionID: id})
	}
}

func accessGranted(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, AccessRights{NationalRegistry: AccessGranted})
}

// testConfig is a Config for f that retries fast and has no rate limit.
func testConfig(f *fakeAPI) Config {
	return Config{
		BaseURL:      f.srv.URL,
		IssuerURL:    f.issuer,
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		Retry: RetryPolicy{
			InitialInterval: time.Millisecond,
			MaxInterval:     5 * time.Millisecond,
			MaxElapsedTime:  10 * time.Second,
			MaxAttempts:     4,
		},
		RequestTimeout: 5 * time.Second,
		RateLimit:      rate.Inf,
	}
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// logBuffer is a concurrency-safe buffer behind a text slog.Logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
