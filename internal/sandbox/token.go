package sandbox

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// token is an issued access token: an opaque random string remembered with
// its client, scopes and expiry.
type token struct {
	clientID string
	scopes   []string
	expires  time.Time
}

func (t token) has(scope string) bool { return slices.Contains(t.scopes, scope) }

// discovery is the OpenID configuration document: the part amlapi reads,
// and a few standard fields more.
type discovery struct {
	amlapi.Discovery
	GrantTypes  []string `json:"grant_types_supported"`
	AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	Scopes      []string `json:"scopes_supported"`
	JWKSURI     string   `json:"jwks_uri"` // the keys of bearer-jwt webhooks and of ID tokens
	// The login of people (oidc_login.go): authorization code with PKCE.
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	ResponseTypes         []string `json:"response_types_supported"`
	SubjectTypes          []string `json:"subject_types_supported"`
	IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	Claims                []string `json:"claims_supported"`
}

func (s *Sandbox) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	issuer := s.baseURL(r) + IssuerPath
	s.writeJSON(w, http.StatusOK, discovery{
		Discovery:   amlapi.Discovery{Issuer: issuer, TokenEndpoint: issuer + amlapi.TokenPath},
		GrantTypes:  []string{"client_credentials", grantAuthorizationCode},
		AuthMethods: []string{"client_secret_basic", "client_secret_post"},
		Scopes:      append([]string{"openid", "profile"}, s.cfg.AllowedScopes...),
		JWKSURI:     issuer + JWKSPath,

		AuthorizationEndpoint: issuer + AuthPath,
		ResponseTypes:         []string{"code"},
		SubjectTypes:          []string{"public"},
		IDTokenAlgs:           []string{"ES256"},
		CodeChallengeMethods:  []string{"S256"},
		Claims:                []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "name", "preferred_username", s.cfg.OIDCRoleClaim},
	})
}

// oauthError is the standard OAuth2 error answer (RFC 6749, 5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// grantAuthorizationCode is the grant of the OIDC login (oidc_login.go).
const grantAuthorizationCode = "authorization_code"

// handleToken is the token endpoint: client credentials, and the
// authorization codes of the OIDC login.
func (s *Sandbox) handleToken(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		w.Header().Set("Cache-Control", "no-store")
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="sandbox"`)
		}
		s.writeJSON(w, status, oauthError{code, desc})
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "the body is not a form: "+err.Error())
		return
	}
	form := r.PostForm

	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749, 2.3.1: the Basic credentials are form-encoded first.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			fail(http.StatusUnauthorized, "invalid_client", "malformed Basic credentials")
			return
		}
		if form.Has("client_secret") {
			fail(http.StatusBadRequest, "invalid_request", "use one client authentication method, not Basic and client_secret both")
			return
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	gt := form.Get("grant_type")
	switch gt {
	case "client_credentials", grantAuthorizationCode:
	case "":
		fail(http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		fail(http.StatusBadRequest, "unsupported_grant_type", "only client_credentials and authorization_code are supported, not "+gt)
		return
	}
	if id == "" {
		fail(http.StatusUnauthorized, "invalid_client", "no client authentication (HTTP Basic or client_id and client_secret)")
		return
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) == 1
	if !idOK || !secretOK {
		fail(http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	if gt == grantAuthorizationCode {
		s.exchangeCode(w, r, form, id)
		return
	}
	scopes := strings.Fields(form.Get("scope"))
	if len(scopes) == 0 {
		scopes = []string{amlapi.ScopeBasic}
	}
	scopes = dedup(scopes)
	for _, sc := range scopes {
		if !slices.Contains(s.cfg.AllowedScopes, sc) {
			fail(http.StatusBadRequest, "invalid_scope", "scope "+sc+" is not allowed for this client")
			return
		}
	}

	tok := randomHex(32)
	now := time.Now()
	s.tokMu.Lock()
	if len(s.tokens) >= s.tokenSweep {
		for k, t := range s.tokens {
			if !now.Before(t.expires) {
				delete(s.tokens, k)
			}
		}
		s.tokenSweep = 2*len(s.tokens) + 1024
	}
	s.tokens[tok] = token{clientID: id, scopes: scopes, expires: now.Add(s.cfg.TokenLifetime)}
	s.tokMu.Unlock()

	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	s.writeJSON(w, http.StatusOK, tokenAnswer{
		AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int64(s.cfg.TokenLifetime / time.Second), Scope: strings.Join(scopes, " "),
	})
}

// authenticate checks the bearer token of r; when it is missing, unknown or
// expired it answers 401 and returns false.
func (s *Sandbox) authenticate(w http.ResponseWriter, r *http.Request) (token, bool) {
	unauthorized := func(msg string) (token, bool) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sandbox", error="invalid_token"`)
		s.writeError(w, http.StatusUnauthorized, amlapi.CodeUnauthorized, msg)
		return token{}, false
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return unauthorized("a bearer token is required")
	}
	s.tokMu.Lock()
	t, found := s.tokens[strings.TrimSpace(tok)]
	s.tokMu.Unlock()
	switch {
	case !found:
		return unauthorized("unknown access token")
	case !time.Now().Before(t.expires):
		return unauthorized("the access token has expired")
	}
	return t, true
}

func dedup(xs []string) []string {
	out := xs[:0:0]
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
