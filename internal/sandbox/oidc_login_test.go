package sandbox_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
)

const (
	testVerifier = "a-code-verifier-of-at-least-43-characters-0123456789"
	testRedirect = "http://127.0.0.1:1/callback"
)

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// noFollow is a client that stops at redirects.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func authParams(login string) url.Values {
	q := url.Values{
		"response_type": {"code"}, "client_id": {sandbox.DefaultClientID}, "redirect_uri": {testRedirect},
		"scope": {"openid profile"}, "state": {"st"}, "nonce": {"n-1"},
		"code_challenge": {challenge(testVerifier)}, "code_challenge_method": {"S256"},
	}
	if login != "" {
		q.Set("login_hint", login)
	}
	return q
}

// authorize sends q to the authorization endpoint and returns the status,
// the body and the redirect's query.
func authorize(t *testing.T, srv *sandbox.Server, q url.Values) (int, string, url.Values) {
	t.Helper()
	resp, err := noFollow.Get(srv.IssuerURL() + sandbox.AuthPath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var back url.Values
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		back = u.Query()
	}
	return resp.StatusCode, string(body), back
}

// exchange posts the code to the token endpoint.
func exchange(t *testing.T, srv *sandbox.Server, code, verifier, redirect string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
	req, _ := http.NewRequest(http.MethodPost, srv.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func TestOIDCLogin(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, e.srv.IssuerURL())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var disc struct {
		Auth    string   `json:"authorization_endpoint"`
		Methods []string `json:"code_challenge_methods_supported"`
		Grants  []string `json:"grant_types_supported"`
	}
	if err := provider.Claims(&disc); err != nil || disc.Auth != e.srv.IssuerURL()+sandbox.AuthPath ||
		!slices.Equal(disc.Methods, []string{"S256"}) || !slices.Contains(disc.Grants, "authorization_code") {
		t.Errorf("discovery: %+v %v", disc, err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: sandbox.DefaultClientID})

	for _, u := range sandbox.TestUsers {
		t.Run(u.Login, func(t *testing.T) {
			status, _, back := authorize(t, e.srv, authParams(u.Login))
			if status != http.StatusFound || back.Get("state") != "st" || back.Get("code") == "" {
				t.Fatalf("login_hint: %d %v", status, back)
			}
			status, tok := exchange(t, e.srv, back.Get("code"), testVerifier, testRedirect)
			if status != http.StatusOK {
				t.Fatalf("exchange: %d %v", status, tok)
			}
			idt, err := verifier.Verify(ctx, tok["id_token"].(string))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			var claims struct {
				Name  string   `json:"name"`
				Roles []string `json:"kybflow_roles"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if idt.Subject != u.Sub || idt.Nonce != "n-1" || claims.Name != u.Name || !slices.Equal(claims.Roles, u.Roles) {
				t.Errorf("ID token: sub %s nonce %s %+v, want %+v", idt.Subject, idt.Nonce, claims, u)
			}
			// The access token is no AML API token.
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL()+amlapi.AccessRightsPath, nil)
			req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("the AML API with a login's access token: %d, want 403", resp.StatusCode)
			}
		})
	}
}

func TestOIDCLoginForm(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	status, body, _ := authorize(t, e.srv, authParams(""))
	if status != http.StatusOK || strings.Contains(body, "<script") {
		t.Fatalf("form: %d %s", status, body)
	}
	for _, u := range sandbox.TestUsers {
		if !strings.Contains(body, `name="user" value="`+u.Login+`"`) || !strings.Contains(body, u.Label) {
			t.Errorf("the form has no labelled button for %s", u.Login)
		}
	}
	if _, body, _ := authorize(t, e.srv, authParams("nobody")); !strings.Contains(body, "No test user nobody") {
		t.Errorf("an unknown login_hint: %s", body)
	}
	// The form's answer.
	form := authParams("")
	form.Set("user", "officer")
	resp, err := noFollow.PostForm(e.srv.IssuerURL()+sandbox.AuthPath, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, testRedirect+"?code=") {
		t.Errorf("POST: %d %s", resp.StatusCode, loc)
	}
}

func TestOIDCLoginRefuses(t *testing.T) {
	e := newEnv(t, sandbox.Config{OIDCRedirectURIs: []string{testRedirect}})
	with := func(k, v string) url.Values { q := authParams("viewer"); q.Set(k, v); return q }
	for name, q := range map[string]url.Values{
		"unknown client":        with("client_id", "other"),
		"unregistered redirect": with("redirect_uri", "https://evil.example/cb"),
	} {
		if status, _, back := authorize(t, e.srv, q); status != http.StatusBadRequest || back != nil {
			t.Errorf("%s: %d %v, want 400 and no redirect", name, status, back)
		}
	}
	for name, tc := range map[string]struct {
		q    url.Values
		want string
	}{
		"plain PKCE":    {with("code_challenge_method", "plain"), "invalid_request"},
		"no challenge":  {with("code_challenge", ""), "invalid_request"},
		"no openid":     {with("scope", "profile"), "invalid_scope"},
		"implicit flow": {with("response_type", "id_token"), "unsupported_response_type"},
	} {
		if _, _, back := authorize(t, e.srv, tc.q); back.Get("error") != tc.want || back.Get("state") != "st" {
			t.Errorf("%s: %v, want error %s with the state", name, back, tc.want)
		}
	}
	code := func() string {
		_, _, back := authorize(t, e.srv, authParams("operator"))
		return back.Get("code")
	}
	if status, out := exchange(t, e.srv, code(), testVerifier+"x", testRedirect); status != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %d %v", status, out)
	}
	if status, out := exchange(t, e.srv, code(), testVerifier, testRedirect+"2"); status != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("another redirect_uri: %d %v", status, out)
	}
	c := code()
	if status, _ := exchange(t, e.srv, c, testVerifier, testRedirect); status != http.StatusOK {
		t.Fatalf("first exchange: %d", status)
	}
	if status, out := exchange(t, e.srv, c, testVerifier, testRedirect); status != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("a code twice: %d %v", status, out)
	}
}
