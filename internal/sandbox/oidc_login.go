package sandbox

// The sandbox's OIDC login, for the console's development mode and tests:
// the authorization code flow with PKCE (S256 only), as Keycloak serves it
// under the issuer. GET AuthPath shows a login form listing the test users
// (no JavaScript); choosing one, or naming one with login_hint, redirects
// back with a code bound to the client, the redirect URI, the code
// challenge and the nonce; the token endpoint exchanges it once for an ID
// token (ES256, signed with the key of the JWKS) carrying the user's roles
// in the claim Config.OIDCRoleClaim, and an access token that the AML API
// refuses (it has no AML scope). There is no session at the sandbox: every
// login asks again, and there is no logout.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// AuthPath is the authorization endpoint under IssuerPath (Keycloak's path).
const AuthPath = "/protocol/openid-connect/auth"

// DefaultOIDCRoleClaim is the default of Config.OIDCRoleClaim.
const DefaultOIDCRoleClaim = "kybflow_roles"

// CodeLifetime is how long an authorization code may be exchanged.
const CodeLifetime = time.Minute

// TestUser is a user of the sandbox's login form.
type TestUser struct {
	Login string   // what login_hint names, e.g. "officer"
	Sub   string   // the ID token's sub
	Name  string   // its name
	Roles []string // its role claim
	Label string   // what the form says of it
}

// TestUsers are the users of the login form: one per console role, one with
// two roles (the highest wins) and one with none (the console refuses it).
var TestUsers = []TestUser{
	{"viewer", "sandbox-viewer", "Vera Viewer", []string{"viewer"}, "viewer: sees lookups and events, no documents"},
	{"officer", "sandbox-officer", "Otto Officer", []string{"officer"}, "officer: also opens the documents"},
	{"operator", "sandbox-operator", "Oda Operator", []string{"operator"}, "operator: also replays, erases and manages monitors"},
	{"lead", "sandbox-lead", "Liv Lead", []string{"viewer", "operator"}, "viewer and operator roles both (the highest wins)"},
	{"norole", "sandbox-norole", "Nils Norole", nil, "no role (the console refuses it)"},
}

func testUser(login string) (TestUser, bool) {
	i := slices.IndexFunc(TestUsers, func(u TestUser) bool { return u.Login == login })
	if i < 0 {
		return TestUser{}, false
	}
	return TestUsers[i], true
}

// authCode is an issued authorization code, exchanged once.
type authCode struct {
	clientID, redirectURI, challenge, nonce, scope string
	user                                           TestUser
	expires                                        time.Time
}

// oidcLogins are the codes not yet exchanged.
type oidcLogins struct {
	mu    sync.Mutex
	codes map[string]authCode
}

func (l *oidcLogins) issue(c authCode, now time.Time) string {
	code := randomHex(32)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.codes == nil {
		l.codes = make(map[string]authCode)
	}
	for k, old := range l.codes {
		if now.After(old.expires) {
			delete(l.codes, k)
		}
	}
	l.codes[code] = c
	return code
}

// take removes and returns the code: a second exchange finds nothing.
func (l *oidcLogins) take(code string) (authCode, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.codes[code]
	delete(l.codes, code)
	return c, ok
}

// authRequest is a checked authorization request.
type authRequest struct {
	ClientID, RedirectURI, State, Nonce, Challenge, Scope string
}

// hidden are the request's parameters, as the form's hidden fields carry them.
func (a authRequest) hidden() [][2]string {
	return [][2]string{
		{"response_type", "code"}, {"client_id", a.ClientID}, {"redirect_uri", a.RedirectURI}, {"scope", a.Scope},
		{"state", a.State}, {"nonce", a.Nonce}, {"code_challenge", a.Challenge}, {"code_challenge_method", "S256"},
	}
}

// redirectURIAllowed: one of Config.OIDCRedirectURIs, or with none
// configured any absolute http(s) URL without fragment.
func (c *Config) redirectURIAllowed(uri string) bool {
	if len(c.OIDCRedirectURIs) > 0 {
		return slices.Contains(c.OIDCRedirectURIs, uri)
	}
	u, err := url.Parse(uri)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Fragment == ""
}

