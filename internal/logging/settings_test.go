package logging

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/envconfig"
)

func TestSettingsReadAndCheckTheirVariables(t *testing.T) {
	parse := func(l Settings, level bool, env map[string]string, args ...string) (Settings, *envconfig.Set, error) {
		t.Helper()
		s := envconfig.New("test", envconfig.MapLookup(env), io.Discard)
		if level {
			l.RegisterLevel(s)
		} else {
			l.Register(s)
		}
		return l, s, s.Parse(args)
	}
	l, s, err := parse(DefaultSettings(), false, nil)
	if err != nil || l.Format != DefaultFormat || l.Level != DefaultLevel {
		t.Fatalf("defaults: %+v, %v", l, err)
	}
	if got := strings.Join(s.Vars(), ","); got != "LOG_FORMAT,LOG_LEVEL" {
		t.Errorf("variables %s", got)
	}
	if l, _, err = parse(DefaultSettings(), false, map[string]string{"LOG_FORMAT": "text"}, "--log-level", "debug"); err != nil || l.Format != "text" || l.Level != "debug" {
		t.Errorf("set: %+v, %v", l, err)
	}
	// A bad value is reported as it is read, naming the variable.
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"LOG_LEVEL": "loud"}, nil, `LOG_LEVEL (--log-level): "loud" is not debug`},
		{nil, []string{"--log-format", "xml"}, `LOG_FORMAT: "xml" is not json or text`},
	} {
		if _, _, err := parse(DefaultSettings(), false, tc.env, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want %q", tc.env, tc.args, err, tc.want)
		}
	}
	// A prefix names the variables; RegisterLevel reads the level alone.
	sandbox := Settings{Prefix: "SANDBOX_", Format: "text", Level: DefaultLevel}
	l, s, err = parse(sandbox, true, map[string]string{"SANDBOX_LOG_LEVEL": "warn", "LOG_LEVEL": "debug", "LOG_FORMAT": "json"})
	if err != nil || l.Level != "warn" || l.Format != "text" || strings.Join(s.Vars(), ",") != "SANDBOX_LOG_LEVEL" {
		t.Errorf("prefixed: %+v %v, %v", l, s.Vars(), err)
	}
	if _, _, err = parse(sandbox, true, map[string]string{"SANDBOX_LOG_LEVEL": "loud"}); err == nil || !strings.Contains(err.Error(), "SANDBOX_LOG_LEVEL") {
		t.Errorf("prefixed bad level: %v", err)
	}
	// Check and New name the variable of a value set in code.
	var ck envconfig.Checker
	Settings{Prefix: "SANDBOX_", Level: "loud", Format: "xml"}.Check(&ck)
	if err := ck.Err(); err == nil || !strings.Contains(err.Error(), "SANDBOX_LOG_LEVEL") || !strings.Contains(err.Error(), "SANDBOX_LOG_FORMAT") {
		t.Errorf("check: %v", err)
	}
	var buf bytes.Buffer
	log, err := Settings{Format: "text", Level: "warn"}.New(&buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "msg=shown") {
		t.Errorf("text at warn wrote %q", out)
	}
	if _, err := (Settings{}).New(io.Discard); err != nil {
		t.Errorf("the zero Settings (json, info): %v", err)
	}
}
