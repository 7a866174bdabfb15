package auth_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/sandbox"
)

// testKey is a CONSOLE_SESSION_KEY for tests (32 bytes).
var testKey = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// console is a console's login in front of three handlers, against a
// started sandbox.
type console struct {
	t     *testing.T
	url   string
	sb    *sandbox.Server
	clock *clock
}

func startSandbox(t *testing.T) *sandbox.Server {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Config{}, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("close sandbox: %v", err)
		}
	})
	return sb
}

// newConsole serves the login of settings (the sandbox's client, changed
// by edit) in front of:
//   - GET /whoami: "subject role name csrf-token"
//   - GET /documents: officers and up
//   - POST /act: with CSRF
func newConsole(t *testing.T, sb *sandbox.Server, edit func(*auth.Settings)) *console {
	t.Helper()
	outer := http.NewServeMux()
	srv := httptest.NewServer(outer)
	t.Cleanup(srv.Close)
	s := auth.DefaultSettings()
	s.IssuerURL, s.ClientID, s.ClientSecret = sb.IssuerURL(), sandbox.DefaultClientID, sandbox.DefaultClientSecret
	s.RedirectURL, s.SessionKey = srv.URL+"/callback", testKey
	if edit != nil {
		edit(&s)
	}
	c := &console{t: t, url: srv.URL, sb: sb, clock: &clock{t: time.Now()}}
	o, err := auth.NewOIDC(context.Background(), s, auth.Options{Now: c.clock.Now})
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	inner := http.NewServeMux()
	o.Routes(inner)
	inner.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		u, ok := auth.UserOf(r.Context())
		if !ok {
			http.Error(w, "no user", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s|%s|%s|%s", u.Subject, u.Role, u.Name, auth.CSRFToken(r))
	})
	inner.Handle("GET /documents", auth.RequireRole(auth.RoleOfficer, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "the PDF")
	})))
	inner.Handle("POST /act", auth.RequireCSRF(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "done")
	})))
	outer.Handle("/", o.Middleware(inner))
	return c
}

// browser is an HTTP client with a cookie jar; it follows redirects unless
// stop is set.
type browser struct {
	*http.Client
	t *testing.T
}

func newBrowser(t *testing.T, follow bool) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &browser{c, t}
}

// get fetches u and returns the status, the body and the Location.
func (b *browser) do(method, u string, form url.Values, header http.Header) (int, string, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read: %v", method, u, err)
	}
	return resp.StatusCode, string(text), resp.Header.Get("Location")
}

func (b *browser) get(u string) (int, string, string) { return b.do(http.MethodGet, u, nil, nil) }

// login logs b in as the sandbox's test user login, starting where a
// person would: a page, redirected to the login.
func (c *console) login(b *browser, login string) (status int, body string) {
	c.t.Helper()
	status, body, _ = b.get(c.url + "/login?" + url.Values{"next": {"/whoami"}, "login_hint": {login}}.Encode())
	return status, body
}

// whoami is /whoami's fields: subject, role, name, CSRF token.
func whoami(t *testing.T, body string) []string {
	t.Helper()
	f := strings.Split(body, "|")
	if len(f) != 4 {
		t.Fatalf("/whoami: %q", body)
	}
	return f
}

func TestLoginAsEachRole(t *testing.T) {
	sb := startSandbox(t)
	c := newConsole(t, sb, nil)
	for _, tc := range []struct {
		login, sub, name string
		role             auth.Role
		documents        int
	}{
		{"viewer", "sandbox-viewer", "Vera Viewer", auth.RoleViewer, http.StatusForbidden},
		{"officer", "sandbox-officer", "Otto Officer", auth.RoleOfficer, http.StatusOK},
		{"operator", "sandbox-operator", "Oda Operator", auth.RoleOperator, http.StatusOK},
		{"lead", "sandbox-lead", "Liv Lead", auth.RoleOperator, http.StatusOK}, // viewer and operator: the highest wins
	} {
		t.Run(tc.login, func(t *testing.T) {
			b := newBrowser(t, true)
			status, body := c.login(b, tc.login)
			if status != http.StatusOK {
				t.Fatalf("login: %d %s", status, body)
			}
			f := whoami(t, body)
			if f[0] != tc.sub || f[1] != string(tc.role) || f[2] != tc.name || f[3] == "" {
				t.Errorf("/whoami = %q, want %s|%s|%s|<token>", body, tc.sub, tc.role, tc.name)
			}
			if status, _, _ := b.get(c.url + "/documents"); status != tc.documents {
				t.Errorf("/documents: %d, want %d", status, tc.documents)
			}
		})
	}
}

