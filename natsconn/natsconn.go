// Package natsconn is how every kybflow program connects to NATS: the
// worker, the webhook bridge, amlctl, and a platform that wants to connect
// the way they do. It reads the NATS CLI's own variables (NATS_URL,
// NATS_CREDS, NATS_NKEY, NATS_USER, NATS_PASSWORD, NATS_CERT, NATS_KEY,
// NATS_CA), plus NATS_INBOX_PREFIX, so that the credentials an operator
// already tested with `nats` work unchanged.
//
// Secrets come from files (a credentials file, an NKey seed, a client key)
// or from the environment (NATS_PASSWORD, or a token in NATS_USER); none is
// ever needed on a command line. Nothing this package returns or logs holds
// a secret: errors and log values name the variable and show URLs through
// RedactURL.
package natsconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Settings are where NATS is and how to authenticate and encrypt. The zero
// value connects to nats.DefaultURL without authentication.
type Settings struct {
	// URL is one or more server URLs, comma-separated (NATS_URL). nats://
	// is plain text unless a TLS setting below is given; tls:// requires
	// TLS. Credentials in it are accepted, but NATS_USER/NATS_PASSWORD or a
	// file are better: a URL is easily printed.
	URL string
	// Creds is the path of a credentials file: a user JWT and its NKey seed,
	// as nsc writes it (NATS_CREDS). Read at every connect, so a rotated
	// file is picked up on the next reconnect.
	Creds string
	// NKey is the path of a file holding a user NKey seed (NATS_NKEY).
	NKey string
	// User and Password authenticate with a user and password (NATS_USER,
	// NATS_PASSWORD). A User without a Password is a token, as the NATS CLI
	// reads it.
	User, Password string
	// Cert and Key are the paths of a client certificate and its private
	// key, PEM, for servers that verify clients (mTLS) (NATS_CERT, NATS_KEY).
	Cert, Key string
	// CA is the path of the PEM certificates that sign the servers'
	// certificates, for a private CA (NATS_CA). Without it the system's
	// roots are trusted.
	CA string
	// InboxPrefix is the prefix of this connection's reply subjects
	// (NATS_INBOX_PREFIX). Give each role its own, so that NATS permissions
	// can let it receive its own replies and nobody else's; "" is _INBOX.
	InboxPrefix string
}

// Var is one setting of Settings: its environment variable, a flag name, a
// line of help, whether it is a secret, and where its value goes. Programs
// register these with their own flag parsing.
type Var struct {
	Env, Flag, Usage string
	// Secret: the value is never shown, not even in --help (NATS_USER
	// too: without a password it is a token).
	Secret bool
	// Show is what may be shown of the value (NATS_URL redacted); nil:
	// the value as it is.
	Show  func(string) string
	Value *string
}

// Vars are s's settings, in the order --help lists them. Their defaults are
// the values s holds.
func (s *Settings) Vars() []Var {
	return []Var{
		{Env: "NATS_URL", Flag: "nats-url", Value: &s.URL, Show: RedactURL,
			Usage: "NATS server URL(s), comma-separated; tls:// for TLS (credentials in it are never printed, but prefer the variables below)"},
		{Env: "NATS_CREDS", Flag: "nats-creds", Value: &s.Creds,
			Usage: "path of a NATS credentials file (user JWT and NKey seed, operator mode)"},
		{Env: "NATS_NKEY", Flag: "nats-nkey", Value: &s.NKey,
			Usage: "path of a file holding a NATS user NKey seed"},
		{Env: "NATS_USER", Flag: "nats-user", Value: &s.User, Secret: true,
			Usage: "NATS user name (with NATS_PASSWORD), or a token when NATS_PASSWORD is empty"},
		{Env: "NATS_PASSWORD", Flag: "nats-password", Value: &s.Password, Secret: true,
			Usage: "NATS password; set it in the environment (from a secret), not on the command line"},
		{Env: "NATS_CERT", Flag: "nats-cert", Value: &s.Cert,
			Usage: "path of a PEM client certificate, for servers that verify clients (mTLS); with NATS_KEY"},
		{Env: "NATS_KEY", Flag: "nats-key", Value: &s.Key,
			Usage: "path of the PEM private key of NATS_CERT"},
		{Env: "NATS_CA", Flag: "nats-ca", Value: &s.CA,
			Usage: "path of the PEM CA certificates that sign the NATS servers' certificates (a private CA)"},
		{Env: "NATS_INBOX_PREFIX", Flag: "nats-inbox-prefix", Value: &s.InboxPrefix,
			Usage: "prefix of this program's reply subjects: give each role its own, and grant it only <prefix>.>"},
	}
}

