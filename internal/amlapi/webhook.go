package amlapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The webhook signature scheme is part of our model (see model.go): the
// Standard Webhooks scheme. The signed content is "<id>.<timestamp>.<body>";
// the signature header holds one or more space-separated "v1,<base64
// HMAC-SHA256>" values (several during a secret rotation).
//
// The key is read as the Standard Webhooks libraries read it: base64 (the
// standard alphabet, with padding), after an optional "whsec_" prefix.
// ParseWebhookSecret checks a secret; programs call it at start, so that a
// secret the senders would read differently is refused there.
//
// Rotation: where a secret is configured, several may be given at once,
// separated by spaces or commas (neither occurs in base64 or the prefix).
// A verifier accepts a signature made with any of them; a sender signs with
// each, one "v1,..." value per secret in the signature header.

// Webhook verification errors. Each is returned wrapped; test with errors.Is.
var (
	// ErrWebhookUnsigned: a signature header is missing.
	ErrWebhookUnsigned = errors.New("webhook is not signed")
	// ErrWebhookSignature: no signature matches the body and the secret.
	ErrWebhookSignature = errors.New("webhook signature does not match")
	// ErrWebhookTimestamp: the timestamp is malformed or outside the tolerance
	// (a replay, or clocks far apart).
	ErrWebhookTimestamp = errors.New("webhook timestamp outside tolerance")
)

// DefaultWebhookTolerance is how far a webhook's timestamp may be from now.
const DefaultWebhookTolerance = 5 * time.Minute

// WebhookSecretPrefix starts a secret written the Standard Webhooks way.
const WebhookSecretPrefix = "whsec_"

// ErrWebhookSecret: a secret is not base64 after its optional prefix.
var ErrWebhookSecret = errors.New("webhook secret is not base64 (whsec_<base64>, or <base64>)")

// ParseWebhookSecret returns the HMAC key of secret: the base64 after an
// optional "whsec_" prefix, as the Standard Webhooks libraries read it. An
// empty key, or text that is not base64, is ErrWebhookSecret. The error
// never quotes the secret.
func ParseWebhookSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, WebhookSecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrWebhookSecret
	}
	return key, nil
}

// SplitSecrets splits a list of secrets or tokens separated by spaces or
// commas, leaving out empty items.
func SplitSecrets(list string) []string {
	return strings.FieldsFunc(list, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// ParseWebhookSecrets is ParseWebhookSecret for a list of secrets (see
// SplitSecrets): the key of each, in order. An empty list, or one whose nth
// secret does not parse, is ErrWebhookSecret (saying which n, never quoting
// a secret).
func ParseWebhookSecrets(list string) ([][]byte, error) {
	secrets := SplitSecrets(list)
	if len(secrets) == 0 {
		return nil, ErrWebhookSecret
	}
	keys := make([][]byte, 0, len(secrets))
	for i, sec := range secrets {
		key, err := ParseWebhookSecret(sec)
		if err != nil {
			if len(secrets) == 1 {
				return nil, err
			}
			return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// webhookKeys is ParseWebhookSecrets for secrets already checked at start;
// an unchecked invalid list gives one empty key.
func webhookKeys(secrets string) [][]byte {
	keys, err := ParseWebhookSecrets(secrets)
	if err != nil {
		return [][]byte{nil}
	}
	return keys
}

func signWithKey(key []byte, msgID string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", msgID, ts.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignWebhook returns the webhook-signature header value for a body sent
// with the given message id and timestamp: one "v1,..." signature per
// secret in secrets (one secret, or several during a rotation), separated
// by spaces.
func SignWebhook(secrets, msgID string, ts time.Time, body []byte) string {
	var sigs []string
	for _, key := range webhookKeys(secrets) {
		sigs = append(sigs, signWithKey(key, msgID, ts, body))
	}
	return strings.Join(sigs, " ")
}

// SetWebhookHeaders signs body and sets the three signature headers on h.
func SetWebhookHeaders(h http.Header, secret, msgID string, ts time.Time, body []byte) {
	h.Set(HeaderWebhookID, msgID)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderWebhookSignature, SignWebhook(secret, msgID, ts, body))
}

// VerifyWebhook checks the signature headers of a webhook against body and
// secrets (one secret, or several during a rotation: see SplitSecrets), and
// that its timestamp is within tolerance of now. A webhook is accepted when
// any of its signatures matches any of the secrets. It returns nil, or an
// error wrapping one of the ErrWebhook sentinels.
func VerifyWebhook(secrets string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sigs := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || tsText == "" || sigs == "" {
		return fmt.Errorf("verify webhook: %w (need %s, %s and %s)", ErrWebhookUnsigned,
			HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature)
	}
	sec, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("verify webhook: %w: %s %q is not a Unix time", ErrWebhookTimestamp, HeaderWebhookTimestamp, clip(tsText))
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return fmt.Errorf("verify webhook: %w: %s is %s from now", ErrWebhookTimestamp, ts.UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	// Every pair is compared, matched or not: how many secrets or
	// signatures there are is known, which one matched is not told by time.
	matched := false
	for _, key := range webhookKeys(secrets) {
		want := []byte(signWithKey(key, id, ts, body))
		for _, sig := range strings.Fields(sigs) {
			if hmac.Equal([]byte(sig), want) {
				matched = true
			}
		}
	}
	if matched {
		return nil
	}
	return fmt.Errorf("verify webhook %q: %w", clip(id), ErrWebhookSignature)
}

// clip bounds what a sender controls before it reaches an error (and so a
// log line): a header can be kilobytes long.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + fmt.Sprintf("…(%d bytes)", len(s))
}
