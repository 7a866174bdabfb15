package auth

// The OIDC login: /login starts an authorization code flow with PKCE, its
// state, nonce and verifier sealed in a short-lived cookie; /callback
// checks the state, exchanges the code (golang.org/x/oauth2), verifies the
// ID token (github.com/coreos/go-oidc) and its nonce, reads the role, and
// sets the session cookie; /logout (POST, with CSRF) clears it. The
// session lives in the cookie alone (sealed, see seal.go): there is no
// server-side store, so any replica of the console serves any request,
// and a logout forgets the cookie in this browser only (a stolen cookie
// stays valid until it expires: CONSOLE_SESSION_TTL bounds that).

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kybflow/kybflow/internal/envconfig"
)

// The paths of Routes (the callback's is OIDC_REDIRECT_URL's).
const (
	LoginPath  = "/login"
	LogoutPath = "/logout"
)

// Options are what an OIDC gets besides its Settings.
type Options struct {
	// HTTPClient reaches the issuer (default: a client with a 30s timeout).
	HTTPClient *http.Client
	// Logger receives logins and refusals, with the subject and role, never
	// a name (default: discarded).
	Logger *slog.Logger
	// Now is the clock of the session's expiry and of ID token checks
	// (default time.Now).
	Now func() time.Time
	// OnLogin, when set, is told each user logged in before the session is
	// set (to record it in the audit); its error refuses the login.
	OnLogin func(ctx context.Context, u User) error
}

// OIDC authenticates the console's users with an OpenID Connect issuer.
type OIDC struct {
	cfg          Settings
	opts         Options
	keys         *keys
	cookies      cookieRules
	callbackPath string
	oauth        oauth2.Config
	verifier     *oidc.IDTokenVerifier
}

// NewOIDC checks s, reads the issuer's discovery document (so the issuer
// must answer at start) and returns the login.
func NewOIDC(ctx context.Context, s Settings, o Options) (*OIDC, error) {
	var ck envconfig.Checker
	if !s.Enabled() {
		return nil, errors.New("console login: OIDC_ISSUER_URL is not set")
	}
	s.Check(&ck)
	if err := ck.Err(); err != nil {
		return nil, fmt.Errorf("console login: %w", err)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	k, err := deriveKeys(s.SessionKey)
	if err != nil {
		return nil, fmt.Errorf("console login: %w", err)
	}
	redirect, err := url.Parse(s.RedirectURL)
	if err != nil {
		return nil, fmt.Errorf("console login: OIDC_REDIRECT_URL: %w", err)
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, o.HTTPClient), s.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("console login: discover the issuer %s: %w", s.IssuerURL, err)
	}
	callback := redirect.Path
	if callback == "" {
		callback = "/"
	}
	return &OIDC{
		cfg: s, opts: o, keys: k,
		cookies:      cookieRules{secure: !(redirect.Scheme == "http" && loopback(redirect.Hostname()))},
		callbackPath: callback,
		oauth: oauth2.Config{
			ClientID: s.ClientID, ClientSecret: s.ClientSecret, RedirectURL: s.RedirectURL,
			Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile"},
		},
		verifier: provider.VerifierContext(oidc.ClientContext(context.WithoutCancel(ctx), o.HTTPClient),
			&oidc.Config{ClientID: s.ClientID, Now: o.Now}),
	}, nil
}

// Routes adds /login, the callback (OIDC_REDIRECT_URL's path) and POST
// /logout to mux.
func (o *OIDC) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+LoginPath, o.handleLogin)
	mux.HandleFunc("GET "+o.callbackPath, o.handleCallback)
	mux.HandleFunc("POST "+LogoutPath, o.handleLogout)
}

