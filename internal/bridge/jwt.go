package bridge

// Bearer JWTs checked against a JWKS (WEBHOOK_JWKS_URL): the signature with
// a public key of the set (asymmetric algorithms only), exp and nbf with a
// small leeway, iss and aud. The set is cached, fetched again when it is
// old, and on an unknown kid at most once per JWTConfig.MinRefresh.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// JWTAlgorithms are the signature algorithms a webhook JWT may use: the
// asymmetric ones only. "none" and the HMAC ones (HS256...) are never
// accepted: a JWKS holds public keys, and a public key must not serve as an
// HMAC secret.
var JWTAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// Defaults of JWT verification.
const (
	// DefaultJWTLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultJWTLeeway = 30 * time.Second
	// DefaultJWKSMinRefresh is the least time between two fetches of the
	// JWKS made for an unknown kid: a flood of made-up kids costs at most
	// one fetch per this.
	DefaultJWKSMinRefresh = time.Minute
	// DefaultJWKSMaxAge is how long a fetched JWKS is used before it is
	// fetched again (the old one stays in use while that fails).
	DefaultJWKSMaxAge = time.Hour
	// MaxJWKSSize bounds a JWKS document.
	MaxJWKSSize = 1 << 20
)

// JWTConfig configures a JWTVerifier.
type JWTConfig struct {
	// JWKSURL is where the signing keys are (required).
	JWKSURL string
	// Issuer and Audience must be the token's iss and one of its aud
	// (both required).
	Issuer, Audience string
	// Leeway on exp, nbf and iat (default DefaultJWTLeeway).
	Leeway time.Duration
	// MinRefresh and MaxAge: see DefaultJWKSMinRefresh, DefaultJWKSMaxAge.
	MinRefresh, MaxAge time.Duration
	// Client fetches the JWKS (default: 10 s timeout).
	Client *http.Client
	Now    func() time.Time
	Logger *slog.Logger
}

// JWTVerifier checks bearer JWTs.
type JWTVerifier struct {
	cfg JWTConfig

	refresh sync.Mutex // one fetch at a time; held across it
	mu      sync.RWMutex
	keys    []jose.JSONWebKey // guarded by mu
	fetched time.Time         // when keys were fetched; guarded by mu
	tried   time.Time         // the last fetch, done or failed; guarded by refresh
}

// NewJWTVerifier checks cfg and returns its verifier. The JWKS is fetched
// at the first webhook, not here: the bridge starts while the issuer is
// unreachable, and such webhooks get 401 (lookups end by polling).
func NewJWTVerifier(cfg JWTConfig) (*JWTVerifier, error) {
	if cfg.JWKSURL == "" || cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("jwt: a JWKS URL, an issuer and an audience are required")
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultJWTLeeway
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = DefaultJWKSMinRefresh
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultJWKSMaxAge
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &JWTVerifier{cfg: cfg}, nil
}

// Verify implements Verifier.
func (v *JWTVerifier) Verify(r *http.Request, _ string, _ []byte) (string, error) {
	raw, err := amlapi.BearerToken(r.Header)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if err := v.check(r.Context(), raw); err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return AuthBearerJWT, nil
}

// check verifies the JWT raw: signature, then claims.
func (v *JWTVerifier) check(ctx context.Context, raw string) error {
	tok, err := jwt.ParseSigned(raw, JWTAlgorithms)
	if err != nil {
		return fmt.Errorf("jwt: %w", err) // also "none" and HS*: not in JWTAlgorithms
	}
	if len(tok.Headers) != 1 {
		return fmt.Errorf("jwt: %d signatures, want 1", len(tok.Headers))
	}
	hdr := tok.Headers[0]
	keys := v.keysFor(ctx, hdr.KeyID, hdr.Algorithm)
	if len(keys) == 0 {
		return fmt.Errorf("jwt: no %s key with kid %q in the JWKS", hdr.Algorithm, clip(hdr.KeyID))
	}
	var claims jwt.Claims
	verified := false
	for _, k := range keys {
		if tok.Claims(k.Key, &claims) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return fmt.Errorf("jwt: signature does not verify with key %q", clip(hdr.KeyID))
	}
	if claims.Expiry == nil {
		return errors.New("jwt: no exp claim")
	}
	err = claims.ValidateWithLeeway(jwt.Expected{
		Issuer: v.cfg.Issuer, AnyAudience: jwt.Audience{v.cfg.Audience}, Time: v.cfg.Now(),
	}, v.cfg.Leeway)
	if err != nil {
		return fmt.Errorf("jwt: %w", err)
	}
	return nil
}

