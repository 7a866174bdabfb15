package natsconn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/kybflow/kybflow/natsconn"
)

func TestRedactURLHidesEveryUserinfo(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://user:pass@host:4222", "nats://redacted@host:4222"},
		{"tls://s3cr3t-token@host:4222", "tls://redacted@host:4222"},
		{"nats://user:p#a%s/s w@rd@host:4222", "nats://redacted@host:4222"},
		{"nats://a:b@h1:4222, nats://c:d@h2:4222", "nats://redacted@h1:4222,nats://redacted@h2:4222"},
		{"user:pass@host:4222", "redacted@host:4222"},
		{"host:4222", "host:4222"},
		// A password with a comma splits the URL: neither piece is shown.
		{"nats://user:pa,ss@host:4222", "(a URL that cannot be read),redacted@host:4222"},
		{"nats://admin:1234,5678@host:4222", "(a URL that cannot be read),redacted@host:4222"},
		{"nats://h1:4222,nats://admin:12,34,56@host:4222", "nats://h1:4222,(a URL that cannot be read),(a URL that cannot be read),redacted@host:4222"},
	} {
		if got := natsconn.RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzRedactURL: whatever the list, no piece of a userinfo survives.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"nats://u:p@h:1", "tls://tok@h", "nats://u:p,q@h", "u:p@h", "nats://h:4222,nats://x@y"} {
		f.Add(s, "S3CR3Tx")
	}
	f.Fuzz(func(t *testing.T, list, secret string) {
		if len(secret) < 6 || strings.ContainsAny(secret, ",@") || strings.Contains(list, secret) {
			return
		}
		in := strings.ReplaceAll(list, "@", ":"+secret+"@")
		if !strings.Contains(in, secret) {
			in = "nats://user:" + secret + "@" + list
		}
		if got := natsconn.RedactURL(in); strings.Contains(got, secret) {
			t.Fatalf("RedactURL(%q) = %q: shows the secret", in, got)
		}
	})
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateNamesTheVariable(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	goodSeed := writeFile(t, "user.nk", string(seed))
	account, _ := nkeys.CreateAccount()
	accountSeed, _ := account.Seed()

	for _, tc := range []struct {
		name string
		s    natsconn.Settings
		want string // "" for valid
	}{
		{"defaults", natsconn.Settings{}, ""},
		{"tls url", natsconn.Settings{URL: "tls://nats-0:4222,tls://nats-1:4222"}, ""},
		{"nkey", natsconn.Settings{NKey: goodSeed}, ""},
		{"user and password", natsconn.Settings{User: "kybflow-worker", Password: "pw"}, ""},
		{"token", natsconn.Settings{User: "a-token"}, ""},
		{"bad scheme", natsconn.Settings{URL: "http://h:4222"}, "NATS_URL"},
		{"unreadable url hides password", natsconn.Settings{URL: "nats://u:p#x%zz@h:4222"}, "NATS_URL: nats://redacted@h:4222 is not a URL"},
		{"slash in password", natsconn.Settings{URL: "nats://u:12/ss@host:4222"}, "NATS_URL: nats://redacted@host:4222 is not a URL"},
		{"hash in password", natsconn.Settings{URL: "nats://u:123#x@h:4222"}, "NATS_URL: nats://redacted@h:4222 is not a URL"},
		{"semicolon in password", natsconn.Settings{URL: "nats://u:1234;tls://v:9999@h"}, "is not a URL"},
		{"two ways", natsconn.Settings{User: "u", Password: "p", NKey: goodSeed}, "use one way to authenticate"},
		{"url and user", natsconn.Settings{URL: "nats://a:b@h:4222", User: "u", Password: "p"}, "credentials in NATS_URL and NATS_USER"},
		{"password alone", natsconn.Settings{Password: "p"}, "NATS_PASSWORD: set NATS_USER too"},
		{"creds missing", natsconn.Settings{Creds: "/nonexistent/x.creds"}, "NATS_CREDS: cannot read /nonexistent/x.creds"},
		{"creds not creds", natsconn.Settings{Creds: goodSeed}, "NATS_CREDS: " + goodSeed + ": no user JWT"},
		{"nkey missing", natsconn.Settings{NKey: "/nonexistent/seed"}, "NATS_NKEY: cannot read"},
		{"nkey of an account", natsconn.Settings{NKey: writeFile(t, "acct.nk", string(accountSeed))}, "NATS_NKEY"},
		{"cert without key", natsconn.Settings{Cert: "/x.pem"}, "NATS_CERT, NATS_KEY: set both"},
		{"ca not pem", natsconn.Settings{CA: writeFile(t, "ca.pem", "hello")}, "NATS_CA: "},
		{"inbox wildcard", natsconn.Settings{InboxPrefix: "_INBOX.>"}, "NATS_INBOX_PREFIX"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), string(seed)) || strings.Contains(err.Error(), "p#x")) {
				t.Fatalf("the error shows a secret: %v", err)
			}
		})
	}
}

func TestFromEnvAndLogValueShowNoSecret(t *testing.T) {
	env := map[string]string{"NATS_URL": "tls://tok3n@h:4222", "NATS_USER": "kybflow-worker", "NATS_PASSWORD": "pa55word", "NATS_INBOX_PREFIX": ""}
	s := natsconn.FromEnv(natsconn.Settings{InboxPrefix: "_INBOX_x"}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if s.User != "kybflow-worker" || s.Password != "pa55word" || s.InboxPrefix != "_INBOX_x" {
		t.Fatalf("FromEnv = %+v", s)
	}
	for _, text := range []string{s.String(), s.LogValue().String()} {
		if strings.Contains(text, "pa55word") || strings.Contains(text, "tok3n") {
			t.Fatalf("log value shows a secret: %s", text)
		}
	}
	token := natsconn.Settings{User: "s3cr3t-token"}
	if strings.Contains(token.String(), "s3cr3t") {
		t.Fatalf("a token in NATS_USER is shown: %s", token.String())
	}
}
