package sandbox_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

// Fast timings for tests.
const (
	testReady    = 150 * time.Millisecond
	testInterval = 75 * time.Millisecond
)

const webhookSecret = "whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS1zYW5kYm94" // "test-secret-for-the-sandbox"

var allScopes = []string{amlapi.ScopeBasic, amlapi.ScopeOFAC, amlapi.ScopeFinancialsCredit}

// env is a started sandbox and a token with every scope.
type env struct {
	t     *testing.T
	srv   *sandbox.Server
	base  string
	token string
}

// newEnv starts a sandbox on a free port, with fast timings unless cfg says
// otherwise, and closes it when the test ends.
func newEnv(t *testing.T, cfg sandbox.Config) *env {
	t.Helper()
	if cfg.ReadyAfter == 0 {
		cfg.ReadyAfter = testReady
	}
	if cfg.ReportInterval == 0 {
		cfg.ReportInterval = testInterval
	}
	if cfg.WebhookSecret == "" {
		cfg.WebhookSecret = webhookSecret
	}
	if cfg.WebhookRetry.Initial == 0 {
		cfg.WebhookRetry.Initial = 50 * time.Millisecond
	}
	srv, err := sandbox.Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	e := &env{t: t, srv: srv, base: srv.URL()}
	scopes := cfg.AllowedScopes
	if len(scopes) == 0 {
		scopes = allScopes
	}
	e.token = e.tokenFor(scopes...)
	return e
}

// tokenFor gets a token with the given scopes through HTTP Basic.
func (e *env) tokenFor(scopes ...string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")}}
	req, _ := http.NewRequest(http.MethodPost, e.srv.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	resp, body := send(e.t, req)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	mustJSON(e.t, body, &tok)
	return tok.AccessToken
}

func send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// do sends method path (relative to the base URL, or absolute) with token
// (none when empty) and a JSON body (none when nil).
func (e *env) do(method, path, token string, body any) (*http.Response, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				e.t.Fatal(err)
			}
		}
		r = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.base + path
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(e.t, req)
}

// create makes a session and returns its id.
func (e *env) create(path string, req any) string {
	e.t.Helper()
	resp, body := e.do(http.MethodPost, path, e.token, req)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("create %s: %d %s", path, resp.StatusCode, body)
	}
	var c amlapi.SessionCreated
	mustJSON(e.t, body, &c)
	k := amlapi.KindOrganization
	if path == amlapi.CreateBeneficialPath {
		k = amlapi.KindBeneficial
	}
	if loc, want := resp.Header.Get("Location"), e.base+amlapi.SessionPath(k, c.SessionID); loc != want {
		e.t.Errorf("Location = %q, want %q", loc, want)
	}
	return c.SessionID
}

func (e *env) session(k amlapi.Kind, id string) amlapi.Session {
	e.t.Helper()
	resp, body := e.do(http.MethodGet, amlapi.SessionPath(k, id), e.token, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET session %s: %d %s", id, resp.StatusCode, body)
	}
	var s amlapi.Session
	mustJSON(e.t, body, &s)
	return s
}

// wait polls the session until cond holds or timeout passes.
func (e *env) wait(k amlapi.Kind, id string, timeout time.Duration, cond func(amlapi.Session) bool) amlapi.Session {
	e.t.Helper()
	var s amlapi.Session
	if err := testenv.Poll(timeout, func() error {
		if s = e.session(k, id); !cond(s) {
			return errors.New("not yet")
		}
		return nil
	}); err != nil {
		e.t.Fatalf("session %s: condition not met within %s; last: %+v", id, timeout, s)
	}
	return s
}

func done(s amlapi.Session) bool { return s.Status != amlapi.SessionInProgress }

// fetchJSON downloads the session's JSON through its link, decoded.
func (e *env) fetchJSON(s amlapi.Session) map[string]any {
	e.t.Helper()
	if s.JSONData.Status != amlapi.EntityReady {
		e.t.Fatalf("json is %s", s.JSONData.Status)
	}
	resp, body := e.do(http.MethodGet, s.JSONData.Link, e.token, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET json: %d %s", resp.StatusCode, body)
	}
	var m map[string]any
	mustJSON(e.t, body, &m)
	return m
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// errorCode decodes the model's error body.
func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var eb amlapi.ErrorBody
	mustJSON(t, b, &eb)
	if eb.TraceID == "" || eb.ErrorMessage == "" {
		t.Errorf("error body without message or trace id: %s", b)
	}
	return eb.ErrorCode
}

// path walks a decoded JSON document: path(m, "ownership", "beneficials").
func path(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("at %q: not an object: %v", k, v)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("no %q in %v", k, keys)
		}
	}
	return v
}

// received is one webhook as the receiver saw it.
type received struct {
	hook      amlapi.Webhook
	id        string
	verifyErr error
	at        time.Time
}

// hang, returned by a receiver's respond, answers nothing: the request is
// held until the sender gives up on it.
const hang = -1

// receiver is a webhook endpoint that verifies signatures and answers what
// respond says (200 by default; see hang).
type receiver struct {
	srv     *httptest.Server
	secret  string
	mu      sync.Mutex
	got     []received
	calls   int
	respond func(call int) int // called with the 1-based call number
}

func newReceiver(t *testing.T, secret string) *receiver {
	rc := &receiver{secret: secret}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var h amlapi.Webhook
		if err := json.Unmarshal(body, &h); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		rc.mu.Lock()
		rc.calls++
		call, respond := rc.calls, rc.respond
		rc.got = append(rc.got, received{
			hook: h, id: r.Header.Get(amlapi.HeaderWebhookID), at: time.Now(),
			verifyErr: amlapi.VerifyWebhook(rc.secret, r.Header, body, time.Now(), amlapi.DefaultWebhookTolerance),
		})
		rc.mu.Unlock()
		status := http.StatusOK
		if respond != nil {
			status = respond(call)
		}
		if status == hang {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second): // a sender that never gives up fails its test, not hangs it
			}
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/hook" }

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor waits until n webhooks arrived and returns them.
func (rc *receiver) waitFor(t *testing.T, n int, timeout time.Duration) []received {
	t.Helper()
	var got []received
	if err := testenv.Poll(timeout, func() error {
		if got = rc.received(); len(got) < n {
			return errors.New("not yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("got %d webhooks within %s, want %d: %+v", len(got), timeout, n, got)
	}
	return got
}

func events(rs []received) []string {
	var out []string
	for _, r := range rs {
		s := string(r.hook.Event)
		if r.hook.Report != "" {
			s += ":" + string(r.hook.Report)
		}
		out = append(out, s)
	}
	return out
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
