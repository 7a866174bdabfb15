package sandbox

// How the sandbox authenticates the webhooks it sends (Config.WebhookAuth),
// so that the bridge can be tested against each of its modes: a Standard
// Webhooks signature, a static bearer token, a bearer JWT signed with the
// sandbox's key (its public half served as a JWKS beside the token
// endpoint, as Keycloak, BankID's OIDC server, serves it), or nothing.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// WebhookAuth is how the sandbox authenticates its webhooks.
type WebhookAuth string

// The ways to authenticate webhooks.
const (
	WebhookStandard    WebhookAuth = "standard-webhooks" // webhook-signature with WebhookSecret
	WebhookBearerToken WebhookAuth = "bearer-token"      // Authorization: Bearer WebhookBearerToken
	WebhookBearerJWT   WebhookAuth = "bearer-jwt"        // Authorization: Bearer <JWT, ES256>
	WebhookNone        WebhookAuth = "none"              // webhook-id and webhook-timestamp only
)

var webhookAuths = []WebhookAuth{WebhookStandard, WebhookBearerToken, WebhookBearerJWT, WebhookNone}

// JWKSPath is the JWKS endpoint under IssuerPath (Keycloak's path).
const JWKSPath = "/protocol/openid-connect/certs"

// WebhookJWTLifetime is how long a webhook's JWT is valid: each delivery
// attempt signs a new one.
const WebhookJWTLifetime = 5 * time.Minute

func parseWebhookAuth(v string) (WebhookAuth, error) {
	if a := WebhookAuth(v); a == "" || slices.Contains(webhookAuths, a) {
		return a, nil
	}
	return "", fmt.Errorf("%q is not one of %q", v, webhookAuths)
}

// webhookAuth is the effective way: WebhookAuth, or by default
// standard-webhooks with a secret and none without.
func (c *Config) webhookAuth() WebhookAuth {
	switch {
	case c.WebhookAuth != "":
		return c.WebhookAuth
	case c.WebhookSecret != "":
		return WebhookStandard
	}
	return WebhookNone
}

// checkWebhookAuth checks that the chosen way has what it needs; errors
// name the field and never quote a secret.
func (c *Config) checkWebhookAuth() error {
	if _, err := parseWebhookAuth(string(c.WebhookAuth)); err != nil {
		return fmt.Errorf("WebhookAuth: %w", err)
	}
	switch c.webhookAuth() {
	case WebhookStandard:
		if c.WebhookSecret == "" {
			return errors.New("WebhookAuth standard-webhooks needs a WebhookSecret")
		}
	case WebhookBearerToken:
		toks := amlapi.SplitSecrets(c.WebhookBearerToken)
		if len(toks) == 0 {
			return errors.New("WebhookAuth bearer-token needs a WebhookBearerToken")
		}
		if err := amlapi.CheckBearerToken(toks[0]); err != nil {
			return fmt.Errorf("WebhookBearerToken: %w", err)
		}
	case WebhookBearerJWT:
		if c.BaseURL == "" {
			return errors.New("WebhookAuth bearer-jwt needs a BaseURL, for the JWTs' issuer (Start sets it)")
		}
	}
	return nil
}

// webhookSigner is the key of bearer-jwt webhooks: ECDSA P-256, made at
// first use, one per sandbox.
type webhookSigner struct {
	once   sync.Once
	key    *ecdsa.PrivateKey
	kid    string
	signer jose.Signer
	err    error
}

func (w *webhookSigner) init() error {
	w.once.Do(func() {
		w.key, w.err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if w.err != nil {
			return
		}
		w.kid = "sandbox-" + randomHex(8)
		w.signer, w.err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: w.key, KeyID: w.kid}},
			(&jose.SignerOptions{}).WithType("JWT"))
	})
	return w.err
}

// handleJWKS serves the public key of bearer-jwt webhooks.
func (s *Sandbox) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	if err := s.signer.init(); err != nil {
		s.writeError(w, http.StatusInternalServerError, amlapi.CodeInternal, "no signing key: "+err.Error())
		return
	}
	w.Header().Set("Cache-Control", "max-age=300")
	s.writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &s.signer.key.PublicKey, KeyID: s.signer.kid, Algorithm: string(jose.ES256), Use: "sig",
	}}})
}

// webhookJWT signs the JWT of one delivery attempt of d.
func (s *Sandbox) webhookJWT(d *delivery, now time.Time) (string, error) {
	if err := s.signer.init(); err != nil {
		return "", err
	}
	aud := s.cfg.WebhookJWTAudience
	if aud == "" {
		aud = s.cfg.ClientID
	}
	return jwt.Signed(s.signer.signer).Claims(jwt.Claims{
		Issuer: s.cfg.BaseURL + IssuerPath, Subject: s.cfg.ClientID, Audience: jwt.Audience{aud}, ID: d.msgID,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(WebhookJWTLifetime)),
	}).Serialize()
}

// authenticateWebhook sets the headers of one delivery attempt of d.
func (s *Sandbox) authenticateWebhook(h http.Header, d *delivery, now time.Time) error {
	switch s.cfg.webhookAuth() {
	case WebhookStandard:
		amlapi.SetWebhookHeaders(h, s.cfg.WebhookSecret, d.msgID, now, d.body)
		return nil
	case WebhookBearerToken:
		amlapi.SetWebhookBearer(h, amlapi.SplitSecrets(s.cfg.WebhookBearerToken)[0])
	case WebhookBearerJWT:
		tok, err := s.webhookJWT(d, now)
		if err != nil {
			return fmt.Errorf("sign webhook JWT: %w", err)
		}
		amlapi.SetWebhookBearer(h, tok)
	}
	h.Set(amlapi.HeaderWebhookID, d.msgID)
	h.Set(amlapi.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	return nil
}