func TestPagesRedirectToTheLoginAndBack(t *testing.T) {
	sb := startSandbox(t)
	c := newConsole(t, sb, nil)
	b := newBrowser(t, false)
	status, _, loc := b.get(c.url + "/documents?page=2")
	if status != http.StatusSeeOther || loc != "/login?next=%2Fdocuments%3Fpage%3D2" {
		t.Fatalf("a page without a session: %d to %q", status, loc)
	}
	for _, h := range []http.Header{{"Accept": {"application/json"}}, {"Sec-Fetch-Mode": {"cors"}}, {"Accept": {"text/event-stream"}}} {
		if status, _, _ := b.do(http.MethodGet, c.url+"/documents", nil, h); status != http.StatusUnauthorized {
			t.Errorf("a fetch (%v) without a session: %d, want 401", h, status)
		}
	}
	if status, _, _ := b.do(http.MethodPost, c.url+"/act", url.Values{}, nil); status != http.StatusUnauthorized {
		t.Errorf("a POST without a session: %d, want 401", status)
	}
	// Following the redirects, with the sandbox's form answered by hand.
	f := newBrowser(t, true)
	status, body, _ := f.get(c.url + "/documents?page=2")
	if status != http.StatusOK || !strings.Contains(body, `value="officer"`) {
		t.Fatalf("the sandbox's login form: %d %s", status, body)
	}
	// The form posts to itself: a button per user, hidden fields.
	form := url.Values{"user": {"officer"}}
	for _, m := range hiddenField.FindAllStringSubmatch(body, -1) {
		form.Set(m[1], htmlUnescape(m[2]))
	}
	status, body, _ = f.do(http.MethodPost, sb.IssuerURL()+sandbox.AuthPath, form, nil)
	if status != http.StatusOK || body != "the PDF" {
		t.Fatalf("after the login: %d %q, want the page asked for", status, body)
	}
}

