package e2e

// A nats-server process as an operator would run it for kybflow: TLS with
// client certificates, JetStream, and the users of the shipped
// deploy/nats/kybflow-users.conf, changed only as its comments say an
// operator would: one more tenant's platform (a copy of the platform
// block), and the worker authenticated by an NKey instead of a password.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/natsconn"
)

// shippedUsers is the users file the repository ships.
const shippedUsers = "../deploy/nats/kybflow-users.conf"

// securedNATS is the server and what each role connects with.
type securedNATS struct {
	URL       string            // tls://127.0.0.1:<port>
	CA        *testCA           // signs the server's and the clients' certificates
	Untrusted *testCA           // signs nothing the server presents
	Passwords map[string]string // by user; the worker has none (NKey)
	Seed      string            // the worker's NKey seed
	SeedFile  string
	Log       *proc // the server; its output is its log
	dir       string
	certs     map[string][2]string // a client certificate and key, by user
}

// Users of the server: the shipped ones and a second tenant's platform.
var securedUsers = []string{"kybflow-worker", "kybflow-bridge", "kybflow-platform", "kybflow-platform-acme", "kybflow-subscriber", "kybflow-operator", "kybflow-console"}

// startSecuredNATS writes the certificates, the users and the server's
// configuration, and starts nats-server from bin.
func startSecuredNATS(t *testing.T, bin string) *securedNATS {
	t.Helper()
	dir := t.TempDir()
	s := &securedNATS{dir: dir, Passwords: map[string]string{}, certs: map[string][2]string{}}
	s.CA = newCA(t, dir, "ca")
	s.Untrusted = newCA(t, dir, "other-ca")
	serverCert, serverKey := s.CA.issue(t, dir, "server", true)
	for _, u := range securedUsers {
		c, k := s.CA.issue(t, dir, u, false)
		s.certs[u] = [2]string{c, k}
	}

	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	s.Seed, s.SeedFile = string(seed), filepath.Join(dir, "worker.nk")
	if err := os.WriteFile(s.SeedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kybflow-users.conf"), []byte(operatorUsers(t, pub)), 0o600); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	conf := fmt.Sprintf(`listen: %q
server_name: kybflow-secured
jetstream { store_dir: %q }
tls {
  cert_file: %q
  key_file: %q
  ca_file: %q
  verify: true
  timeout: 2
}
authorization {
  include ./kybflow-users.conf
}
`, addr, filepath.Join(dir, "jetstream"), serverCert, serverKey, s.CA.File)
	confFile := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, u := range securedUsers {
		if u == "kybflow-worker" {
			continue
		}
		s.Passwords[u] = secret(t)
		env = append(env, passwordVar(u)+"="+s.Passwords[u])
	}
	s.URL = "tls://" + addr
	s.Log = start(t, "nats-server", filepath.Join(bin, "nats-server"), env, "-c", confFile)
	testenv.Eventually(t, 20*time.Second, func() error {
		select {
		case err := <-s.Log.done:
			s.Log.done <- err // for start's cleanup, which waits for the exit
			t.Fatalf("nats-server exited: %v\n%s", err, s.Log.out.String())
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	return s
}

// operatorUsers is the shipped users file with the worker authenticated by
// the NKey pub, and a copy of the platform block for tenant acme, made as
// the file's comments tell an operator to.
func operatorUsers(t *testing.T, pub string) string {
	t.Helper()
	b, err := os.ReadFile(shippedUsers)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	replaceOnce := func(text, old, new string) string {
		t.Helper()
		if n := strings.Count(text, old); n != 1 {
			t.Fatalf("%s: %q appears %d times, want once (the file and this test have drifted)", shippedUsers, old, n)
		}
		return strings.Replace(text, old, new, 1)
	}
	text = replaceOnce(text, "user: kybflow-worker\n    password: $KYBFLOW_WORKER_PASSWORD\n", "nkey: "+pub+"\n")

	const open, end = "  {\n    user: kybflow-platform\n", "\n  }\n"
	i := strings.Index(text, open)
	j := strings.Index(text[i:], end)
	if i < 0 || j < 0 {
		t.Fatalf("%s: no kybflow-platform block", shippedUsers)
	}
	block := text[i : i+j+len(end)]
	acme := strings.NewReplacer(
		"user: kybflow-platform\n", "user: kybflow-platform-acme\n",
		"$KYBFLOW_PLATFORM_PASSWORD", "$KYBFLOW_PLATFORM_ACME_PASSWORD",
		`"aml.commands.lookup.platform"`, `"aml.commands.lookup.acme"`,
		`"aml.commands.monitor.platform"`, `"aml.commands.monitor.acme"`,
		"aml.events.platform.", "aml.events.acme.",
		"_INBOX_kybflow_platform_platform.", "_INBOX_kybflow_platform_acme.",
	).Replace(block)
	if rest := strings.NewReplacer("kybflow-platform-acme", "", "_INBOX_kybflow_platform_acme", "").Replace(acme); strings.Contains(rest, "platform") {
		t.Fatalf("the copy of the platform block for tenant acme is not what the comment says:\n%s", acme)
	}
	return text[:i+j+len(end)] + "\n" + acme + text[i+j+len(end):]
}

// passwordVar is the environment variable of user's password:
// kybflow-platform-acme -> KYBFLOW_PLATFORM_ACME_PASSWORD.
func passwordVar(user string) string {
	return strings.ToUpper(strings.ReplaceAll(user, "-", "_")) + "_PASSWORD"
}

// secret is a random password.
func secret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b)
}

// env is what a program of user is given, in the documented variables
// only: the URL, the CA, its client certificate, its credentials (the
// worker's NKey seed file, the others' password) and, when not the
// program's default, its inbox prefix.
func (s *securedNATS) env(user, inboxPrefix string) []string {
	env := []string{"NATS_URL=" + s.URL, "NATS_CA=" + s.CA.File, "NATS_CERT=" + s.certs[user][0], "NATS_KEY=" + s.certs[user][1]}
	if user == "kybflow-worker" {
		env = append(env, "NATS_NKEY="+s.SeedFile)
	} else {
		env = append(env, "NATS_USER="+user, "NATS_PASSWORD="+s.Passwords[user])
	}
	if inboxPrefix != "" {
		env = append(env, "NATS_INBOX_PREFIX="+inboxPrefix)
	}
	return env
}

// settings are env's, for a connection made in the test.
func (s *securedNATS) settings(user, inboxPrefix string) natsconn.Settings {
	n := natsconn.Settings{URL: s.URL, CA: s.CA.File, Cert: s.certs[user][0], Key: s.certs[user][1], InboxPrefix: inboxPrefix}
	if user == "kybflow-worker" {
		n.NKey = s.SeedFile
	} else {
		n.User, n.Password = user, s.Passwords[user]
	}
	return n
}

// secrets are every secret of the server's users, for the check that no
// log shows one.
func (s *securedNATS) secrets() []string {
	out := []string{s.Seed}
	for _, p := range s.Passwords {
		out = append(out, p)
	}
	return out
}
