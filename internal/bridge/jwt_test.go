package bridge

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kybflow/kybflow/internal/amlapi"
)

const (
	testIssuer   = "https://idp.example/realms/test"
	testAudience = "kybflow"
)

// idp is an identity provider's JWKS endpoint: the keys it serves can
// change, and it counts its fetches.
type idp struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches int
}

func newIDP(t testing.TB, keys ...jose.JSONWebKey) *idp {
	t.Helper()
	p := &idp{keys: keys}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.fetches++
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: p.keys})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) add(k jose.JSONWebKey) {
	p.mu.Lock()
	p.keys = append(p.keys, k)
	p.mu.Unlock()
}

func (p *idp) fetched() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetches
}

// signingKey is a private key with its kid and algorithm; public is the
// JWK an IdP serves for it.
type signingKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key any
}

func (k signingKey) public() jose.JSONWebKey {
	jwk := jose.JSONWebKey{Key: k.key, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
	return jwk.Public()
}

func newECKey(t testing.TB, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid, jose.ES256, k}
}

// sign makes a JWT with claims, signed by k (kid "" leaves the kid out).
func sign(t testing.TB, k signingKey, claims any) string {
	t.Helper()
	key := any(jose.JSONWebKey{Key: k.key, KeyID: k.kid})
	if k.kid == "" {
		key = k.key
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claimsAt(now time.Time) jwt.Claims {
	return jwt.Claims{
		Issuer: testIssuer, Audience: jwt.Audience{testAudience}, Subject: "bankid",
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}
}

// unsignedJWT is a JWT with alg none.
func unsignedJWT(t testing.TB, kid string, claims any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT", "kid": kid}) + "." + enc(claims) + "."
}

// JWTs against a JWKS: the signature with a key of the set, exp and nbf
// with a small leeway, iss, aud; alg none and HS256 never; an unknown kid
// fetches the set again, at most once a minute, which is also how a key
// the IdP added is found.
func TestJWTMode(t *testing.T) {
	clk := newClock()
	es := newECKey(t, "k-es")
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed := signingKey{"k-ed", jose.EdDSA, edPriv}
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs := signingKey{"k-rs", jose.RS256, rsaPriv}
	hmacKey := []byte("a-shared-secret-of-32-bytes-long")
	oct := jose.JSONWebKey{Key: hmacKey, KeyID: "k-oct", Algorithm: string(jose.HS256), Use: "sig"}
	p := newIDP(t, es.public(), ed.public(), rs.public(), oct)
	v, err := NewJWTVerifier(JWTConfig{JWKSURL: p.srv.URL, Issuer: testIssuer, Audience: testAudience, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	f, m := newVerifiedFixture(t, v)
	body := webhookBody(t, amlapi.EventAllDone)
	n := 0
	post := func(tok string) int {
		t.Helper()
		n++
		return f.post(t, "/webhooks/lk-jwt", body, withID(fmt.Sprintf("msg_j%d", n), bearer(tok)))
	}
	now := clk.Now()
	with := func(change func(*jwt.Claims)) jwt.Claims {
		c := claimsAt(now)
		change(&c)
		return c
	}

	for _, tt := range []struct {
		name string
		tok  string
		want int
	}{
		{"ES256", sign(t, es, claimsAt(now)), http.StatusOK},
		{"EdDSA", sign(t, ed, claimsAt(now)), http.StatusOK},
		{"RS256", sign(t, rs, claimsAt(now)), http.StatusOK},
		{"no kid", sign(t, signingKey{"", jose.ES256, es.key}, claimsAt(now)), http.StatusOK},
		{"expired within the leeway", sign(t, es, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-10 * time.Second)) })), http.StatusOK},
		{"expired", sign(t, es, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Minute)) })), http.StatusUnauthorized},
		{"not yet valid", sign(t, es, with(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(2 * time.Minute)) })), http.StatusUnauthorized},
		{"no exp", sign(t, es, with(func(c *jwt.Claims) { c.Expiry = nil })), http.StatusUnauthorized},
		{"wrong audience", sign(t, es, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"someone-else"} })), http.StatusUnauthorized},
		{"no audience", sign(t, es, with(func(c *jwt.Claims) { c.Audience = nil })), http.StatusUnauthorized},
		{"wrong issuer", sign(t, es, with(func(c *jwt.Claims) { c.Issuer = testIssuer + "/other" })), http.StatusUnauthorized},
		{"another key under a known kid", sign(t, signingKey{"k-es", jose.ES256, newECKey(t, "x").key}, claimsAt(now)), http.StatusUnauthorized},
		{"alg none", unsignedJWT(t, "k-es", claimsAt(now)), http.StatusUnauthorized},
		{"HS256 with the JWKS's oct key", sign(t, signingKey{"k-oct", jose.HS256, hmacKey}, claimsAt(now)), http.StatusUnauthorized},
		{"not a JWT", "opaque-token-0123456789", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(tt.tok); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
	if got := p.fetched(); got != 1 {
		t.Fatalf("the JWKS was fetched %d times, want once (cached)", got)
	}

	// An unknown kid fetches the set again, once a minute at most.
	rogue := newECKey(t, "k-rogue")
	clk.Add(DefaultJWKSMinRefresh)
	if got := post(sign(t, rogue, claimsAt(clk.Now()))); got != http.StatusUnauthorized {
		t.Fatalf("unknown kid: %d, want 401", got)
	}
	if got := p.fetched(); got != 2 {
		t.Fatalf("an unknown kid fetched the JWKS %d times in all, want 2", got)
	}
	if got := post(sign(t, rogue, claimsAt(clk.Now()))); got != http.StatusUnauthorized || p.fetched() != 2 {
		t.Fatalf("unknown kid again: %d, %d fetches; want 401 and no fetch within a minute", got, p.fetched())
	}

	// The IdP rotates: a new key is found by the next allowed fetch.
	next := newECKey(t, "k-next")
	p.add(next.public())
	clk.Add(DefaultJWKSMinRefresh)
	if got := post(sign(t, next, claimsAt(clk.Now()))); got != http.StatusOK || p.fetched() != 3 {
		t.Fatalf("a key the IdP added: %d, %d fetches; want 200 after the third fetch", got, p.fetched())
	}
	msgs := f.stored(t)
	if len(msgs) != 6 || msgs[0].Header.Get(HeaderAuth) != AuthBearerJWT {
		t.Fatalf("stored %d webhooks, want 6 marked %s", len(msgs), AuthBearerJWT)
	}
	if got := counter(t, m.Published.WithLabelValues(AuthBearerJWT)); got != 6 {
		t.Errorf("published{auth=bearer-jwt} = %v, want 6", got)
	}
}

