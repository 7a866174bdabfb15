package docs

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/testenv"
)

// TestNscCommandsGrantWhatTheUsersFileDoes keeps operations.md's nsc
// commands (operator mode) equal to deploy/nats/kybflow-users.conf, as
// nats-server reads it.
func TestNscCommandsGrantWhatTheUsersFileDoes(t *testing.T) {
	fromFile := usersFile(t)
	fromDoc := nscUsers(t)
	if len(fromDoc) == 0 {
		t.Fatal("operations.md has no nsc add user commands")
	}
	for name, want := range fromFile {
		got, ok := fromDoc[name]
		if !ok {
			t.Errorf("operations.md has no nsc command for %s", name)
			continue
		}
		for kind, subjects := range want {
			if !slices.Equal(got[kind], subjects) {
				t.Errorf("%s %s: nsc grants %v, the users file %v", name, kind, got[kind], subjects)
			}
		}
	}
	for name := range fromDoc {
		if _, ok := fromFile[name]; !ok {
			t.Errorf("operations.md adds user %s, which the users file does not have", name)
		}
	}
}

// grants are a user's subjects by kind (allow-pub, deny-pub, allow-sub,
// deny-sub), sorted.
type grants map[string][]string

// usersFile reads the shipped users as nats-server does, included in a
// server's authorization block (testenv.ShippedUsers).
func usersFile(t *testing.T) map[string]grants {
	users := testenv.ShippedUsers(t, "../deploy/nats/kybflow-users.conf")
	out := map[string]grants{}
	for _, u := range users {
		if u.Password != "pw-"+strings.ToUpper(strings.TrimPrefix(u.Username, "kybflow-")) {
			t.Errorf("%s: password %q is not $KYBFLOW_<ROLE>_PASSWORD", u.Username, u.Password)
		}
		g := grants{}
		if p := u.Permissions.Publish; p != nil {
			g["allow-pub"], g["deny-pub"] = sorted(p.Allow), sorted(p.Deny)
		}
		if s := u.Permissions.Subscribe; s != nil {
			g["allow-sub"], g["deny-sub"] = sorted(s.Allow), sorted(s.Deny)
		}
		out[u.Username] = g
	}
	return out
}

var (
	nscCommand = regexp.MustCompile(`(?m)^nsc add user -a \S+ -n (\S+)(.*)$`)
	nscFlag    = regexp.MustCompile(`--((?:allow|deny)-(?:pub|sub)) '([^']*)'`)
)

// nscUsers reads operations.md's nsc add user commands.
func nscUsers(t *testing.T) map[string]grants {
	doc, err := os.ReadFile("operations.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]grants{}
	joined := strings.ReplaceAll(string(doc), " \\\n", " ") // continuation lines
	for _, m := range nscCommand.FindAllStringSubmatch(joined, -1) {
		g := grants{}
		for _, f := range nscFlag.FindAllStringSubmatch(m[2], -1) {
			g[f[1]] = append(g[f[1]], strings.Split(f[2], ",")...)
		}
		for k := range g {
			g[k] = sorted(g[k])
		}
		out[m[1]] = g
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s) == 0 {
		return nil
	}
	return s
}
