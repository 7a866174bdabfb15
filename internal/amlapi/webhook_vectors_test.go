package amlapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The test vectors of the Standard Webhooks libraries (the
// standard-webhooks repository; its Go, JavaScript and Python tests share
// them): one secret, written with and without the whsec_ prefix, one
// message, and the verification cases. Our reading of a secret must agree
// with theirs on every one.
const (
	vectorSecret  = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorMsgID   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorPayload = `{"test": 2432232314}`
	vectorOtherv1 = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
)

func TestStandardWebhooksVectors(t *testing.T) {
	// The signing vector, for both spellings of the secret.
	for _, secret := range []string{"whsec_" + vectorSecret, vectorSecret} {
		if got, want := SignWebhook(secret, vectorMsgID, time.Unix(1614265330, 0), []byte(vectorPayload)), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
			t.Errorf("sign with %q = %s, want %s", secret[:6], got, want)
		}
	}

	const tolerance = 5 * time.Minute
	headers := func(secret string, ts time.Time) http.Header {
		h := http.Header{}
		SetWebhookHeaders(h, secret, vectorMsgID, ts, []byte(vectorPayload))
		return h
	}
	now := time.Now()
	tests := []struct {
		name   string
		header func() http.Header
		want   error
	}{
		{"valid signature is valid", func() http.Header { return headers(vectorSecret, now) }, nil},
		{"valid with the whsec_ prefix", func() http.Header { return headers("whsec_"+vectorSecret, now) }, nil},
		{"missing id returns error", func() http.Header { h := headers(vectorSecret, now); h.Del("webhook-id"); return h }, ErrWebhookUnsigned},
		{"missing timestamp returns error", func() http.Header { h := headers(vectorSecret, now); h.Del("webhook-timestamp"); return h }, ErrWebhookUnsigned},
		{"missing signature returns error", func() http.Header { h := headers(vectorSecret, now); h.Del("webhook-signature"); return h }, ErrWebhookUnsigned},
		{"invalid signature is invalid", func() http.Header {
			h := headers(vectorSecret, now)
			h.Set("webhook-signature", vectorOtherv1)
			return h
		}, ErrWebhookSignature},
		{"old timestamp fails", func() http.Header { return headers(vectorSecret, now.Add(-tolerance-time.Second)) }, ErrWebhookTimestamp},
		{"new timestamp fails", func() http.Header { return headers(vectorSecret, now.Add(tolerance+time.Second)) }, ErrWebhookTimestamp},
		{"valid multi sig is valid", func() http.Header {
			h := headers(vectorSecret, now)
			h.Set("webhook-signature", strings.Join([]string{vectorOtherv1, "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", h.Get("webhook-signature"), vectorOtherv1}, " "))
			return h
		}, nil},
		{"invalid timestamp fails", func() http.Header {
			h := headers(vectorSecret, now)
			h.Set("webhook-timestamp", fmt.Sprint(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()))
			return h
		}, ErrWebhookTimestamp},
		{"signed with another secret", func() http.Header { return headers("b3RoZXI=", now) }, ErrWebhookSignature},
		{"another secret with the prefix", func() http.Header { return headers("whsec_b3RoZXI=", now) }, ErrWebhookSignature},
	}
	for _, tt := range tests {
		err := VerifyWebhook(vectorSecret, tt.header(), []byte(vectorPayload), now, tolerance)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: VerifyWebhook = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestParseWebhookSecret(t *testing.T) {
	for secret, ok := range map[string]bool{
		vectorSecret:             true,
		"whsec_" + vectorSecret:  true,
		"whsec_not base64!":      false,
		"pipeline-test-secret":   false, // raw text: the libraries refuse it too
		"":                       false,
		"whsec_":                 false,
		"czNjcmV0":               true,
		"whsec_czNjcmV0====":     false,
		"MfKQ9r8GKYqrTwjUPD8ILP": false, // not a whole base64 quantum
	} {
		key, err := ParseWebhookSecret(secret)
		if ok != (err == nil) || (err == nil && len(key) == 0) {
			t.Errorf("ParseWebhookSecret(%q) = %d bytes, %v; want ok=%t", secret, len(key), err, ok)
		}
		if err != nil && (!errors.Is(err, ErrWebhookSecret) || (len(secret) > len("whsec_") && strings.Contains(err.Error(), secret))) {
			t.Errorf("error %v for %q: want ErrWebhookSecret, without the secret", err, secret)
		}
	}
}
