package amlapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Bearer webhooks: a scheme beside the Standard Webhooks signature (model,
// like it): the webhook carries "Authorization: Bearer <token>", a static
// token shared with the sender or a JWT the sender signs (BankID's newer
// products send a JWT). This file reads and writes the header; checking the
// token is the receiver's (internal/bridge).

// HeaderAuthorization carries a bearer webhook's token.
const HeaderAuthorization = "Authorization"

// MaxBearerTokenLength bounds a bearer token as read from a webhook: a JWT
// signed with a 4096-bit RSA key and a few claims is well under 2 KiB.
const MaxBearerTokenLength = 8 << 10

// MinBearerTokenLength is the shortest static token a program accepts in
// its configuration: a guessable token is no check at all.
const MinBearerTokenLength = 16

// ErrWebhookBearer: the webhook has no usable bearer token (no
// Authorization header, another scheme, several headers, or a token that
// is empty, too long or not token68).
var ErrWebhookBearer = errors.New("webhook has no bearer token")

// BearerToken returns the token of a webhook's "Authorization: Bearer
// <token>" header (RFC 6750, 2.1: the scheme in any case, one or more
// spaces, a token68). Anything else is ErrWebhookBearer, wrapped; the error
// never quotes the token.
func BearerToken(h http.Header) (string, error) {
	values := h.Values(HeaderAuthorization)
	switch len(values) {
	case 0:
		return "", fmt.Errorf("%w: no %s header", ErrWebhookBearer, HeaderAuthorization)
	case 1:
	default:
		return "", fmt.Errorf("%w: %d %s headers", ErrWebhookBearer, len(values), HeaderAuthorization)
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: the %s scheme is not Bearer", ErrWebhookBearer, HeaderAuthorization)
	}
	token = strings.TrimLeft(token, " ")
	if err := CheckBearerToken(token); err != nil {
		return "", err
	}
	return token, nil
}

// CheckBearerToken reports whether token can travel in an Authorization
// header: 1 to MaxBearerTokenLength characters of token68 (RFC 7235, 2.1:
// letters, digits, "-._~+/", then optional "=" padding). The error is
// ErrWebhookBearer, wrapped, and never quotes the token.
func CheckBearerToken(token string) error {
	if token == "" {
		return fmt.Errorf("%w: the token is empty", ErrWebhookBearer)
	}
	if len(token) > MaxBearerTokenLength {
		return fmt.Errorf("%w: the token is over %d bytes", ErrWebhookBearer, MaxBearerTokenLength)
	}
	body := strings.TrimRight(token, "=")
	if body == "" {
		return fmt.Errorf("%w: the token is only padding", ErrWebhookBearer)
	}
	for i := range len(body) {
		if !token68(body[i]) {
			return fmt.Errorf("%w: the token has a character outside token68 at byte %d", ErrWebhookBearer, i)
		}
	}
	return nil
}

func token68(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0
}

// SetWebhookBearer sets a webhook's Authorization header to the token.
func SetWebhookBearer(h http.Header, token string) {
	h.Set(HeaderAuthorization, "Bearer "+token)
}
