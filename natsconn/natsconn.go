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
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go"
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