// Middleware authenticates every request but /login and the callback by
// its session cookie, and puts the User in its context. Without a valid
// session, a page (a GET that a browser navigates to) is redirected to
// /login?next=<itself>; anything else (a POST, a fetch, an event stream)
// gets 401.
func (o *OIDC) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == LoginPath || r.URL.Path == o.callbackPath {
			next.ServeHTTP(w, r)
			return
		}
		s, err := o.session(r)
		if err != nil {
			if !errors.Is(err, http.ErrNoCookie) {
				o.opts.Logger.Info("console: session refused", "error", err)
			}
			if wantsPage(r) {
				http.Redirect(w, r, LoginPath+"?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(withSession(r.Context(), s)))
	})
}

// errExpired is session's error for an expired session cookie.
var errExpired = errors.New("the session has expired")

// session reads r's session cookie.
func (o *OIDC) session(r *http.Request) (*session, error) {
	c, err := r.Cookie(o.cookies.name(SessionCookie))
	if err != nil {
		return nil, fmt.Errorf("session cookie: %w", err)
	}
	var sc sessionCookie
	if err := o.keys.open(SessionCookie, c.Value, &sc); err != nil {
		return nil, err
	}
	switch {
	case sc.V != 1 || sc.ID == "" || sc.Subject == "" || !sc.Role.Valid():
		return nil, fmt.Errorf("%w %s: incomplete", ErrBadCookie, SessionCookie)
	case !o.opts.Now().Before(time.Unix(sc.Expires, 0)):
		return nil, errExpired
	}
	return &session{user: User{Subject: sc.Subject, Name: sc.Name, Role: sc.Role}, id: sc.ID, csrf: &o.keys.csrf}, nil
}

