package devmode

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/cli"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/worker"
)

// sameNameOtherSetting are variables two binaries read with different
// meanings on purpose, each with why.
var sameNameOtherSetting = map[string]string{
	"AML_CLIENT_ID":     "the sandbox accepts the client the worker presents: one pair configures both",
	"AML_CLIENT_SECRET": "the sandbox accepts the client the worker presents: one pair configures both",
	"WEBHOOK_SECRET":    "the sandbox signs webhooks with the secret the bridge verifies them with",
	// The sandbox sends the token the bridge takes (bearer-token webhooks).
	"WEBHOOK_BEARER_TOKEN": "the sandbox sends the bearer token the bridge takes",
}

// TestSharedSettingsAreDeclaredOnce: a variable that several binaries read
// has one flag and one meaning in all of them (its group declares it once;
// only its default may be a binary's own), in the worker, the bridge,
// development mode, the sandbox and every amlctl command.
func TestSharedSettingsAreDeclaredOnce(t *testing.T) {
	type decl struct{ binary, flag, usage string }
	seen := map[string][]decl{}
	for _, b := range []struct {
		name     string
		register func(*envconfig.Set)
	}{
		{"worker", func(s *envconfig.Set) { new(worker.Config).Settings(s) }},
		{"webhook-bridge", func(s *envconfig.Set) { new(bridge.Config).Settings(s) }},
		{"kybflow-dev", func(s *envconfig.Set) { new(Config).Settings(s) }},
		{"aml-sandbox", func(s *envconfig.Set) {
			new(sandbox.Config).Settings(s)
			l := sandbox.Logging()
			l.RegisterLevel(s)
		}},
	} {
		s := envconfig.New(b.name, envconfig.MapLookup(nil), io.Discard)
		b.register(s)
		for _, e := range s.Settings() {
			seen[e.Env] = append(seen[e.Env], decl{b.name, e.Flag, e.Usage})
		}
	}
	// amlctl's, from each command's help: "  VAR (--flag)", then its
	// meaning, ending with its default or "(never shown)".
	helpVar := regexp.MustCompile(`(?m)^  ([A-Z][A-Z0-9_]*) \(--([a-z0-9-]+)\)\n\s+(.*)$`)
	suffix := regexp.MustCompile(` \((default [^()]*|never shown)\)$`)
	for _, command := range []string{"lookup", "events", "get", "erase"} {
		var out bytes.Buffer
		if code := cli.Main(context.Background(), []string{command, "--help"}, envconfig.MapLookup(nil), &out, io.Discard); code != 0 {
			t.Fatalf("amlctl %s --help: exit %d", command, code)
		}
		for _, m := range helpVar.FindAllStringSubmatch(out.String(), -1) {
			seen[m[1]] = append(seen[m[1]], decl{"amlctl " + command, m[2], suffix.ReplaceAllString(m[3], "")})
		}
	}
	shared := 0
	for env, ds := range seen {
		if len(ds) < 2 || sameNameOtherSetting[env] != "" {
			continue
		}
		shared++
		for _, d := range ds[1:] {
			if d.flag != ds[0].flag || d.usage != ds[0].usage {
				t.Errorf("%s is declared twice:\n  %s: --%s %q\n  %s: --%s %q", env, ds[0].binary, ds[0].flag, ds[0].usage, d.binary, d.flag, d.usage)
			}
		}
	}
	if shared < 20 {
		t.Errorf("only %d variables are read by more than one binary: has the help's form changed?", shared)
	}
	for env, why := range sameNameOtherSetting {
		if len(seen[env]) < 2 {
			t.Errorf("sameNameOtherSetting lists %s (%s), which only %d binary reads: remove it", env, why, len(seen[env]))
		}
	}
}

// TestSettingsDefaults: development mode's own defaults, set on the
// groups before they are registered.
func TestSettingsDefaults(t *testing.T) {
	var c Config
	s := envconfig.New("kybflow-dev", envconfig.MapLookup(nil), io.Discard)
	c.Settings(s)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "warn" || c.Log.Format != "text" || c.Storage.Bucket != "kybflow-dev" || !c.Storage.Secure ||
		c.Sandbox.ReadyAfter != sandbox.DefaultReadyAfter {
		t.Errorf("defaults: %+v", c)
	}
	if got := strings.Join(s.Vars(), ","); strings.Contains(got, "BLOB_DIR") || strings.Contains(got, "S3_PART_SIZE") {
		t.Errorf("development mode reads %s; its results go to its data folder, or to S3 with the worker's defaults", got)
	}
}