// FromEnv returns def with every variable that lookup finds non-empty set
// over it. lookup is os.LookupEnv in a program, a map in a test.
func FromEnv(def Settings, lookup func(string) (string, bool)) Settings {
	s := def
	for _, v := range s.Vars() {
		if x, ok := lookup(v.Env); ok && x != "" {
			*v.Value = x
		}
	}
	return s
}

// Validate reports every problem of s, each naming its variable, without
// printing a secret: a URL that cannot be read, more than one way to
// authenticate, a certificate without its key, a file that cannot be read
// or does not hold what it should (a credentials file, a user seed, PEM).
func (s Settings) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	urls := s.URL
	if urls == "" {
		urls = nats.DefaultURL
	}
	urlAuth := false
	for _, part := range strings.Split(urls, ",") {
		part = strings.TrimSpace(part)
		u, err := url.Parse(part)
		// An @ outside the userinfo, a query or a fragment is a password
		// with a / # ? in it: nats.go would take a piece of it for the
		// host, and print it in its errors.
		if err != nil || u.Host == "" || u.Opaque != "" || (u.User == nil && strings.Contains(part, "@")) ||
			u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(part, "#") || strings.HasSuffix(part, "?") ||
			(u.Scheme != "ws" && u.Scheme != "wss" && u.Path != "" && u.Path != "/") {
			bad("NATS_URL: %s is not a URL like nats://host:4222 or tls://host:4222 (a password with characters such as # %% / or a space must be percent-encoded; better, set NATS_USER and NATS_PASSWORD)", RedactURL(part))
			continue
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			bad("NATS_URL: %s: scheme %q is not nats, tls, ws or wss", RedactURL(part), u.Scheme)
		}
		if u.User != nil {
			urlAuth = true
		}
	}

	var ways []string
	if urlAuth {
		ways = append(ways, "credentials in NATS_URL")
	}
	if s.Creds != "" {
		ways = append(ways, "NATS_CREDS")
	}
	if s.NKey != "" {
		ways = append(ways, "NATS_NKEY")
	}
	if s.User != "" {
		ways = append(ways, "NATS_USER")
	}
	if len(ways) > 1 {
		bad("NATS_CREDS, NATS_NKEY, NATS_USER: use one way to authenticate, not %s", strings.Join(ways, " and "))
	}
	if s.Password != "" && s.User == "" {
		bad("NATS_PASSWORD: set NATS_USER too (a password needs its user)")
	}
	if s.Creds != "" {
		if err := checkCreds(s.Creds); err != nil {
			bad("NATS_CREDS: %w", err)
		}
	}
	if s.NKey != "" {
		if err := checkSeed(s.NKey); err != nil {
			bad("NATS_NKEY: %w", err)
		}
	}
	switch {
	case (s.Cert == "") != (s.Key == ""):
		bad("NATS_CERT, NATS_KEY: set both (a client certificate and its key) or neither")
	case s.Cert != "":
		if _, err := tls.LoadX509KeyPair(s.Cert, s.Key); err != nil {
			bad("NATS_CERT, NATS_KEY: %s and %s: %w", s.Cert, s.Key, fileError(err))
		}
	}
	if s.CA != "" {
		if err := checkCA(s.CA); err != nil {
			bad("NATS_CA: %w", err)
		}
	}
	if p := s.InboxPrefix; p != "" && (strings.ContainsAny(p, "*> \t\r\n") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..")) {
		bad("NATS_INBOX_PREFIX: %q must be dot-separated subject tokens without wildcards, e.g. _INBOX_kybflow_worker", p)
	}
	return errors.Join(errs...)
}

