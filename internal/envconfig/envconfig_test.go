package envconfig

import (
	"errors"
	"flag"
	"fmt"
	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/natsconn"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

type cfg struct {
	URL    string
	Secret string
	Wait   time.Duration
	N      int
	On     bool
	Rate   float64
	Scopes []string
}

func load(t *testing.T, env map[string]string, args ...string) (cfg, error) {
	t.Helper()
	var c cfg
	s := New("test", MapLookup(env), io.Discard)
	s.String(&c.URL, "NATS_URL", "nats-url", "nats://127.0.0.1:4222", "NATS server URL")
	s.Secret(&c.Secret, "AML_CLIENT_SECRET", "client-secret", "client secret")
	s.Duration(&c.Wait, "POLL_INTERVAL", "poll-interval", 5*time.Second, "first poll")
	s.Int(&c.N, "WORKER_CONCURRENCY", "concurrency", 4, "handlers at once")
	s.Bool(&c.On, "S3_SECURE", "s3-secure", true, "use TLS")
	s.Float(&c.Rate, "RATE", "rate", 0.5, "a rate")
	s.List(&c.Scopes, "AML_SCOPES", "scopes", []string{"a"}, "scopes")
	err := s.Parse(args)
	return c, err
}

func TestPrecedenceFlagEnvDefault(t *testing.T) {
	c, err := load(t, map[string]string{"NATS_URL": "nats://env:4222", "POLL_INTERVAL": "2s", "AML_SCOPES": "x, y"}, "--poll-interval=3s", "--concurrency", "8")
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "nats://env:4222" || c.Wait != 3*time.Second || c.N != 8 || !c.On || c.Rate != 0.5 {
		t.Fatalf("got %+v", c)
	}
	if strings.Join(c.Scopes, "|") != "x|y" {
		t.Fatalf("scopes = %q", c.Scopes)
	}
}

func TestErrorsNameEveryBadVariable(t *testing.T) {
	_, err := load(t, map[string]string{"POLL_INTERVAL": "soon", "WORKER_CONCURRENCY": "many", "S3_SECURE": "maybe"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"POLL_INTERVAL", "WORKER_CONCURRENCY", "S3_SECURE", `"soon"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	_, err = load(t, nil, "--rate=fast")
	if err == nil || !strings.Contains(err.Error(), "RATE") {
		t.Errorf("bad flag error %v does not name RATE", err)
	}
	if _, err := load(t, nil, "--help"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestHelpNamesVariablesAndHidesSecrets(t *testing.T) {
	var out strings.Builder
	var secret string
	s := New("test", MapLookup(map[string]string{"AML_CLIENT_SECRET": "hunter2"}), &out)
	s.Secret(&secret, "AML_CLIENT_SECRET", "client-secret", "client secret")
	_ = s.Parse([]string{"--help"})
	if !strings.Contains(out.String(), "env AML_CLIENT_SECRET") {
		t.Errorf("help does not name the variable: %s", out.String())
	}
	if strings.Contains(out.String(), "hunter2") || strings.Contains(s.Markdown(), "hunter2") {
		t.Errorf("help shows the secret: %s", out.String())
	}
	if secret != "hunter2" {
		t.Errorf("secret = %q", secret)
	}
}

func TestChecker(t *testing.T) {
	var c Checker
	c.Require("AML_API_URL", "")
	c.URL("AML_ISSUER_URL", "not a url", "https", "http")
	c.URL("NATS_URL", "http://x:1", "nats", "tls")
	c.URL("S3_ENDPOINT", "", "http")
	c.Check(false, "S3_BUCKET", "set %s or %s", "S3_BUCKET", "BLOB_DIR")
	err := c.Err()
	for _, want := range []string{"AML_API_URL is required", "AML_ISSUER_URL", "NATS_URL", "S3_BUCKET"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "S3_ENDPOINT") {
		t.Errorf("empty optional URL reported: %v", err)
	}
}

func TestRedactURLs(t *testing.T) {
	got := RedactURLs("nats://alice:s3cret@a:4222, nats://b:4222")
	// The whole userinfo goes: a user alone may be a token.
	if strings.Contains(got, "s3cret") || strings.Contains(got, "alice") || got != "nats://redacted@a:4222,nats://b:4222" {
		t.Fatalf("RedactURLs = %q", got)
	}
}

func TestFuncSecretFuncSwitch(t *testing.T) {
	type c struct {
		Size   int
		Key    string
		On, Up bool
	}
	load := func(env map[string]string, args ...string) (c, string, error) {
		var got c
		var out strings.Builder
		s := New("test", MapLookup(env), &out)
		even := func(p *int) func(string) error {
			return func(x string) error {
				n, err := strconv.Atoi(x)
				if err != nil || n%2 != 0 {
					return fmt.Errorf("%q is not an even number", x)
				}
				*p = n
				return nil
			}
		}
		s.Func("SIZE", "size", "2", "an even size", even(&got.Size))
		s.SecretFunc("KEY", "key", "a key", func(x string) error {
			if !strings.HasPrefix(x, "k_") {
				return errors.New("want k_<something>")
			}
			got.Key = x
			return nil
		})
		s.Switch(&got.On, "ON", "on", false, "a switch")
		s.Switch(&got.Up, "UP", "up", true, "a switch on by default")
		err := s.Parse(args)
		return got, out.String() + s.Markdown(), err
	}

	got, _, err := load(nil)
	if err != nil || got != (c{Size: 2, Up: true}) {
		t.Fatalf("defaults: %+v, %v", got, err)
	}
	got, _, err = load(map[string]string{"SIZE": "4", "KEY": "k_env", "ON": "true"}, "--size=6", "--up=false")
	if err != nil || got != (c{Size: 6, Key: "k_env", On: true}) {
		t.Fatalf("env and flags: %+v, %v", got, err)
	}
	got, _, err = load(nil, "--on", "--key", "k_flag")
	if err != nil || !got.On || got.Key != "k_flag" {
		t.Fatalf("--on alone: %+v, %v", got, err)
	}
	if _, _, err := load(nil, "--on", "false"); err != nil {
		t.Fatalf("--on false: %v", err) // "false" is a positional argument
	}

	_, _, err = load(map[string]string{"SIZE": "3", "KEY": "nope", "ON": "maybe"})
	for _, want := range []string{`SIZE (--size): "3" is not an even number`, "KEY (--key): want k_", "ON (--on)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
	_, _, err = load(nil, "--size", "5")
	if err == nil || !strings.Contains(err.Error(), "-size") || !strings.Contains(err.Error(), "SIZE") || !strings.Contains(err.Error(), `"5"`) {
		t.Errorf("bad flag: %v", err)
	}

	_, help, err := load(map[string]string{"KEY": "k_hunter2"}, "--help")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	if strings.Contains(help, "hunter2") {
		t.Errorf("help shows the secret:\n%s", help)
	}
	for _, want := range []string{"env SIZE) (default 2)", "env KEY", "  -on\n", "env UP) (default true)", "| `SIZE` | `--size` | `2` |"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
}

// TestNATSHelpShowsNoSecret: --help and a flag error print every setting
// with its value as default; the NATS group's URL is redacted and a token
// in NATS_USER is never shown.
func TestNATSHelpShowsNoSecret(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"--help"}} {
		var out strings.Builder
		n := natsconn.Settings{URL: "nats://127.0.0.1:4222"}
		s := New("test", MapLookup(map[string]string{
			"NATS_URL": "nats://alice:s3cret@h:4222", "NATS_USER": "TOK3N", "NATS_PASSWORD": "",
		}), &out)
		s.NATS(&n)
		_ = s.Parse(args)
		for _, secret := range []string{"s3cret", "alice", "TOK3N"} {
			if strings.Contains(out.String(), secret) {
				t.Fatalf("%v shows %q:\n%s", args, secret, out.String())
			}
		}
		if !strings.Contains(out.String(), "nats://redacted@h:4222") && args[0] == "--help" {
			t.Fatalf("--help does not show the redacted URL:\n%s", out.String())
		}
		if n.URL != "nats://alice:s3cret@h:4222" || n.User != "TOK3N" {
			t.Fatalf("settings read %+v", n)
		}
	}
}

// TestSettingsListWhatHelpShows: Settings lists every setting as
// registered, a secret without its value, for a program's own help.
func TestSettingsListWhatHelpShows(t *testing.T) {
	var prefix, secret string
	s := New("test", MapLookup(map[string]string{"AML_SUBJECT_PREFIX": "tenant_a", "KEY": "hunter2"}), io.Discard)
	s.SubjectPrefix(&prefix)
	s.Secret(&secret, "KEY", "key", "a key")
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	got := s.Settings()
	want := []Setting{
		{Env: "AML_SUBJECT_PREFIX", Flag: "subject-prefix", Default: "aml", Usage: "prefix of every NATS subject and stream name"},
		{Env: "KEY", Flag: "key", Usage: "a key", Secret: true},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || prefix != "tenant_a" || secret != "hunter2" {
		t.Errorf("Settings() = %+v (read %q, %q), want %+v", got, prefix, secret, want)
	}
}

// TestContractSettings: the contract's variables default to package
// kybflow's constants, and their checks name them.
func TestContractSettings(t *testing.T) {
	var prefix, keys, source string
	s := New("test", MapLookup(nil), io.Discard)
	s.SubjectPrefix(&prefix)
	s.KeyPrefix(&keys)
	s.EventSource(&source)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if prefix != kybflow.DefaultPrefix || keys != kybflow.DefaultKeyPrefix || source != kybflow.DefaultSource {
		t.Errorf("defaults %q %q %q", prefix, keys, source)
	}
	var ck Checker
	ck.SubjectPrefix(prefix)
	ck.KeyPrefix(keys)
	ck.EventSource(source)
	if err := ck.Err(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	ck.SubjectPrefix("a b")
	ck.KeyPrefix("../up")
	ck.EventSource("")
	err := ck.Err()
	for _, want := range []string{"AML_SUBJECT_PREFIX: ", "BLOB_KEY_PREFIX: ", "EVENT_SOURCE is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not say %q", err, want)
		}
	}
}
