package auth

// The console's login settings (OIDC_* and CONSOLE_SESSION_*), a group as
// internal/envconfig describes it.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kybflow/kybflow/internal/envconfig"
)

// Defaults of Settings.
const (
	DefaultRoleClaim  = "kybflow_roles"
	DefaultSessionTTL = 8 * time.Hour
	// MinSessionKey is the fewest bytes of CONSOLE_SESSION_KEY.
	MinSessionKey = 32
)

// Settings are the console's login: the OIDC client and the session
// cookie. Without OIDC_ISSUER_URL there is no login (Enabled is false),
// and the console runs only on loopback, with Local.
type Settings struct {
	IssuerURL    string // OIDC_ISSUER_URL
	ClientID     string // OIDC_CLIENT_ID
	ClientSecret string // OIDC_CLIENT_SECRET or the file OIDC_CLIENT_SECRET_FILE; never shown
	RedirectURL  string // OIDC_REDIRECT_URL: the console's /callback, as the browser reaches it
	RoleClaim    string // OIDC_ROLE_CLAIM; dots descend into objects (realm_access.roles)
	// RoleMap maps claim values to roles (OIDC_ROLE_MAP,
	// "claimValue=role,..."); empty: each role's own name.
	RoleMap map[string]Role
	// SessionKey encrypts and authenticates the cookies and makes the CSRF
	// tokens (CONSOLE_SESSION_KEY or the file CONSOLE_SESSION_KEY_FILE,
	// base64 of at least MinSessionKey bytes); never shown.
	SessionKey []byte
	SessionTTL time.Duration // CONSOLE_SESSION_TTL
}

// DefaultSettings: no login yet; the role claim kybflow_roles, sessions of
// 8 hours.
func DefaultSettings() Settings {
	return Settings{RoleClaim: DefaultRoleClaim, SessionTTL: DefaultSessionTTL}
}

// Register registers every setting, with the values c holds as their
// defaults.
func (c *Settings) Register(s *envconfig.Set) {
	s.String(&c.IssuerURL, "OIDC_ISSUER_URL", "oidc-issuer-url", c.IssuerURL,
		"OpenID Connect issuer of the console's login (discovery at <issuer>/.well-known/openid-configuration); empty: no login, loopback only")
	s.String(&c.ClientID, "OIDC_CLIENT_ID", "oidc-client-id", c.ClientID, "the console's OAuth2 client id at the issuer")
	s.Secret(&c.ClientSecret, "OIDC_CLIENT_SECRET", "oidc-client-secret", "the console's OAuth2 client secret")
	s.Func("OIDC_CLIENT_SECRET_FILE", "oidc-client-secret-file", "", "file holding the client secret, instead of OIDC_CLIENT_SECRET",
		func(path string) error { v, err := readSecretFile(path); c.ClientSecret = v; return err })
	s.String(&c.RedirectURL, "OIDC_REDIRECT_URL", "oidc-redirect-url", c.RedirectURL,
		"the console's callback as browsers reach it, e.g. https://console.example.com/callback (registered at the issuer)")
	s.String(&c.RoleClaim, "OIDC_ROLE_CLAIM", "oidc-role-claim", c.RoleClaim,
		"ID token claim listing the user's roles (a list or a string; dots descend, e.g. realm_access.roles)")
	s.Func("OIDC_ROLE_MAP", "oidc-role-map", FormatRoleMap(c.RoleMap),
		"claim values to roles, claimValue=role comma separated, e.g. aml-readers=viewer,aml-compliance=officer; empty: viewer, officer, operator themselves",
		func(v string) error { m, err := ParseRoleMap(v); c.RoleMap = m; return err })
	s.SecretFunc("CONSOLE_SESSION_KEY", "console-session-key",
		"base64 of 32 random bytes or more (openssl rand -base64 32): encrypts the session cookie, makes CSRF tokens; required with OIDC",
		func(v string) error { k, err := parseKey(v); c.SessionKey = k; return err })
	s.Func("CONSOLE_SESSION_KEY_FILE", "console-session-key-file", "", "file holding CONSOLE_SESSION_KEY",
		func(path string) error {
			v, err := readSecretFile(path)
			if err != nil {
				return err
			}
			c.SessionKey, err = parseKey(v)
			return err
		})
	s.Duration(&c.SessionTTL, "CONSOLE_SESSION_TTL", "console-session-ttl", c.SessionTTL, "how long a login lasts")
}