// checkCreds reads a credentials file as nats.go will: a user JWT and a
// user seed, both decorated.
func checkCreds(path string) error {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the file
	if err != nil {
		return fileError(err)
	}
	defer wipe(b)
	if jwt, err := nkeys.ParseDecoratedJWT(b); err != nil || strings.Count(jwt, ".") != 2 || !strings.HasPrefix(jwt, "ey") {
		return fmt.Errorf("%s: no user JWT in it (want a .creds file as nsc writes it)", path)
	}
	kp, err := nkeys.ParseDecoratedUserNKey(b)
	if err != nil {
		return fmt.Errorf("%s: no valid user NKey seed in it (want a .creds file as nsc writes it)", path)
	}
	kp.Wipe()
	return nil
}

// checkSeed reads a user NKey seed file: the seed alone, or decorated.
func checkSeed(path string) error {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the file
	if err != nil {
		return fileError(err)
	}
	defer wipe(b)
	kp, err := nkeys.ParseDecoratedUserNKey(b)
	if err != nil {
		return fmt.Errorf("%s: not a user NKey seed (want one line starting SU, as nk -gen user writes it)", path)
	}
	kp.Wipe()
	return nil
}

func checkCA(path string) error {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the file
	if err != nil {
		return fileError(err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return nil
}

// fileError keeps the reason of a file error (not found, permission
// denied) and never a file's content.
func fileError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot read %s: %w", pe.Path, pe.Err)
	}
	return err
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 'x'
	}
}

// TLS reports whether the connection uses TLS: a tls:// or wss:// URL, a CA
// or a client certificate.
func (s Settings) TLS() bool {
	return s.CA != "" || s.Cert != "" || strings.Contains(s.URL, "tls://") || strings.Contains(s.URL, "wss://")
}

// Options are the nats.go options of s: authentication, TLS and the inbox
// prefix. They fail as Validate does.
func (s Settings) Options() ([]nats.Option, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case s.Creds != "":
		opts = append(opts, nats.UserCredentials(s.Creds))
	case s.NKey != "":
		o, err := nats.NkeyOptionFromSeed(s.NKey)
		if err != nil {
			return nil, fmt.Errorf("NATS_NKEY: %s: not a user NKey seed", s.NKey)
		}
		opts = append(opts, o)
	case s.User != "" && s.Password != "":
		opts = append(opts, nats.UserInfo(s.User, s.Password))
	case s.User != "":
		opts = append(opts, nats.Token(s.User))
	}
	if s.CA != "" {
		opts = append(opts, nats.RootCAs(s.CA))
	}
	if s.Cert != "" {
		opts = append(opts, nats.ClientCert(s.Cert, s.Key))
	}
	if s.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(s.InboxPrefix))
	}
	return opts, nil
}

// Connect connects once, for a short-lived program (a command-line tool, a
// script): it fails when no server can be reached. name is the client name
// the servers show. Long-running services want reconnects and readiness:
// kybflow's own use internal/streams.Connect, which builds on Options.
func (s Settings) Connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := s.Options()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(s.url(), append(append(opts, nats.Name(name)), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", RedactURL(s.url()), Explain(err))
	}
	return nc, nil
}

func (s Settings) url() string {
	if s.URL == "" {
		return nats.DefaultURL
	}
	return s.URL
}

// LogValue shows where and how s connects, never a secret: the URLs
// redacted, the way of authenticating, the files, the inbox prefix.
func (s Settings) LogValue() slog.Value {
	auth := "none"
	switch {
	case s.Creds != "":
		auth = "credentials file " + s.Creds
	case s.NKey != "":
		auth = "nkey seed file " + s.NKey
	case s.User != "" && s.Password != "":
		auth = "user " + s.User + " and password"
	case s.User != "":
		auth = "token"
	case strings.Contains(s.URL, "@"):
		auth = "in NATS_URL"
	}
	attrs := []slog.Attr{slog.String("url", RedactURL(s.url())), slog.String("auth", auth), slog.Bool("tls", s.TLS())}
	if s.CA != "" {
		attrs = append(attrs, slog.String("ca", s.CA))
	}
	if s.Cert != "" {
		attrs = append(attrs, slog.String("cert", s.Cert))
	}
	if s.InboxPrefix != "" {
		attrs = append(attrs, slog.String("inbox_prefix", s.InboxPrefix))
	}
	return slog.GroupValue(attrs...)
}