// handleAuthorize is the authorization endpoint: GET shows the form (or,
// with a known login_hint, logs that user in at once); POST is the form's
// answer, a button per user.
func (s *Sandbox) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.loginPage(w, http.StatusBadRequest, "The request is not a form: "+err.Error(), authRequest{})
		return
	}
	p := r.Form
	// Until the client and its redirect URI are known good, errors are
	// shown here; after, they go back to the client (RFC 6749, 4.1.2.1).
	if p.Get("client_id") != s.cfg.ClientID {
		s.loginPage(w, http.StatusBadRequest, "Unknown client_id.", authRequest{})
		return
	}
	if !s.cfg.redirectURIAllowed(p.Get("redirect_uri")) {
		s.loginPage(w, http.StatusBadRequest, "redirect_uri is missing or not registered for this client.", authRequest{})
		return
	}
	a := authRequest{ClientID: p.Get("client_id"), RedirectURI: p.Get("redirect_uri"), State: p.Get("state"),
		Nonce: p.Get("nonce"), Challenge: p.Get("code_challenge"), Scope: p.Get("scope")}
	back := func(q url.Values) {
		if a.State != "" {
			q.Set("state", a.State)
		}
		sep := "?"
		if strings.Contains(a.RedirectURI, "?") {
			sep = "&"
		}
		http.Redirect(w, r, a.RedirectURI+sep+q.Encode(), http.StatusFound)
	}
	fail := func(code, desc string) { back(url.Values{"error": {code}, "error_description": {desc}}) }
	switch {
	case p.Get("response_type") != "code":
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	case !slices.Contains(strings.Fields(a.Scope), "openid"):
		fail("invalid_scope", "the scope must include openid")
		return
	case a.Challenge == "" || p.Get("code_challenge_method") != "S256":
		fail("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256")
		return
	case len(a.Challenge) != 43:
		fail("invalid_request", "code_challenge must be the 43 characters of base64url(SHA-256(code_verifier))")
		return
	}
	login := p.Get("login_hint")
	if r.Method == http.MethodPost {
		login = p.Get("user")
	}
	u, ok := testUser(login)
	if !ok {
		msg := ""
		if login != "" {
			msg = "No test user " + login + "."
		}
		s.loginPage(w, http.StatusOK, msg, a)
		return
	}
	code := s.logins.issue(authCode{clientID: a.ClientID, redirectURI: a.RedirectURI, challenge: a.Challenge,
		nonce: a.Nonce, scope: a.Scope, user: u, expires: time.Now().Add(CodeLifetime)}, time.Now())
	back(url.Values{"code": {code}})
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox login</title></head>
<body><main>
<h1>Sandbox login</h1>
{{with .Message}}<p role="alert">{{.}}</p>{{end}}
{{if .Request.ClientID}}<form method="post">
{{range .Request.Hidden}}<input type="hidden" name="{{index . 0}}" value="{{index . 1}}">
{{end}}<fieldset><legend>Log in as a test user</legend>
{{range .Users}}<p><button type="submit" name="user" value="{{.Login}}" aria-label="Log in as {{.Name}}, {{.Label}}">{{.Name}}</button> {{.Label}}</p>
{{end}}</fieldset></form>{{end}}
</main></body></html>
`))

func (s *Sandbox) loginPage(w http.ResponseWriter, status int, msg string, a authRequest) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	type page struct {
		Message string
		Request struct {
			ClientID string
			Hidden   [][2]string
		}
		Users []TestUser
	}
	p := page{Message: msg, Users: TestUsers}
	p.Request.ClientID, p.Request.Hidden = a.ClientID, a.hidden()
	if err := loginTemplate.Execute(w, p); err != nil {
		s.log.Warn("sandbox: login page", "error", err)
	}
}

// idTokenAnswer is the token endpoint's answer to an authorization code.
type idTokenAnswer struct {
	tokenAnswer
	IDToken string `json:"id_token"`
}

// exchangeCode answers the authorization_code grant of the authenticated
// client clientID (RFC 6749, 4.1.3; RFC 7636, 4.6).
func (s *Sandbox) exchangeCode(w http.ResponseWriter, r *http.Request, form url.Values, clientID string) {
	fail := func(code, desc string) {
		w.Header().Set("Cache-Control", "no-store")
		s.writeJSON(w, http.StatusBadRequest, oauthError{code, desc})
	}
	c, ok := s.logins.take(form.Get("code"))
	now := time.Now()
	switch {
	case !ok:
		fail("invalid_grant", "unknown or already used code")
		return
	case now.After(c.expires):
		fail("invalid_grant", "the code has expired")
		return
	case c.clientID != clientID:
		fail("invalid_grant", "the code was issued to another client")
		return
	case form.Get("redirect_uri") != c.redirectURI:
		fail("invalid_grant", "redirect_uri differs from the authorization request's")
		return
	}
	v := form.Get("code_verifier")
	sum := sha256.Sum256([]byte(v))
	if len(v) < 43 || len(v) > 128 ||
		subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.challenge)) != 1 {
		fail("invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	if err := s.signer.init(); err != nil {
		s.writeError(w, http.StatusInternalServerError, amlapi.CodeInternal, "no signing key: "+err.Error())
		return
	}
	roles := c.user.Roles
	if roles == nil {
		roles = []string{}
	}
	extra := map[string]any{"name": c.user.Name, "preferred_username": c.user.Login, "auth_time": now.Unix(), "azp": clientID}
	if c.nonce != "" {
		extra["nonce"] = c.nonce
	}
	if len(c.user.Roles) > 0 { // the user with no role has no claim at all
		extra[s.cfg.OIDCRoleClaim] = roles
	}
	idt, err := jwt.Signed(s.signer.signer).Claims(jwt.Claims{
		Issuer: s.baseURL(r) + IssuerPath, Subject: c.user.Sub, Audience: jwt.Audience{clientID},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(s.cfg.TokenLifetime)),
	}).Claims(extra).Serialize()
	if err != nil {
		s.writeError(w, http.StatusInternalServerError, amlapi.CodeInternal, "sign ID token: "+err.Error())
		return
	}
	tok := randomHex(32)
	scopes := strings.Fields(c.scope)
	s.tokMu.Lock()
	s.tokens[tok] = token{clientID: clientID, scopes: scopes, expires: now.Add(s.cfg.TokenLifetime)}
	s.tokMu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	s.writeJSON(w, http.StatusOK, idTokenAnswer{
		tokenAnswer: tokenAnswer{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(s.cfg.TokenLifetime / time.Second), Scope: c.scope},
		IDToken:     idt,
	})
}
