package auth

// Cookies sealed with AES-256-GCM (crypto/cipher): what a cookie holds is
// secret and cannot be changed or forged without CONSOLE_SESSION_KEY. The
// keys for sealing and for CSRF tokens are derived from it with HKDF, one
// per purpose; the cookie's name is the sealed value's additional data, so
// that one cookie cannot be presented as another.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrBadCookie is wrapped by the errors of reading a cookie that was not
// sealed with this key, was changed, or is not what its name says.
var ErrBadCookie = errors.New("bad cookie")

// maxCookie bounds a sealed cookie's text, below browsers' 4096 bytes.
const maxCookie = 3800

// keys are the keys derived from CONSOLE_SESSION_KEY.
type keys struct {
	aead cipher.AEAD
	csrf [32]byte
}

func deriveKeys(secret []byte) (*keys, error) {
	if len(secret) < MinSessionKey {
		return nil, fmt.Errorf("session key: %d bytes, want at least %d", len(secret), MinSessionKey)
	}
	enc, err := hkdf.Key(sha256.New, secret, nil, "kybflow console cookies v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive cookie key: %w", err)
	}
	csrf, err := hkdf.Key(sha256.New, secret, nil, "kybflow console csrf v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive CSRF key: %w", err)
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, fmt.Errorf("cookie cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("cookie cipher: %w", err)
	}
	k := &keys{aead: aead}
	copy(k.csrf[:], csrf)
	return k, nil
}

// seal encrypts v's JSON for the cookie name: base64url(nonce ‖ ciphertext).
func (k *keys) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("seal cookie %s: %w", name, err)
	}
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	rand.Read(nonce)
	out := base64.RawURLEncoding.EncodeToString(k.aead.Seal(nonce, nonce, plain, []byte(name)))
	if len(out) > maxCookie {
		return "", fmt.Errorf("seal cookie %s: %d bytes, more than a browser keeps", name, len(out))
	}
	return out, nil
}

// open decrypts a value seal made for the cookie name into v.
func (k *keys) open(name, value string, v any) error {
	if len(value) > maxCookie {
		return fmt.Errorf("%w %s: too long", ErrBadCookie, name)
	}
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return fmt.Errorf("%w %s: not base64url: %w", ErrBadCookie, name, err)
	}
	ns := k.aead.NonceSize()
	if len(b) < ns+k.aead.Overhead() {
		return fmt.Errorf("%w %s: too short", ErrBadCookie, name)
	}
	plain, err := k.aead.Open(nil, b[:ns], b[ns:], []byte(name))
	if err != nil {
		return fmt.Errorf("%w %s: %w", ErrBadCookie, name, err)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("%w %s: %w", ErrBadCookie, name, err)
	}
	return nil
}

// cookieRules are how cookies are set: Secure (and the __Host- prefix)
// unless the console's own URL is http on loopback, where browsers would
// not send a Secure cookie back.
type cookieRules struct{ secure bool }

// name is the cookie's name: __Host-<base> when Secure (the browser then
// insists on Secure, Path=/ and no Domain).
func (c cookieRules) name(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

func (c cookieRules) cookie(base, value string, maxAge time.Duration) *http.Cookie {
	//nolint:gosec // G124: HttpOnly and SameSite always; Secure unless the console is http on loopback, where a browser would not send it back
	return &http.Cookie{
		Name: c.name(base), Value: value, Path: "/", MaxAge: int(maxAge / time.Second),
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	}
}

func (c cookieRules) clear(base string) *http.Cookie {
	ck := c.cookie(base, "", 0) //nolint:gosec // G124: as cookie: a clearing cookie with the same attributes
	ck.MaxAge = -1
	return ck
}

// sessionCookie is what the session cookie holds.
type sessionCookie struct {
	V       int    `json:"v"` // 1
	ID      string `json:"sid"`
	Subject string `json:"sub"`
	Name    string `json:"name"`
	Role    Role   `json:"role"`
	Expires int64  `json:"exp"` // Unix seconds
}

// loginCookie is what the login cookie holds between /login and
// /callback.
type loginCookie struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
	Expires  int64  `json:"exp"`
}

// Cookie names (without the __Host- prefix of Secure cookies).
const (
	SessionCookie = "kybflow_session"
	LoginCookie   = "kybflow_login"
)

// LoginTimeout is how long a login may take, from /login to /callback.
const LoginTimeout = 10 * time.Minute

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
