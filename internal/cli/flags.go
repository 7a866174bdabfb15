package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kybflow/kybflow/internal/envconfig"
)

// flags is one command's command line: its own flags, and the settings it
// reads from the environment, each of which is also a flag (envconfig),
// registered on set by the groups that declare them. It keeps what --help
// needs to explain both.
type flags struct {
	name, usage, about string
	stdout             io.Writer
	set                *envconfig.Set
	fs                 *flag.FlagSet
	own                []string // the command's own flags, in help order
}

func (a *app) newFlags(name, usage, about string) *flags {
	set := envconfig.New("amlctl "+name, a.lookup, io.Discard)
	fs := set.FlagSet()
	fs.Usage = func() {} // errors and help are printed by finish and printHelp
	return &flags{name: name, usage: usage, about: about, stdout: a.stdout, set: set, fs: fs}
}

// The command's own flags.

func (f *flags) String(p *string, name, def, usage string) {
	f.fs.StringVar(p, name, def, usage)
	f.own = append(f.own, name)
}

func (f *flags) Bool(p *bool, name string, def bool, usage string) {
	f.fs.BoolVar(p, name, def, usage)
	f.own = append(f.own, name)
}

func (f *flags) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	f.fs.DurationVar(p, name, def, usage)
	f.own = append(f.own, name)
}

// List registers a flag that may be repeated and may hold comma-separated
// values: --report aml --report certificate_of_incorporation, or
// --report aml,certificate_of_incorporation.
func (f *flags) List(p *[]string, name, usage string) {
	f.fs.Var((*listValue)(p), name, usage)
	f.own = append(f.own, name)
}

type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }

func (l *listValue) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// isSet reports whether the command line set the flag name.
func (f *flags) isSet(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// parse parses args, allowing flags after the positional arguments
// (amlctl lookup 923609016 --wait); "--" ends the flags. It returns the
// positional arguments. --help prints the help and returns errHelpShown;
// every other problem, in a flag or a variable, is a usageError.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.printHelp(f.stdout)
				return nil, errHelpShown
			}
			return nil, &usageError{msg: err.Error()}
		}
		rest := f.fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// The variables' problems, each naming its variable.
	if err := f.set.Parse(nil); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	return pos, nil
}

// printHelp explains the command, every flag and every variable it reads,
// with their defaults.
func (f *flags) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", f.usage, strings.TrimSpace(f.about))
	if len(f.own) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		for _, name := range f.own {
			fl := f.fs.Lookup(name)
			placeholder, usage := flag.UnquoteUsage(fl)
			head := "  --" + name
			if placeholder != "" {
				head += " " + placeholder
			}
			fmt.Fprintln(w, head)
			if def := fl.DefValue; def != "" && def != "false" && def != "0s" {
				usage += " (default " + def + ")"
			}
			fmt.Fprintf(w, "        %s\n", usage)
		}
	}
	if env := f.set.Settings(); len(env) > 0 {
		fmt.Fprint(w, "\nEnvironment (each variable can also be given as the flag named with it, which wins):\n")
		for _, e := range env {
			fmt.Fprintf(w, "  %s (--%s)\n", e.Env, e.Flag)
			usage := e.Usage
			switch {
			case e.Secret:
				usage += " (never shown)"
			case e.Default != "":
				usage += " (default " + e.Default + ")"
			}
			fmt.Fprintf(w, "        %s\n", usage)
		}
	}
}

// wrap breaks s into lines of at most width characters, between words.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && n+1+len(w) > width {
			b.WriteByte('\n')
			n = 0
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
