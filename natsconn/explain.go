package natsconn

// Explaining refusals: what to check when a server refuses the credentials
// or TLS cannot be established.

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

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
