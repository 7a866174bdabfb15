package amlapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Rotation: a sender signing with the old and the new secret is accepted by
// a receiver holding either; a receiver holding both accepts a sender
// signing with either.
func TestWebhookSecretRotation(t *testing.T) {
	const oldSecret, newSecret, other = "whsec_b2xkLXNlY3JldA==", "bmV3LXNlY3JldA==", "b3RoZXI="
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"sessionId":"s1","event":"AllDone"}`)
	for _, tt := range []struct {
		signer, verifier string
		ok               bool
	}{
		{oldSecret + " " + newSecret, oldSecret, true},
		{oldSecret + " " + newSecret, newSecret, true},
		{oldSecret, oldSecret + "," + newSecret, true},
		{newSecret, oldSecret + ", " + newSecret, true},
		{newSecret, "\t" + oldSecret + "\n", false},
		{other, oldSecret + " " + newSecret, false},
	} {
		h := http.Header{}
		SetWebhookHeaders(h, tt.signer, "msg_1", now, body)
		if n := len(strings.Fields(h.Get(HeaderWebhookSignature))); n != len(SplitSecrets(tt.signer)) {
			t.Errorf("signed with %q: %d signatures", tt.signer, n)
		}
		err := VerifyWebhook(tt.verifier, h, body, now, DefaultWebhookTolerance)
		if tt.ok != (err == nil) || err != nil && !errors.Is(err, ErrWebhookSignature) {
			t.Errorf("signed with %q, verified with %q: %v, want ok=%v", tt.signer, tt.verifier, err, tt.ok)
		}
	}
}

func TestParseWebhookSecrets(t *testing.T) {
	keys, err := ParseWebhookSecrets(" whsec_YQ==, Yg== ,,")
	if err != nil || len(keys) != 2 || string(keys[0]) != "a" || string(keys[1]) != "b" {
		t.Fatalf("ParseWebhookSecrets = %q, %v", keys, err)
	}
	for _, list := range []string{"", " , ", "YQ== not*base64", "not*base64"} {
		_, err := ParseWebhookSecrets(list)
		if !errors.Is(err, ErrWebhookSecret) || strings.Contains(err.Error(), "not*base64") {
			t.Errorf("ParseWebhookSecrets(%q) = %v, want ErrWebhookSecret without the secret", list, err)
		}
	}
	if _, err := ParseWebhookSecrets("YQ== not*base64"); err == nil || !strings.Contains(err.Error(), "secret 2 of 2") {
		t.Errorf("the error does not say which secret: %v", err)
	}
}

func TestBearerToken(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values []string
		want   string // "" for ErrWebhookBearer
	}{
		{"plain", []string{"Bearer abc.def-ghi_jkl~mno+p/q=="}, "abc.def-ghi_jkl~mno+p/q=="},
		{"scheme in any case, spaces", []string{"bEARER   tok"}, "tok"},
		{"none", nil, ""},
		{"two headers", []string{"Bearer a", "Bearer b"}, ""},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, ""},
		{"no token", []string{"Bearer"}, ""},
		{"empty token", []string{"Bearer "}, ""},
		{"padding only", []string{"Bearer =="}, ""},
		{"space inside", []string{"Bearer a b"}, ""},
		{"padding inside", []string{"Bearer a=b"}, ""},
		{"comma", []string{"Bearer a,b"}, ""},
		{"too long", []string{"Bearer " + strings.Repeat("a", MaxBearerTokenLength+1)}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{HeaderAuthorization: tt.values}
			got, err := BearerToken(h)
			if tt.want == "" {
				if !errors.Is(err, ErrWebhookBearer) {
					t.Fatalf("BearerToken = %q, %v; want ErrWebhookBearer", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("BearerToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	h := http.Header{}
	SetWebhookBearer(h, "tok-1")
	if got, err := BearerToken(h); err != nil || got != "tok-1" {
		t.Errorf("SetWebhookBearer then BearerToken = %q, %v", got, err)
	}
}

// FuzzBearerToken: any header value gives a token68 token that is set back
// the same way, or ErrWebhookBearer without the value in the error.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  a.b.c", "Basic x", "Bearer ", "Bearer a=b", "Bearer ==", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		got, err := BearerToken(http.Header{HeaderAuthorization: {value}})
		if err != nil {
			if !errors.Is(err, ErrWebhookBearer) {
				t.Fatalf("BearerToken(%q): %v is not ErrWebhookBearer", value, err)
			}
			if len(value) > 16 && strings.Contains(err.Error(), value) {
				t.Fatalf("the error quotes the header: %v", err)
			}
			return
		}
		if CheckBearerToken(got) != nil || !strings.HasSuffix(value, got) || strings.ContainsAny(got, " ,\t\r\n") {
			t.Fatalf("BearerToken(%q) = %q", value, got)
		}
		h := http.Header{}
		SetWebhookBearer(h, got)
		if again, err := BearerToken(h); err != nil || again != got {
			t.Fatalf("round trip of %q: %q, %v", got, again, err)
		}
	})
}

// FuzzParseWebhookSecrets: any list gives one key per item, or
// ErrWebhookSecret that quotes no item.
func FuzzParseWebhookSecrets(f *testing.F) {
	f.Add("whsec_YQ== Yg==")
	f.Add("YQ==,,x y")
	f.Fuzz(func(t *testing.T, list string) {
		keys, err := ParseWebhookSecrets(list)
		if err != nil {
			if !errors.Is(err, ErrWebhookSecret) {
				t.Fatalf("ParseWebhookSecrets(%q) = %v", list, err)
			}
			for _, s := range SplitSecrets(list) {
				if len(s) > 12 && strings.Contains(err.Error(), s) {
					t.Fatalf("the error quotes a secret: %v", err)
				}
			}
			return
		}
		if len(keys) != len(SplitSecrets(list)) || len(keys) == 0 {
			t.Fatalf("ParseWebhookSecrets(%q) gave %d keys", list, len(keys))
		}
	})
}
