// Package envconfig reads a binary's configuration from environment
// variables and command-line flags: a flag beats its variable, which beats
// the default. Every setting is registered once with its variable name, its
// flag name, its default and its help text, so `--help` documents both.
//
// Errors name the variable and the flag, and all of them are reported at
// once. The environment is read through an injected lookup function, so
// tests pass a map instead of calling os.Setenv.
//
// # Groups
//
// Settings that several binaries read are declared once, as a group, by the
// package that owns what they configure: natsconn (the NATS connection),
// blob (where results are stored), amlapi (the AML API client), logging,
// opshttp (the ops endpoint) and sandbox. A group is a struct of the
// values, its defaults as the package's exported constants (and a
// DefaultSettings function that holds them), a Register(*Set) method that
// registers each variable with the value the struct holds as its default,
// and a Check(*Checker) method that validates them, each problem naming its
// variable. A binary's one Config composes the groups it needs: it sets a
// group to its defaults, changes the few it wants otherwise (as each binary
// gives NATS its own inbox prefix), registers it, and its Validate calls
// the group's Check. The group of a package that cannot import this one is
// registered here: natsconn's, which is public (Set.NATS), and the
// contract's, since package kybflow imports nothing (contract.go).
package envconfig

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kybflow/kybflow/natsconn"
)

// Lookup reads an environment variable, like os.LookupEnv.
type Lookup func(name string) (string, bool)

// MapLookup is a Lookup over a map, for tests.
func MapLookup(m map[string]string) Lookup {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

// Set is a set of settings of one binary.
type Set struct {
	fs      *flag.FlagSet
	lookup  Lookup
	errs    []error
	entries []entry
}

type entry struct {
	env, flag, def, usage string
	secret                bool
}

// New makes a Set for the named binary. Its --help output goes to out.
func New(name string, lookup Lookup, out io.Writer) *Set {
	s := &Set{fs: flag.NewFlagSet(name, flag.ContinueOnError), lookup: lookup}
	s.fs.SetOutput(out)
	return s
}

// FlagSet is the underlying flag set, for a custom Usage.
func (s *Set) FlagSet() *flag.FlagSet { return s.fs }

// SetUsage makes --help print intro, then every flag with its variable.
func (s *Set) SetUsage(intro string) {
	s.fs.Usage = func() {
		fmt.Fprint(s.fs.Output(), intro)
		s.fs.PrintDefaults()
	}
}

// value is a flag.Value that parses with parse and records which variable it
// came from, so its error names both.
type value struct {
	text   string
	secret bool                // never shown, not even as the flag's default
	show   func(string) string // what is shown of text, when set (a URL redacted)
	isBool bool                // the flag may stand alone (Switch)
	parse  func(string) error
}

// IsBoolFlag tells the flag package that --name alone means --name=true.
func (v *value) IsBoolFlag() bool { return v.isBool }

func (v *value) String() string {
	if v.secret {
		return ""
	}
	if v.show != nil {
		return v.show(v.text)
	}
	return v.text
}

func (v *value) Set(x string) error { v.text = x; return v.parse(x) }

func (s *Set) register(env, flagName, def, usage string, secret bool, parse func(string) error) {
	s.registerShown(env, flagName, def, usage, secret, nil, parse)
}

// registerShown is register with what may be shown of the value in help
// and errors (show nil: the value).
func (s *Set) registerShown(env, flagName, def, usage string, secret bool, show func(string) string, parse func(string) error) {
	s.entries = append(s.entries, entry{env: env, flag: flagName, def: def, usage: usage, secret: secret})
	text := def
	if v, ok := s.lookup(env); ok && v != "" {
		text = v
		if err := parse(v); err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s (--%s): %w", env, flagName, err))
		}
	} else if def != "" {
		if err := parse(def); err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s (--%s): default %q: %w", env, flagName, def, err))
		}
	}
	// The flag package prints the default itself (the variable's value when
	// it is set; never a secret's: see value.String).
	help := fmt.Sprintf("%s (env %s)", usage, env)
	s.fs.Var(&value{text: text, secret: secret, show: show, parse: func(x string) error {
		if err := parse(x); err != nil {
			return fmt.Errorf("%s: %w", env, err)
		}
		return nil
	}}, flagName, help)
}

// String registers a string setting.
func (s *Set) String(p *string, env, flagName, def, usage string) {
	s.register(env, flagName, def, usage, false, func(x string) error { *p = x; return nil })
}

// Secret registers a string setting whose value is never shown in help.
func (s *Set) Secret(p *string, env, flagName, usage string) {
	s.register(env, flagName, "", usage, true, func(x string) error { *p = x; return nil })
}

// Bool registers a boolean setting (true/false/1/0).
func (s *Set) Bool(p *bool, env, flagName string, def bool, usage string) {
	s.register(env, flagName, strconv.FormatBool(def), usage, false, func(x string) error {
		b, err := strconv.ParseBool(x)
		if err != nil {
			return fmt.Errorf("%q is not true or false", x)
		}
		*p = b
		return nil
	})
}

// Int registers an integer setting.
func (s *Set) Int(p *int, env, flagName string, def int, usage string) {
	s.register(env, flagName, strconv.Itoa(def), usage, false, func(x string) error {
		n, err := strconv.Atoi(x)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", x)
		}
		*p = n
		return nil
	})
}

// Float registers a floating-point setting.
func (s *Set) Float(p *float64, env, flagName string, def float64, usage string) {
	s.register(env, flagName, strconv.FormatFloat(def, 'g', -1, 64), usage, false, func(x string) error {
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", x)
		}
		*p = f
		return nil
	})
}

