package logging

// The logging group of settings (LOG_FORMAT, LOG_LEVEL), declared here once
// for every binary (see internal/envconfig, Groups).

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/kybflow/kybflow/internal/envconfig"
)

// Defaults of Settings.
const (
	DefaultFormat = "json"
	DefaultLevel  = "info"
)

// Settings are how a binary logs: LOG_FORMAT and LOG_LEVEL.
type Settings struct {
	// Prefix is put before the variables' names. The sandbox's is
	// "SANDBOX_": it runs beside the worker in one environment (tests,
	// development) and must not take the worker's LOG_LEVEL.
	Prefix string
	// Format is json or text (LOG_FORMAT); "" is json.
	Format string
	// Level is debug, info, warn or error (LOG_LEVEL); "" is info.
	Level string
}

// DefaultSettings are JSON at info, from LOG_FORMAT and LOG_LEVEL.
func DefaultSettings() Settings { return Settings{Format: DefaultFormat, Level: DefaultLevel} }

// FormatEnv is the name of the format's variable.
func (l Settings) FormatEnv() string { return l.Prefix + "LOG_FORMAT" }

// LevelEnv is the name of the level's variable.
func (l Settings) LevelEnv() string { return l.Prefix + "LOG_LEVEL" }

// Register registers LOG_FORMAT and LOG_LEVEL, with the values l holds as
// their defaults. Each is checked as it is read.
func (l *Settings) Register(s *envconfig.Set) {
	s.Func(l.FormatEnv(), "log-format", l.Format, "log format: json or text", func(v string) error {
		if err := checkFormat(v); err != nil {
			return err
		}
		l.Format = v
		return nil
	})
	l.RegisterLevel(s)
}

// RegisterLevel registers LOG_LEVEL alone, for a program whose format is
// its own (Format, text for people: development mode, the sandbox).
func (l *Settings) RegisterLevel(s *envconfig.Set) {
	s.Func(l.LevelEnv(), "log-level", l.Level, "log level: debug, info, warn or error", func(v string) error {
		if _, err := parseLevel(v); err != nil {
			return err
		}
		l.Level = v
		return nil
	})
}

// Check reports a bad format or level, naming its variable.
func (l Settings) Check(ck *envconfig.Checker) {
	if err := checkFormat(l.Format); err != nil {
		ck.Check(false, l.FormatEnv(), "%v", err)
	}
	if _, err := parseLevel(l.Level); err != nil {
		ck.Check(false, l.LevelEnv(), "%v", err)
	}
}

// New returns the logger of l, writing to w; its errors name the variable.
func (l Settings) New(w io.Writer) (*slog.Logger, error) {
	var ck envconfig.Checker
	l.Check(&ck)
	if err := ck.Err(); err != nil {
		return nil, err
	}
	lv, _ := parseLevel(l.Level)
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(l.Format, "text") {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

func checkFormat(v string) error {
	switch strings.ToLower(v) {
	case "json", "text", "":
		return nil
	}
	return fmt.Errorf("%q is not json or text", v)
}

func parseLevel(v string) (slog.Level, error) {
	if v == "" {
		v = DefaultLevel
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(v)); err != nil {
		return 0, fmt.Errorf("%q is not debug, info, warn or error", v)
	}
	return lv, nil
}