func TestLoginRefused(t *testing.T) {
	sb := startSandbox(t)
	c := newConsole(t, sb, nil)

	t.Run("no role", func(t *testing.T) {
		b := newBrowser(t, true)
		if status, body := c.login(b, "norole"); status != http.StatusForbidden || !strings.Contains(body, "no role") {
			t.Errorf("%d %s", status, body)
		}
		if status, _, loc := newBrowserSharing(b).get(c.url + "/whoami"); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("after a refused login, /whoami: %d %q, want a redirect to the login", status, loc)
		}
	})
	t.Run("another role claim", func(t *testing.T) {
		other := newConsole(t, sb, func(s *auth.Settings) { s.RoleClaim = "groups" })
		if status, _ := other.login(newBrowser(t, true), "operator"); status != http.StatusForbidden {
			t.Errorf("%d, want 403", status)
		}
	})
	t.Run("role map", func(t *testing.T) {
		mapped := newConsole(t, sb, func(s *auth.Settings) {
			s.RoleMap = map[string]auth.Role{"operator": auth.RoleViewer} // the IdP's "operator" is our viewer
		})
		b := newBrowser(t, true)
		if _, body := mapped.login(b, "operator"); whoami(t, body)[1] != string(auth.RoleViewer) {
			t.Errorf("mapped operator: %s", body)
		}
		if status, _ := mapped.login(newBrowser(t, true), "officer"); status != http.StatusForbidden {
			t.Errorf("officer, unmapped: %d, want 403", status)
		}
	})

	// The flow step by step, to change what the browser carries.
	steps := func(t *testing.T) (b *browser, authURL *url.URL) {
		t.Helper()
		b = newBrowser(t, false)
		status, _, loc := b.get(c.url + "/login?login_hint=operator")
		if status != http.StatusFound {
			t.Fatalf("/login: %d", status)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
			t.Fatalf("authorization request without PKCE, nonce or state: %s", loc)
		}
		return b, u
	}
	// toCallback sends b to the sandbox at authURL and returns the callback
	// URL it redirects to.
	toCallback := func(t *testing.T, b *browser, authURL *url.URL) *url.URL {
		t.Helper()
		status, body, loc := b.get(authURL.String())
		if status != http.StatusFound {
			t.Fatalf("sandbox: %d %s", status, body)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	t.Run("tampered state", func(t *testing.T) {
		b, a := steps(t)
		cb := toCallback(t, b, a)
		q := cb.Query()
		q.Set("state", q.Get("state")+"x")
		cb.RawQuery = q.Encode()
		if status, _, _ := b.get(cb.String()); status != http.StatusBadRequest {
			t.Errorf("%d, want 400", status)
		}
	})
	t.Run("wrong nonce", func(t *testing.T) {
		b, a := steps(t)
		q := a.Query()
		q.Set("nonce", "an-attackers-nonce")
		a.RawQuery = q.Encode()
		if status, _, _ := b.get(toCallback(t, b, a).String()); status != http.StatusUnauthorized {
			t.Errorf("%d, want 401", status)
		}
	})
	t.Run("another browser's callback", func(t *testing.T) {
		b, a := steps(t)
		cb := toCallback(t, b, a)
		if status, _, _ := newBrowser(t, false).get(cb.String()); status != http.StatusBadRequest {
			t.Errorf("without the login cookie: %d, want 400", status)
		}
	})
	t.Run("callback twice", func(t *testing.T) {
		b, a := steps(t)
		cb := toCallback(t, b, a)
		if status, _, _ := b.get(cb.String()); status != http.StatusSeeOther {
			t.Fatalf("first: %d, want 303", status)
		}
		if status, _, _ := b.get(cb.String()); status != http.StatusBadRequest {
			t.Errorf("second: %d, want 400", status)
		}
	})
	t.Run("issuer error", func(t *testing.T) {
		b, a := steps(t)
		q := a.Query()
		q.Set("code_challenge_method", "plain") // the sandbox insists on S256
		a.RawQuery = q.Encode()
		cb := toCallback(t, b, a)
		if cb.Query().Get("error") != "invalid_request" {
			t.Fatalf("sandbox answered %s", cb)
		}
		if status, _, _ := b.get(cb.String()); status != http.StatusForbidden {
			t.Errorf("%d, want 403", status)
		}
	})
}

// newBrowserSharing is a non-following browser with b's cookies.
func newBrowserSharing(b *browser) *browser {
	c := *b.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{&c, b.t}
}

func TestSessionCookie(t *testing.T) {
	sb := startSandbox(t)
	c := newConsole(t, sb, func(s *auth.Settings) { s.SessionTTL = time.Hour })
	b := newBrowser(t, true)
	if status, body := c.login(b, "viewer"); status != http.StatusOK {
		t.Fatalf("login: %d %s", status, body)
	}
	u, _ := url.Parse(c.url)
	cookies := b.Jar.Cookies(u)
	if len(cookies) != 1 || cookies[0].Name != auth.SessionCookie {
		t.Fatalf("cookies after the login: %v, want the session's alone", cookies)
	}
	nb := newBrowserSharing(b)

	t.Run("tampered", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		v := []byte(cookies[0].Value)
		v[len(v)/2] ^= 1
		jar.SetCookies(u, []*http.Cookie{{Name: auth.SessionCookie, Value: string(v)}})
		tb := &browser{&http.Client{Jar: jar, CheckRedirect: nb.CheckRedirect}, t}
		if status, _, _ := tb.get(c.url + "/whoami"); status != http.StatusSeeOther {
			t.Errorf("%d, want 303 to the login", status)
		}
	})
	t.Run("another key", func(t *testing.T) {
		other := newConsole(t, sb, func(s *auth.Settings) { s.SessionKey = []byte(strings.Repeat("k", 32)) })
		ou, _ := url.Parse(other.url)
		jar, _ := cookiejar.New(nil)
		jar.SetCookies(ou, cookies)
		ob := &browser{&http.Client{Jar: jar, CheckRedirect: nb.CheckRedirect}, t}
		if status, _, _ := ob.get(other.url + "/whoami"); status != http.StatusSeeOther {
			t.Errorf("%d, want 303 to the login", status)
		}
	})
	t.Run("expired", func(t *testing.T) {
		if status, _, _ := nb.get(c.url + "/whoami"); status != http.StatusOK {
			t.Fatalf("before: %d", status)
		}
		c.clock.Add(time.Hour)
		if status, _, loc := nb.get(c.url + "/whoami"); status != http.StatusSeeOther || loc != "/login?next=%2Fwhoami" {
			t.Errorf("after an hour: %d %q, want 303 to the login", status, loc)
		}
	})
}

