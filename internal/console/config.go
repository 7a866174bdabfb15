package console

import (
	"fmt"
	"net"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/logging"
	"github.com/kybflow/kybflow/natsconn"
)

// Config is the console's configuration. The groups other binaries read
// too are declared by the packages that own them (NATS, Storage, Log; see
// internal/envconfig, Groups); Listen and PublicURL are the console's.
type Config struct {
	NATS natsconn.Settings
	// Storage is where the worker stored the results: BLOB_DIR, or how S3
	// is reached (each artifact names its bucket).
	Storage       blob.Settings
	SubjectPrefix string
	// Listen is the address of the pages (CONSOLE_LISTEN).
	Listen string
	// PublicURL is the URL users reach the console at, behind a proxy or an
	// ingress (CONSOLE_PUBLIC_URL); "" is http://<Listen>.
	PublicURL string
	// Auth is the OIDC login (OIDC_*, CONSOLE_SESSION_*); without it the
	// console takes only a loopback CONSOLE_LISTEN.
	Auth auth.Settings
	// Audit is the audit stream's retention (AUDIT_*).
	Audit audit.Settings
	// Actions are the worker's settings the actions read (erasure, budget).
	Actions ActionSettings
	Log     logging.Settings
}

// DefaultListen is CONSOLE_LISTEN's default: loopback, the one address
// the console takes without a login.
const DefaultListen = "127.0.0.1:8090"

// Settings registers the console's settings on s, with their variables,
// flags and defaults.
func (c *Config) Settings(s *envconfig.Set) {
	c.NATS = natsconn.Settings{URL: nats.DefaultURL, InboxPrefix: "_INBOX_kybflow_console"}
	s.NATS(&c.NATS)
	s.String(&c.Listen, "CONSOLE_LISTEN", "listen", DefaultListen,
		"address the console's pages are served on; without OIDC settings only a loopback address is taken")
	s.String(&c.PublicURL, "CONSOLE_PUBLIC_URL", "public-url", "", "URL users reach the console at, behind a proxy or an ingress (empty: http://CONSOLE_LISTEN)")
	c.Storage = blob.DefaultSettings()
	c.Storage.RegisterParts(s, blob.PartS3|blob.PartBucket|blob.PartDir) // the bucket: for erasures only
	s.SubjectPrefix(&c.SubjectPrefix)
	c.Auth = auth.DefaultSettings()
	c.Auth.Register(s)
	c.Audit = audit.DefaultSettings()
	c.Audit.Register(s)
	c.Actions.Register(s)
	c.Log = logging.DefaultSettings()
	c.Log.Register(s)
}

// Validate checks the configuration; every problem names its variable.
func (c *Config) Validate() error {
	var ck envconfig.Checker
	ck.Add(c.NATS.Validate())
	ck.Require("CONSOLE_LISTEN", c.Listen)
	if c.Listen != "" {
		_, _, err := net.SplitHostPort(c.Listen)
		ck.Check(err == nil, "CONSOLE_LISTEN", "%q is not host:port (e.g. %s)", c.Listen, DefaultListen)
	}
	ck.URL("CONSOLE_PUBLIC_URL", c.PublicURL, "https", "http")
	c.checkStorage(&ck)
	ck.SubjectPrefix(c.SubjectPrefix)
	c.Auth.Check(&ck)
	c.Audit.Check(&ck)
	c.Actions.Check(&ck)
	c.Log.Check(&ck)
	return ck.Err()
}

// checkStorage checks what the console reads documents with: BLOB_DIR, or
// S3's endpoint and keys (not the bucket: each artifact names its own).
func (c *Config) checkStorage(ck *envconfig.Checker) {
	st := c.Storage
	if st.Dir != "" {
		ck.Check(st.Endpoint == "", "BLOB_DIR", "set BLOB_DIR or the S3_* variables, not both")
		return
	}
	ck.Check(st.Endpoint != "", "S3_ENDPOINT", "S3_ENDPOINT is required to read the documents (or BLOB_DIR, the worker's result directory)")
	if st.Endpoint != "" {
		ck.Require("S3_ACCESS_KEY", st.AccessKey)
		ck.Require("S3_SECRET_KEY", st.SecretKey)
		ck.Check(!strings.Contains(st.Endpoint, "://"), "S3_ENDPOINT", "%q must be host[:port] without scheme (set S3_SECURE for HTTPS)", st.Endpoint)
	}
}

// Loopback reports whether Listen is a loopback address (127.0.0.0/8, ::1
// or localhost): only there does the console run without a login.
func (c *Config) Loopback() bool { return loopback(c.Listen) }

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkLocal refuses a console without a login on an address others can
// reach.
func (c *Config) checkLocal() error {
	if c.Loopback() {
		return nil
	}
	return fmt.Errorf("CONSOLE_LISTEN: %q is not a loopback address: without OIDC settings (a login) the console only listens on loopback, e.g. %s", c.Listen, DefaultListen)
}
