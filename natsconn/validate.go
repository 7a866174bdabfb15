package natsconn

// Checking settings at start: every problem named by its variable, no
// secret in any message.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

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