// wantsPage reports whether r is a browser navigating to a page, which a
// redirect to the login serves; a script's request would follow it
// blindly.
func wantsPage(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	accept := r.Header.Get("Accept")
	return !strings.Contains(accept, "text/event-stream") && !(strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html"))
}

// handleLogin starts a login: state, nonce and PKCE verifier sealed in the
// login cookie, and a redirect to the issuer. A login_hint (a user name at
// the issuer) is passed on: the sandbox logs that test user in at once.
func (o *OIDC) handleLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lc := loginCookie{
		State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(q.Get("next")), Expires: o.opts.Now().Add(LoginTimeout).Unix(),
	}
	v, err := o.keys.seal(LoginCookie, lc)
	if err != nil {
		o.fail(w, http.StatusInternalServerError, "Login failed", "The login could not be started.", err)
		return
	}
	http.SetCookie(w, o.cookies.cookie(LoginCookie, v, LoginTimeout))
	opts := []oauth2.AuthCodeOption{oidc.Nonce(lc.Nonce), oauth2.S256ChallengeOption(lc.Verifier)}
	if hint := q.Get("login_hint"); hint != "" && len(hint) <= 256 {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	w.Header().Set("Cache-Control", "no-store")
	//nolint:gosec // G710: to the issuer of the settings; the user only adds login_hint, a query parameter
	http.Redirect(w, r, o.oauth.AuthCodeURL(lc.State, opts...), http.StatusFound)
}

// handleCallback ends a login: the issuer sends the browser back here
// with the code and the state.
func (o *OIDC) handleCallback(w http.ResponseWriter, r *http.Request) {
	again := `<a href="` + LoginPath + `">Log in again</a>`
	q := r.URL.Query()
	var lc loginCookie
	c, err := r.Cookie(o.cookies.name(LoginCookie))
	if err == nil {
		err = o.keys.open(LoginCookie, c.Value, &lc)
	}
	if err == nil && !o.opts.Now().Before(time.Unix(lc.Expires, 0)) {
		err = errors.New("the login cookie has expired")
	}
	if err != nil {
		o.fail(w, http.StatusBadRequest, "Login expired", "This login was not started here, or took too long. "+again, err)
		return
	}
	http.SetCookie(w, o.cookies.clear(LoginCookie)) // one callback per login
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(lc.State)) != 1 {
		o.fail(w, http.StatusBadRequest, "Login refused", "The answer of the login does not belong to this login. "+again,
			errors.New("state mismatch"))
		return
	}
	if e := q.Get("error"); e != "" {
		o.fail(w, http.StatusForbidden, "Login refused", "The identity provider refused the login. "+again,
			fmt.Errorf("issuer error %q: %s", e, q.Get("error_description")))
		return
	}
	ctx := oidc.ClientContext(r.Context(), o.opts.HTTPClient)
	tok, err := o.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(lc.Verifier))
	if err != nil {
		o.fail(w, http.StatusBadGateway, "Login failed", "The code could not be exchanged at the identity provider. "+again,
			fmt.Errorf("exchange the code: %w", err))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		o.fail(w, http.StatusBadGateway, "Login failed", "The identity provider sent no ID token. "+again, errors.New("no id_token"))
		return
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		o.fail(w, http.StatusUnauthorized, "Login refused", "The ID token could not be verified. "+again, fmt.Errorf("verify the ID token: %w", err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(lc.Nonce)) != 1 {
		o.fail(w, http.StatusUnauthorized, "Login refused", "The ID token was not issued for this login. "+again, errors.New("nonce mismatch"))
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		o.fail(w, http.StatusBadGateway, "Login failed", "The ID token's claims could not be read. "+again, fmt.Errorf("claims: %w", err))
		return
	}
	u := User{Subject: idt.Subject, Name: nameOf(claims, idt.Subject), Role: RoleOf(claims, o.cfg.RoleClaim, o.cfg.RoleMap)}
	if !u.Role.Valid() {
		o.opts.Logger.Info("console: login refused, no role", "subject", u.Subject, "claim", o.cfg.RoleClaim)
		writePage(w, http.StatusForbidden, "No access",
			"You are logged in at the identity provider, but have no role in the console (viewer, officer or operator). Ask an administrator for one.", "")
		return
	}
	if o.opts.OnLogin != nil {
		if err := o.opts.OnLogin(r.Context(), u); err != nil {
			o.fail(w, http.StatusServiceUnavailable, "Login failed", "The login could not be recorded. "+again, fmt.Errorf("on login: %w", err))
			return
		}
	}
	sc := sessionCookie{V: 1, ID: randomToken(), Subject: u.Subject, Name: u.Name, Role: u.Role,
		Expires: o.opts.Now().Add(o.cfg.SessionTTL).Unix()}
	v, err := o.keys.seal(SessionCookie, sc)
	if err != nil {
		o.fail(w, http.StatusInternalServerError, "Login failed", "The session could not be made. "+again, err)
		return
	}
	http.SetCookie(w, o.cookies.cookie(SessionCookie, v, o.cfg.SessionTTL))
	o.opts.Logger.Info("console: login", "user", u)
	http.Redirect(w, r, lc.Next, http.StatusSeeOther)
}

// handleLogout forgets the session in this browser (POST, with CSRF).
func (o *OIDC) handleLogout(w http.ResponseWriter, r *http.Request) {
	s, err := o.session(r)
	if err == nil {
		r = r.WithContext(withSession(r.Context(), s))
		err = CheckCSRF(r)
	}
	if err != nil && !errors.Is(err, http.ErrNoCookie) && !errors.Is(err, errExpired) {
		o.fail(w, http.StatusForbidden, "Logout refused", "Reload the page and try again.", err)
		return
	}
	http.SetCookie(w, o.cookies.clear(SessionCookie))
	if s != nil {
		o.opts.Logger.Info("console: logout", "user", s.user)
	}
	writePage(w, http.StatusOK, "Logged out", "You are logged out of the console.", `<a href="`+LoginPath+`">Log in again</a>`)
}

// fail logs err and shows a page; err may quote the issuer, never a
// token or a cookie.
func (o *OIDC) fail(w http.ResponseWriter, status int, title, msgHTML string, err error) {
	o.opts.Logger.Info("console: "+strings.ToLower(title), "status", status, "error", err)
	writePageHTML(w, status, title, msgHTML)
}

// safeNext is where to go after the login: a path on this site, or "/".
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}