func TestCSRF(t *testing.T) {
	sb := startSandbox(t)
	c := newConsole(t, sb, nil)
	b := newBrowser(t, true)
	_, body := c.login(b, "operator")
	token := whoami(t, body)[3]
	other := newBrowser(t, true)
	_, body = c.login(other, "operator")
	otherToken := whoami(t, body)[3]
	if token == otherToken {
		t.Fatal("two sessions have the same CSRF token")
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		header http.Header
		want   int
	}{
		{"token", url.Values{"csrf": {token}}, nil, http.StatusOK},
		{"header", url.Values{}, http.Header{"X-Csrf-Token": {token}}, http.StatusOK},
		{"same origin", url.Values{"csrf": {token}}, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {c.url}}, http.StatusOK},
		{"no token", url.Values{}, nil, http.StatusForbidden},
		{"wrong token", url.Values{"csrf": {token + "x"}}, nil, http.StatusForbidden},
		{"another session's", url.Values{"csrf": {otherToken}}, nil, http.StatusForbidden},
		{"cross site", url.Values{"csrf": {token}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"other origin", url.Values{"csrf": {token}}, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body, _ := b.do(http.MethodPost, c.url+"/act", tc.form, tc.header); status != tc.want {
				t.Errorf("%d %s, want %d", status, body, tc.want)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	sb := startSandbox(t)
	c := newConsole(t, sb, nil)
	b := newBrowser(t, true)
	_, body := c.login(b, "officer")
	token := whoami(t, body)[3]
	if status, _, _ := b.do(http.MethodPost, c.url+auth.LogoutPath, url.Values{}, nil); status != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: %d, want 403", status)
	}
	if status, _, _ := b.do(http.MethodPost, c.url+auth.LogoutPath, url.Values{"csrf": {token}}, nil); status != http.StatusOK {
		t.Fatalf("logout: %d", status)
	}
	if status, _, loc := newBrowserSharing(b).get(c.url + "/whoami"); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("after the logout: %d %q, want 303 to the login", status, loc)
	}
}

func TestLocal(t *testing.T) {
	l := auth.NewLocal()
	mux := http.NewServeMux()
	l.Routes(mux)
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		u, _ := auth.UserOf(r.Context())
		fmt.Fprintf(w, "%s|%s|%s|%s", u.Subject, u.Role, u.Name, auth.CSRFToken(r))
	})
	mux.Handle("POST /act", auth.RequireCSRF(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "done") })))
	srv := httptest.NewServer(l.Middleware(mux))
	t.Cleanup(srv.Close)
	b := newBrowser(t, true)
	_, body, _ := b.get(srv.URL + "/whoami")
	f := whoami(t, body)
	if f[0] != "local" || f[1] != "operator" || f[2] != "local operator" || f[3] == "" {
		t.Errorf("/whoami = %q", body)
	}
	if status, _, _ := b.do(http.MethodPost, srv.URL+"/act", url.Values{"csrf": {f[3]}}, nil); status != http.StatusOK {
		t.Errorf("POST with the token: %d", status)
	}
	if status, _, _ := b.do(http.MethodPost, srv.URL+"/act", url.Values{}, nil); status != http.StatusForbidden {
		t.Errorf("POST without a token: %d, want 403", status)
	}
}

func TestNewOIDCRefusesBadSettings(t *testing.T) {
	sb := startSandbox(t)
	base := auth.DefaultSettings()
	base.IssuerURL, base.ClientID, base.ClientSecret = sb.IssuerURL(), "sandbox", "sandbox-secret"
	base.RedirectURL, base.SessionKey = "http://127.0.0.1:1/callback", testKey
	for name, edit := range map[string]func(*auth.Settings){
		"short key":        func(s *auth.Settings) { s.SessionKey = testKey[:16] },
		"http elsewhere":   func(s *auth.Settings) { s.RedirectURL = "http://console.example.com/callback" },
		"no secret":        func(s *auth.Settings) { s.ClientSecret = "" },
		"no issuer":        func(s *auth.Settings) { s.IssuerURL = "" },
		"issuer not there": func(s *auth.Settings) { s.IssuerURL = sb.URL() + "/auth/realms/nowhere" },
	} {
		t.Run(name, func(t *testing.T) {
			s := base
			edit(&s)
			if _, err := auth.NewOIDC(context.Background(), s, auth.Options{}); err == nil {
				t.Error("NewOIDC accepted it")
			}
		})
	}
	if _, err := auth.NewOIDC(context.Background(), base, auth.Options{}); err != nil {
		t.Errorf("good settings: %v", err)
	}
}

// hiddenField is a hidden field of the sandbox's login form.
var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

func htmlUnescape(s string) string { return html.UnescapeString(s) }