// Check reports every problem of c, each naming its variable. Without
// OIDC_ISSUER_URL, the other OIDC settings must be empty too.
func (c Settings) Check(ck *envconfig.Checker) {
	ck.Check(c.SessionTTL > 0, "CONSOLE_SESSION_TTL", "must be positive, got %s", c.SessionTTL)
	if !c.Enabled() {
		ck.Check(c.ClientID == "" && c.RedirectURL == "", "OIDC_ISSUER_URL",
			"is required with OIDC_CLIENT_ID and OIDC_REDIRECT_URL (or unset them for no login, on loopback)")
		return
	}
	ck.URL("OIDC_ISSUER_URL", c.IssuerURL, "https", "http")
	ck.Require("OIDC_CLIENT_ID", c.ClientID)
	ck.Check(c.ClientSecret != "", "OIDC_CLIENT_SECRET", "is required with OIDC_ISSUER_URL (or OIDC_CLIENT_SECRET_FILE)")
	ck.Require("OIDC_REDIRECT_URL", c.RedirectURL)
	ck.URL("OIDC_REDIRECT_URL", c.RedirectURL, "https", "http")
	if u, err := url.Parse(c.RedirectURL); err == nil && u.Scheme == "http" {
		ck.Check(loopback(u.Hostname()), "OIDC_REDIRECT_URL", "http is for loopback only (127.0.0.1, ::1, localhost): use https, got %q", c.RedirectURL)
	}
	ck.Check(c.RoleClaim != "", "OIDC_ROLE_CLAIM", "must not be empty")
	ck.Check(len(c.SessionKey) >= MinSessionKey, "CONSOLE_SESSION_KEY", "is required with OIDC_ISSUER_URL: base64 of at least %d random bytes", MinSessionKey)
}

// Enabled reports whether the login is configured (OIDC_ISSUER_URL).
func (c Settings) Enabled() bool { return c.IssuerURL != "" }

// LogValue shows the issuer, the client and the claim; never the secret
// or the key.
func (c Settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer_url", c.IssuerURL), slog.String("client_id", c.ClientID),
		slog.Bool("client_secret_set", c.ClientSecret != ""), slog.String("redirect_url", c.RedirectURL),
		slog.String("role_claim", c.RoleClaim), slog.String("role_map", FormatRoleMap(c.RoleMap)),
		slog.Bool("session_key_set", len(c.SessionKey) > 0), slog.Duration("session_ttl", c.SessionTTL),
	)
}

// String is LogValue's text, so that printing c shows no secret either.
func (c Settings) String() string { return c.LogValue().String() }

// ParseRoleMap reads "claimValue=role,...": each role one of Roles.
func ParseRoleMap(v string) (map[string]Role, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	m := map[string]Role{}
	for _, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		claim, role, ok := strings.Cut(pair, "=")
		if !ok || claim == "" {
			return nil, fmt.Errorf("%q is not claimValue=role", pair)
		}
		if !Role(role).Valid() {
			return nil, fmt.Errorf("%q: %q is not one of %q", pair, role, Roles)
		}
		if _, dup := m[claim]; dup {
			return nil, fmt.Errorf("%q is mapped twice", claim)
		}
		m[claim] = Role(role)
	}
	return m, nil
}

// FormatRoleMap is ParseRoleMap's input for m, sorted by claim value.
func FormatRoleMap(m map[string]Role) string {
	pairs := make([]string, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, k+"="+string(v))
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

// parseKey decodes a base64 key (standard or URL alphabet, padded or not)
// of at least MinSessionKey bytes. Errors never quote it.
func parseKey(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(v); err == nil {
			if len(k) < MinSessionKey {
				return nil, fmt.Errorf("the key is %d bytes, want at least %d (openssl rand -base64 32)", len(k), MinSessionKey)
			}
			return k, nil
		}
	}
	return nil, errors.New("the key is not base64 (openssl rand -base64 32)")
}

// readSecretFile reads a secret from a file (a mounted Secret), without its
// trailing newline.
func readSecretFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path) //nolint:gosec // the operator names the file
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// loopback reports whether host is a loopback name or address.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