// String is LogValue's text, so that printing s shows no secret either.
func (s Settings) String() string { return s.LogValue().String() }

// RedactURL hides the whole userinfo (user, password or token) of every URL
// in a comma-separated list, however it is spelled: everything before the
// last @ of each URL becomes "redacted". A part that still does not read as
// a URL afterwards (a password holding a comma splits a URL in two) is
// replaced whole, since it may be a piece of a secret.
func RedactURL(list string) string {
	const unreadable = "(a URL that cannot be read)"
	parts := strings.Split(list, ",")
	lastSchemed := 0
	for i, p := range parts {
		p = strings.TrimSpace(p)
		scheme, rest, hasScheme := strings.Cut(p, "://")
		if hasScheme && !validScheme(scheme) {
			hasScheme = false
		}
		if !hasScheme {
			scheme, rest = "", p
			if strings.Contains(p, "@") {
				// The tail of a userinfo that a comma split: the pieces
				// before it, back to the last URL with a scheme, are the
				// rest of that secret.
				for j := lastSchemed; j < i; j++ {
					parts[j] = unreadable
				}
			}
		} else {
			lastSchemed = i
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = "redacted@" + rest[at+1:]
		}
		shown := rest
		if hasScheme {
			shown = scheme + "://" + rest
		}
		if !readable(shown, hasScheme) {
			shown = unreadable
		}
		parts[i] = shown
	}
	return strings.Join(parts, ",")
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return true
}

// readable reports whether s, with its userinfo already redacted, is a
// plain URL or host:port that cannot be the tail of a secret.
func readable(s string, hasScheme bool) bool {
	if !hasScheme {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Scheme == "" || u.Opaque != "" {
		return false
	}
	if u.User != nil && u.User.String() != "redacted" {
		return false
	}
	return true
}

// Explain adds what to check to the errors of a connection that the
// server refused or could not secure: a bad credential, an unknown CA, a
// client certificate required. Other errors are returned as they are.
func Explain(err error) error {
	e, _ := explain(err)
	return e
}

// Refused reports whether err is a refusal that retrying alone cannot
// mend: the server refused the credentials, or TLS could not be
// established with the certificates given (the cases Explain explains).
func Refused(err error) bool {
	_, refused := explain(err)
	return refused
}

func explain(err error) (error, bool) { //nolint:revive // the error and whether it is a refusal
	if err == nil {
		return nil, false
	}
	msg := strings.ToLower(err.Error())
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		strings.Contains(msg, "authorization violation"), strings.Contains(msg, "authentication"):
		return fmt.Errorf("%w: the server refused the credentials (check NATS_USER and NATS_PASSWORD, NATS_CREDS or NATS_NKEY)", err), true
	case errors.As(err, &ua), strings.Contains(msg, "certificate signed by unknown authority"):
		return fmt.Errorf("%w: the server's certificate is not signed by a trusted CA (set NATS_CA to the CA that signs it)", err), true
	case errors.As(err, &hn), strings.Contains(msg, "certificate is valid for"):
		return fmt.Errorf("%w: the server's certificate does not name the host in NATS_URL", err), true
	case errors.Is(err, nats.ErrSecureConnRequired):
		return fmt.Errorf("%w: the server requires TLS (use a tls:// URL or set NATS_CA)", err), true
	case errors.Is(err, nats.ErrSecureConnWanted):
		return fmt.Errorf("%w: the server does not offer TLS (use a nats:// URL without NATS_CA, NATS_CERT)", err), true
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"):
		return fmt.Errorf("%w: the server wants a client certificate it trusts (set NATS_CERT and NATS_KEY)", err), true
	}
	return err, false
}