// An IdP that cannot be reached leaves the keys fetched before in use.
func TestJWKSOutageKeepsKeys(t *testing.T) {
	clk := newClock()
	es := newECKey(t, "k-es")
	p := newIDP(t, es.public())
	v, err := NewJWTVerifier(JWTConfig{JWKSURL: p.srv.URL, Issuer: testIssuer, Audience: testAudience, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/lk", nil)
		amlapi.SetWebhookBearer(r.Header, sign(t, es, claimsAt(clk.Now())))
		return r
	}
	if _, err := v.Verify(req(), "lk", nil); err != nil {
		t.Fatal(err)
	}
	p.srv.Close()
	clk.Add(DefaultJWKSMaxAge + time.Second) // old: fetched again, which fails
	if _, err := v.Verify(req(), "lk", nil); err != nil {
		t.Fatalf("with the IdP down: %v", err)
	}
}

func TestParseJWKS(t *testing.T) {
	es := newECKey(t, "k-es")
	priv := jose.JSONWebKey{Key: es.key, KeyID: "k-priv"}
	enc := jose.JSONWebKey{Key: &es.key.(*ecdsa.PrivateKey).PublicKey, KeyID: "k-enc", Use: "enc"}
	oct := jose.JSONWebKey{Key: []byte("0123456789abcdef"), KeyID: "k-oct"}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{es.public(), priv, enc, oct}})
	if err != nil {
		t.Fatal(err)
	}
	// A key of a kind unknown to go-jose does not fail the others.
	doc = []byte(strings.Replace(string(doc), `"keys":[`, `"keys":[{"kty":"future","kid":"k-new"},`, 1))
	keys, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range keys {
		if !k.IsPublic() {
			t.Errorf("key %s kept private", k.KeyID)
		}
		kids = append(kids, k.KeyID)
	}
	if strings.Join(kids, ",") != "k-es,k-priv" {
		t.Errorf("kept %v, want the public signing keys k-es and k-priv (as public)", kids)
	}
	for _, bad := range []string{`{}`, `{"keys":[]}`, `[]`, `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`} {
		if _, err := ParseJWKS([]byte(bad)); !errors.Is(err, ErrJWKS) {
			t.Errorf("ParseJWKS(%s) = %v, want ErrJWKS", bad, err)
		}
	}
}

// FuzzJWTVerify: no Authorization header a fuzzer makes is taken, and none
// makes the verifier panic or fetch the JWKS more than once a minute.
func FuzzJWTVerify(f *testing.F) {
	clk := newClock()
	es := newECKey(f, "k-es")
	p := newIDP(f, es.public())
	v, err := NewJWTVerifier(JWTConfig{JWKSURL: p.srv.URL, Issuer: testIssuer, Audience: testAudience, Now: clk.Now})
	if err != nil {
		f.Fatal(err)
	}
	now := clk.Now()
	f.Add("Bearer " + unsignedJWT(f, "k-es", claimsAt(now)))
	f.Add("Bearer " + sign(f, signingKey{"k-es", jose.HS256, []byte("0123456789abcdef0123456789abcdef")}, claimsAt(now)))
	f.Add("Bearer " + sign(f, newECKey(f, "k-es"), claimsAt(now)))
	f.Add("Bearer e30.e30.")
	f.Add("Bearer a.b.c")
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/lk", nil)
		r.Header.Set("Authorization", header)
		if auth, err := v.Verify(r, "lk", nil); err == nil || !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Verify(%q) = %q, %v", header, auth, err)
		}
		if p.fetched() > 1 {
			t.Fatalf("fetched the JWKS %d times within a minute", p.fetched())
		}
	})
}

// FuzzParseJWKS: any document gives public asymmetric signing keys only, or
// ErrJWKS.
func FuzzParseJWKS(f *testing.F) {
	es := newECKey(f, "k-es")
	doc, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{es.public(), {Key: es.key, KeyID: "p"}}})
	f.Add(doc)
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[null,1,"x",{}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := ParseJWKS(doc)
		if err != nil {
			if !errors.Is(err, ErrJWKS) {
				t.Fatalf("ParseJWKS: %v is not ErrJWKS", err)
			}
			return
		}
		for _, k := range keys {
			switch k.Key.(type) {
			case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			default:
				t.Fatalf("kept a %T", k.Key)
			}
		}
	})
}