// Duration registers a duration setting (Go syntax: 300ms, 2s, 1h30m).
func (s *Set) Duration(p *time.Duration, env, flagName string, def time.Duration, usage string) {
	s.register(env, flagName, def.String(), usage, false, func(x string) error {
		d, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 30s or 2h", x)
		}
		*p = d
		return nil
	})
}

// List registers a comma- or space-separated list setting.
func (s *Set) List(p *[]string, env, flagName string, def []string, usage string) {
	s.register(env, flagName, strings.Join(def, ","), usage, false, func(x string) error {
		*p = strings.FieldsFunc(x, func(r rune) bool { return r == ',' || r == ' ' })
		return nil
	})
}

// Func registers a setting of a type or with checks of the binary's own:
// parse reads the default (unless empty), then the variable or the flag,
// and its errors are reported naming the variable and the flag, like the
// others'. Include the bad value in parse's errors.
func (s *Set) Func(env, flagName, def, usage string, parse func(string) error) {
	s.register(env, flagName, def, usage, false, parse)
}

// SecretFunc is Func for a secret: its value is never shown in help, and it
// has no default.
func (s *Set) SecretFunc(env, flagName, usage string, parse func(string) error) {
	s.register(env, flagName, "", usage, true, parse)
}

// Switch registers a boolean setting like Bool, except that its flag may
// also stand alone: --name means --name=true (then a value must be joined
// with =, as in --name=false).
func (s *Set) Switch(p *bool, env, flagName string, def bool, usage string) {
	s.Bool(p, env, flagName, def, usage)
	s.fs.Lookup(flagName).Value.(*value).isBool = true
}

// Parse parses the command line and returns every problem found in the
// environment or the flags, joined, each naming its variable. A request for
// help returns flag.ErrHelp.
func (s *Set) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		s.errs = append(s.errs, err)
	}
	return errors.Join(s.errs...)
}

// Args are the arguments left after the flags.
func (s *Set) Args() []string { return s.fs.Args() }

// Vars lists the environment variables of the settings, in order.
func (s *Set) Vars() []string {
	out := make([]string, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.env
	}
	return out
}

// Setting is a registered setting as help shows it.
type Setting struct {
	Env, Flag string
	// Default is the registered default as text; empty for a secret.
	Default string
	Usage   string
	Secret  bool
}

// Settings lists the registered settings, in order, for a program's own
// help (amlctl's).
func (s *Set) Settings() []Setting {
	out := make([]Setting, len(s.entries))
	for i, e := range s.entries {
		def := e.def
		if e.secret {
			def = ""
		}
		out[i] = Setting{Env: e.env, Flag: e.flag, Default: def, Usage: e.usage, Secret: e.secret}
	}
	return out
}

// Markdown renders the settings as a Markdown table, for the README.
func (s *Set) Markdown() string {
	var b strings.Builder
	b.WriteString("| variable | flag | default | meaning |\n| --- | --- | --- | --- |\n")
	for _, e := range s.Settings() {
		fmt.Fprintf(&b, "| `%s` | `--%s` | %s | %s |\n", e.Env, e.Flag, codeOrEmpty(e.Default), e.Usage)
	}
	return b.String()
}

func codeOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// Checker collects validation problems of a parsed configuration, each
// naming its variable.
type Checker struct{ errs []error }

// Require reports env as missing when value is empty.
func (c *Checker) Require(env, value string) {
	if value == "" {
		c.errs = append(c.errs, fmt.Errorf("%s is required", env))
	}
}

// Check reports a problem with env when ok is false.
func (c *Checker) Check(ok bool, env, format string, args ...any) {
	if !ok {
		c.errs = append(c.errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, args...)))
	}
}

// URL reports env as invalid unless value is empty or an absolute URL with
// one of the schemes.
func (c *Checker) URL(env, value string, schemes ...string) {
	if value == "" {
		return
	}
	u, err := url.Parse(value)
	if err != nil || u.Host == "" {
		c.errs = append(c.errs, fmt.Errorf("%s: %q is not an absolute URL", env, value))
		return
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return
		}
	}
	c.errs = append(c.errs, fmt.Errorf("%s: %q must use %s", env, value, strings.Join(schemes, " or ")))
}

// Add reports problems found elsewhere (each already naming its variable).
func (c *Checker) Add(err error) {
	if err != nil {
		c.errs = append(c.errs, err)
	}
}

// Err returns every problem, joined, or nil.
func (c *Checker) Err() error { return errors.Join(c.errs...) }

// RedactURLs hides the whole userinfo of every URL in a comma-separated
// list, however it is spelled (natsconn.RedactURL), for errors and logs.
func RedactURLs(list string) string { return natsconn.RedactURL(list) }

// NATS registers the NATS connection settings (the NATS CLI's variables,
// natsconn.Settings.Vars) on s, with the values n holds as their defaults:
// one group, the same in every binary. --help and flag errors show their
// values as Var.Show has them (a URL redacted), a secret's never.
func (s *Set) NATS(n *natsconn.Settings) {
	for _, v := range n.Vars() {
		if v.Secret {
			s.Secret(v.Value, v.Env, v.Flag, v.Usage)
			continue
		}
		p := v.Value
		s.registerShown(v.Env, v.Flag, *v.Value, v.Usage, false, v.Show, func(x string) error { *p = x; return nil })
	}
}
