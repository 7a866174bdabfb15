package amlapi

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestWebhookSignature(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"sessionId":"s1","event":"AllDone","timestamp":"2023-11-14T22:13:20Z"}`)

	// A known vector from the Standard Webhooks reference implementation.
	const refSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	refBody := []byte(`{"test": 2432232314}`)
	if got, want := SignWebhook(refSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), refBody),
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("SignWebhook reference vector = %s, want %s", got, want)
	}

	tests := []struct {
		name   string
		mutate func(h http.Header, body []byte) []byte
		want   error
	}{
		{"valid", func(h http.Header, b []byte) []byte { return b }, nil},
		{"rotated secret, second signature valid", func(h http.Header, b []byte) []byte {
			h.Set(HeaderWebhookSignature, "v1,AAAA "+h.Get(HeaderWebhookSignature))
			return b
		}, nil},
		{"body changed", func(h http.Header, b []byte) []byte { return append([]byte(nil), append(b, ' ')...) }, ErrWebhookSignature},
		{"wrong secret", func(h http.Header, b []byte) []byte {
			SetWebhookHeaders(h, "b3RoZXI=", "msg_1", now, b)
			return b
		}, ErrWebhookSignature},
		{"id changed", func(h http.Header, b []byte) []byte { h.Set(HeaderWebhookID, "msg_2"); return b }, ErrWebhookSignature},
		{"unsigned", func(h http.Header, b []byte) []byte { h.Del(HeaderWebhookSignature); return b }, ErrWebhookUnsigned},
		{"old timestamp", func(h http.Header, b []byte) []byte {
			SetWebhookHeaders(h, "czNjcmV0", "msg_1", now.Add(-10*time.Minute), b)
			return b
		}, ErrWebhookTimestamp},
		{"bad timestamp", func(h http.Header, b []byte) []byte { h.Set(HeaderWebhookTimestamp, "soon"); return b }, ErrWebhookTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			SetWebhookHeaders(h, "czNjcmV0", "msg_1", now, body)
			b := tt.mutate(h, body)
			err := VerifyWebhook("czNjcmV0", h, b, now, DefaultWebhookTolerance)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifyWebhook: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyWebhook = %v, want %v", err, tt.want)
			}
		})
	}
}