// keysFor returns the cached keys that may have signed a token with kid
// and alg (every key of alg when kid is empty), fetching the JWKS first
// when it is old or (rate-limited) when no key fits.
func (v *JWTVerifier) keysFor(ctx context.Context, kid, alg string) []jose.JSONWebKey {
	v.mu.RLock()
	keys, fetched := match(v.keys, kid, alg), v.fetched
	v.mu.RUnlock()
	old := v.cfg.Now().Sub(fetched) >= v.cfg.MaxAge
	if len(keys) > 0 && !old {
		return keys
	}
	v.refresh.Lock()
	defer v.refresh.Unlock()
	v.mu.RLock()
	if v.fetched.After(fetched) { // fetched by another request meanwhile
		keys = match(v.keys, kid, alg)
		v.mu.RUnlock()
		return keys
	}
	v.mu.RUnlock()
	if now := v.cfg.Now(); !v.tried.IsZero() && now.Sub(v.tried) < v.cfg.MinRefresh {
		return keys
	}
	v.tried = v.cfg.Now()
	// A webhook's own context bounds the fetch no more than the client's
	// timeout does: a sender that hangs up must not leave the set stale
	// for MinRefresh.
	fresh, err := v.fetch(context.WithoutCancel(ctx))
	if err != nil {
		v.cfg.Logger.Warn("webhook JWKS not fetched; the keys fetched before stay in use", "url", v.cfg.JWKSURL, "err", err)
		return keys
	}
	v.mu.Lock()
	v.keys, v.fetched = fresh, v.cfg.Now()
	v.mu.Unlock()
	v.cfg.Logger.Info("webhook JWKS fetched", "url", v.cfg.JWKSURL, "keys", len(fresh))
	return match(fresh, kid, alg)
}

func match(keys []jose.JSONWebKey, kid, alg string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range keys {
		if (kid == "" || k.KeyID == kid) && (k.Algorithm == "" || k.Algorithm == alg) {
			out = append(out, k)
		}
	}
	return out
}

func (v *JWTVerifier) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The URL is the operator's (WEBHOOK_JWKS_URL), never a sender's.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil) //nolint:gosec // G704: a configured URL
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := v.cfg.Client.Do(req) //nolint:gosec // G704: a configured URL
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	if len(body) > MaxJWKSSize {
		return nil, fmt.Errorf("fetch JWKS: over %d bytes", MaxJWKSSize)
	}
	return ParseJWKS(body)
}

// ErrJWKS: a JWKS document is not {"keys": [...]} with at least one public
// signing key of a kind JWTAlgorithms can use.
var ErrJWKS = errors.New("not a JWKS with a public signing key")

// ParseJWKS reads a JWKS document, keeping the public keys usable for
// signatures (RSA, EC and Ed25519 keys not marked "use": "enc"; a private
// key is kept as its public half). Keys it cannot read, symmetric keys
// among them, are left out rather than failing the set: one key of a new
// kind must not stop the others. No usable key at all is ErrJWKS.
func ParseJWKS(doc []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKS, err)
	}
	var out []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || !k.Valid() || k.Use == "enc" {
			continue
		}
		if !k.IsPublic() {
			k = k.Public()
		}
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, ErrJWKS
	}
	return out, nil
}

// clip bounds what a sender controls before it reaches an error (and so a
// log line).
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + fmt.Sprintf("…(%d bytes)", len(s))
}
