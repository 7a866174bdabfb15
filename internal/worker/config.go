package worker

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/logging"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/opshttp"
	"github.com/kybflow/kybflow/internal/reportsig"
	"github.com/kybflow/kybflow/natsconn"
)

// Roles a worker can take; all of them by default. Splitting them lets an
// operator scale session opening and result handling apart.
const (
	RoleCommands = "commands"
	RoleChecks   = "checks"
	RoleWebhooks = "webhooks"
	RoleMonitors = "monitors"
)

// Topology modes (TOPOLOGY_MODE): who makes the streams, the bucket and
// the consumers.
const (
	// TopologyManage: the worker creates or updates them at start, so its
	// NATS user needs the rights to (the default: one user for everything).
	TopologyManage = "manage"
	// TopologyVerify: the operator makes them (`worker topology`, with its
	// own NATS user); the worker only checks that they exist, waiting for
	// them up to STARTUP_TIMEOUT, and never makes a consumer again.
	TopologyVerify = "verify"
)

// Config is the worker's configuration: one struct, loaded from the
// environment and flags, validated at start. The groups other binaries
// read too are declared by the packages that own them (NATS, AML, Storage,
// Ops, Log; see internal/envconfig, Groups); the rest are the worker's.
type Config struct {
	NATS          natsconn.Settings
	SubjectPrefix string

	AML amlapi.Settings

	WebhookURL string

	Storage   blob.Settings
	KeyPrefix string

	Ops opshttp.Settings

	Roles          []string
	Concurrency    int
	PollInitial    time.Duration
	PollMax        time.Duration
	PollMaxWebhook time.Duration
	MaxWait        time.Duration
	OpenLease      time.Duration
	DrainTimeout   time.Duration
	AckWait        time.Duration
	HandlerTimeout time.Duration
	StartupTimeout time.Duration

	AccessRightsInterval time.Duration

	// SessionBudget caps the sessions all replicas open together, per
	// window (SESSION_BUDGET; none: unlimited).
	SessionBudget []budget.Limit

	// Reports name the CAs a report's signer must chain to
	// (REPORT_TRUST_CA); ReportTrust is what Validate loaded from them,
	// or, set in code (development mode, tests), the store itself.
	Reports     reportsig.Settings
	ReportTrust *reportsig.Trust
	// ReportSignaturePolicy is what a report whose signature is not valid
	// does (REPORT_SIGNATURE_POLICY): flag (stored, its status on the
	// artifact) or fail (the lookup fails, code report_signature_invalid).
	ReportSignaturePolicy string

	TopologyMode   string
	StreamReplicas int
	EventsMaxAge   time.Duration
	DeadLetterAge  time.Duration
	WebhookDeliver int
	LookupsMaxAge  time.Duration
	Duplicates     time.Duration
	EventSource    string

	CommandsMaxBytes   int64
	ChecksMaxBytes     int64
	WebhooksMaxBytes   int64
	EventsMaxBytes     int64
	DeadLetterMaxBytes int64
	LookupsMaxBytes    int64
	CommandMaxMsgSize  int64
	WebhookMaxMsgSize  int64

	Log logging.Settings
}

// Default bounds of the streams and the bucket, in bytes. JetStream
// reserves a stream's MaxBytes on every server that holds a replica when it
// makes the stream, so together (5 GiB) they must fit each server's
// max_file_store; they are sized for about 50,000 lookups a day of the
// usual size (measured: 2.5 KiB of events and a 1 KiB record per lookup
// with a little metadata; metadata of up to 16 KiB is echoed in both).
// What a full one does is said in internal/streams (Topology.streams):
// only webhooks are dropped; anything else is refused and retried, so
// work is delayed, never lost.
const (
	// A command is at most kybflow.MaxCommandSize (64 KiB, its metadata at
	// most 16 KiB); 8 KiB more is room for headers (Nats-Msg-Id,
	// traceparent and tracestate, a platform's own). A larger one would fail
	// as invalid_command anyway: it is refused at once instead.
	defaultCommandMaxMsgSize = kybflow.MaxCommandSize + 8<<10
	// The bridge takes bodies of up to WEBHOOK_MAX_BODY (64 KiB) and adds
	// under 1 KiB of headers; twice that leaves room to raise the body
	// limit without touching this.
	defaultWebhookMaxMsgSize = 128 << 10
	// Commands wait here only while no worker takes them (an outage of the
	// AML API or of the workers): 512 MiB is days of commands, about a
	// million of the usual size or 7,000 of the largest.
	defaultCommandsMaxBytes = 512 << 20
	// One message of a few hundred bytes per open session, for at most
	// LOOKUP_MAX_WAIT: a few MiB at the sizing above; 128 MiB is margin.
	defaultChecksMaxBytes = 128 << 20
	// Webhooks are taken in seconds and kept 24 hours at most: 128 MiB
	// holds a day of them with the webhooks role down.
	defaultWebhooksMaxBytes = 128 << 20
	// Every event for EVENTS_MAX_AGE (7 days): 2.5 KiB a lookup is 120,000
	// lookups a day; 4 KiB (more reports, more metadata) 75,000.
	defaultEventsMaxBytes = 2 << 30
	// Dead letters should be none; 256 MiB is thousands of the largest
	// commands for DEADLETTER_MAX_AGE (30 days).
	defaultDeadLetterMaxBytes = 256 << 20
	// A record of about 1 KiB per lookup for LOOKUP_RETENTION (30 days):
	// 2 GiB is 2 million lookups, 70,000 a day.
	defaultLookupsMaxBytes = 2 << 30
)

// Settings registers every setting with its variable, flag and default.
func (c *Config) Settings(s *envconfig.Set) {
	c.NATS = natsconn.Settings{URL: nats.DefaultURL, InboxPrefix: "_INBOX_kybflow_worker"}
	s.NATS(&c.NATS)
	s.SubjectPrefix(&c.SubjectPrefix)

	c.AML = amlapi.DefaultSettings()
	c.AML.Register(s)

	s.Duration(&c.AccessRightsInterval, "ACCESS_RIGHTS_INTERVAL", "access-rights-interval", 10*time.Minute, "how often the National Registry access is read from the AML API (shown in /metrics and /readyz)")
	s.String(&c.WebhookURL, "AML_WEBHOOK_URL", "webhook-url", "", "public base URL of the webhook bridge, ending in /webhooks; empty: no webhooks, poll only")

	c.Storage = blob.DefaultSettings()
	c.Storage.Register(s)
	s.KeyPrefix(&c.KeyPrefix)

	c.Ops = opshttp.DefaultSettings()
	c.Ops.Register(s)

	s.List(&c.Roles, "WORKER_ROLES", "roles", []string{RoleCommands, RoleChecks, RoleWebhooks, RoleMonitors}, "which consumers this process runs: commands, checks, webhooks, monitors (the runs of monitors' schedules)")
	s.Int(&c.Concurrency, "WORKER_CONCURRENCY", "concurrency", 8, "messages handled at once, per role")
	s.Duration(&c.PollInitial, "POLL_INITIAL", "poll-initial", 2*time.Second, "first wait between session status polls; doubles each poll")
	s.Duration(&c.PollMax, "POLL_MAX", "poll-max", 30*time.Second, "longest wait between polls without webhooks")
	s.Duration(&c.PollMaxWebhook, "POLL_MAX_WITH_WEBHOOKS", "poll-max-with-webhooks", 2*time.Minute, "longest wait between polls when webhooks are configured")
	s.Duration(&c.MaxWait, "LOOKUP_MAX_WAIT", "lookup-max-wait", 6*time.Hour, "how long a lookup may wait for its results before it fails as expired")
	s.Duration(&c.OpenLease, "OPEN_LEASE", "open-lease", 15*time.Second, "lease of a replica opening a session, renewed every third of it while it lives: how soon another replica takes over from one that died")
	s.Duration(&c.AckWait, "ACK_WAIT", "ack-wait", 15*time.Second, "how long a message taken by a worker that died stays invisible before another worker gets it (live workers renew it every third)")
	s.Duration(&c.HandlerTimeout, "HANDLER_TIMEOUT", "handler-timeout", 15*time.Minute, "longest a worker spends on one message (storing a large report included) before it gives it up and retries it")
	s.Duration(&c.StartupTimeout, "STARTUP_TIMEOUT", "startup-timeout", 2*time.Minute, "how long start-up waits for NATS (retrying the streams, bucket and consumers) and for S3 (retrying the results bucket) before the worker gives up")
	s.Duration(&c.DrainTimeout, "DRAIN_TIMEOUT", "drain-timeout", 20*time.Second, "on SIGTERM, how long in-flight work may run before it is released")
	s.Func("SESSION_BUDGET", "session-budget", "", "cap on the paid sessions all workers together open, as <sessions>/<window> limits, e.g. 100/1h,1000/24h (empty: unlimited); a lookup over it waits for the next window, never fails; monitor runs leave a tenth of each window to on-demand lookups",
		func(v string) (err error) { c.SessionBudget, err = budget.ParseLimits(v); return err })

	c.Reports.Register(s)
	s.String(&c.ReportSignaturePolicy, "REPORT_SIGNATURE_POLICY", "report-signature-policy", PolicyFlag, "what a report whose signature is not valid does: flag (stored, its signature status on the artifact and the object) or fail (the lookup fails with code report_signature_invalid; needs REPORT_TRUST_CA)")

	s.String(&c.TopologyMode, "TOPOLOGY_MODE", "topology-mode", TopologyManage, "manage: create or update the streams, bucket and consumers at start; verify: only check that they exist (the operator makes them with `worker topology`), so the worker's NATS user needs no rights to manage them")
	s.Int(&c.StreamReplicas, "STREAM_REPLICAS", "stream-replicas", 1, "replicas of every stream and bucket (3 on a production cluster)")
	s.Duration(&c.EventsMaxAge, "EVENTS_MAX_AGE", "events-max-age", 7*24*time.Hour, "how long events are kept in the events stream")
	s.Duration(&c.DeadLetterAge, "DEADLETTER_MAX_AGE", "deadletter-max-age", 30*24*time.Hour, "how long dead-lettered commands are kept in AML_DEADLETTER")
	s.Int(&c.WebhookDeliver, "WEBHOOK_MAX_DELIVER", "webhook-max-deliver", 10, "deliveries of one webhook before it is dropped (polling finds the result anyway)")
	s.Duration(&c.LookupsMaxAge, "LOOKUP_RETENTION", "lookup-retention", 30*24*time.Hour, "how long a lookup's state is kept after its last change: a command reusing its lookupId within it opens nothing")
	s.Duration(&c.Duplicates, "DUPLICATE_WINDOW", "duplicate-window", 2*time.Hour, "how long a Nats-Msg-Id is remembered for deduplication")
	s.EventSource(&c.EventSource)

	s.Bytes(&c.CommandsMaxBytes, "COMMANDS_MAX_BYTES", "commands-max-bytes", defaultCommandsMaxBytes, "bytes AML_COMMANDS may hold; once full, new commands are refused (Submit: ErrCommandsFull), none dropped")
	s.Bytes(&c.ChecksMaxBytes, "CHECKS_MAX_BYTES", "checks-max-bytes", defaultChecksMaxBytes, "bytes AML_CHECKS may hold (a small message per open session); once full, commands that opened a session are retried until there is room")
	s.Bytes(&c.WebhooksMaxBytes, "WEBHOOKS_MAX_BYTES", "webhooks-max-bytes", defaultWebhooksMaxBytes, "bytes AML_WEBHOOKS may hold; once full, the oldest webhook is dropped (polling finds the result anyway)")
	s.Bytes(&c.EventsMaxBytes, "EVENTS_MAX_BYTES", "events-max-bytes", defaultEventsMaxBytes, "bytes AML_EVENTS may hold within EVENTS_MAX_AGE; once full, events wait to be published (retried) until old ones expire")
	s.Bytes(&c.DeadLetterMaxBytes, "DEADLETTER_MAX_BYTES", "deadletter-max-bytes", defaultDeadLetterMaxBytes, "bytes AML_DEADLETTER may hold; once full, unattributable commands stay in AML_COMMANDS, retried, until there is room")
	s.Bytes(&c.LookupsMaxBytes, "LOOKUPS_MAX_BYTES", "lookups-max-bytes", defaultLookupsMaxBytes, "bytes the AML_LOOKUPS bucket may hold within LOOKUP_RETENTION; once full, new lookups wait (their commands are retried), those in flight go on")
	s.Bytes(&c.CommandMaxMsgSize, "COMMAND_MAX_MSG_SIZE", "command-max-msg-size", defaultCommandMaxMsgSize, "largest command AML_COMMANDS takes, headers included; a larger one is refused when published")
	s.Bytes(&c.WebhookMaxMsgSize, "WEBHOOK_MAX_MSG_SIZE", "webhook-max-msg-size", defaultWebhookMaxMsgSize, "largest webhook AML_WEBHOOKS takes, headers included: keep it above the bridge's WEBHOOK_MAX_BODY plus 4KiB")

	c.Log = logging.DefaultSettings()
	c.Log.Register(s)
}

// Defaults is the configuration with every setting at its default, for
// programs that build one in code (development mode, tests) and set only
// what differs.
func Defaults() Config {
	var c Config
	s := envconfig.New("worker", envconfig.MapLookup(nil), io.Discard)
	c.Settings(s)
	if err := s.Parse(nil); err != nil {
		panic("worker: the defaults do not parse: " + err.Error()) // a programming error
	}
	return c
}

// Validate reports every problem, each naming its variable.
func (c *Config) Validate() error {
	var ck envconfig.Checker
	c.checkTopology(&ck)
	c.AML.Check(&ck)
	ck.Check(c.AML.RetryBudget < c.HandlerTimeout, "AML_RETRY_MAX_ELAPSED", "must be shorter than HANDLER_TIMEOUT (%s), got %s", c.HandlerTimeout, c.AML.RetryBudget)
	ck.Check(c.AccessRightsInterval >= time.Second, "ACCESS_RIGHTS_INTERVAL", "must be at least 1s, got %s", c.AccessRightsInterval)
	ck.URL("AML_WEBHOOK_URL", c.WebhookURL, "https", "http")
	if u, err := url.Parse(c.WebhookURL); c.WebhookURL != "" && err == nil {
		ck.Check(u.RawQuery == "" && u.Fragment == "", "AML_WEBHOOK_URL", "%q must have no query or fragment: the lookupId is appended as a path segment", c.WebhookURL)
	}
	c.Storage.Check(&ck)
	ck.KeyPrefix(c.KeyPrefix)
	c.Ops.Check(&ck)
	c.Log.Check(&ck)

	ck.Check(len(c.Roles) > 0, "WORKER_ROLES", "at least one role is needed")
	for _, r := range c.Roles {
		ck.Check(slices.Contains([]string{RoleCommands, RoleChecks, RoleWebhooks, RoleMonitors}, r), "WORKER_ROLES", "unknown role %q; want commands, checks, webhooks or monitors", r)
	}
	ck.Check(c.Concurrency > 0, "WORKER_CONCURRENCY", "must be positive, got %d", c.Concurrency)
	ck.Check(c.PollInitial > 0, "POLL_INITIAL", "must be positive")
	ck.Check(c.PollMax >= c.PollInitial, "POLL_MAX", "must be at least POLL_INITIAL (%s)", c.PollInitial)
	ck.Check(c.PollMaxWebhook >= c.PollInitial, "POLL_MAX_WITH_WEBHOOKS", "must be at least POLL_INITIAL (%s)", c.PollInitial)
	ck.Check(c.MaxWait > 0, "LOOKUP_MAX_WAIT", "must be positive")
	ck.Check(c.OpenLease >= 3*time.Second, "OPEN_LEASE", "must be at least 3s (it is renewed every third of it, and a renewal is a write to a replicated bucket), got %s", c.OpenLease)
	ck.Check(c.TopologyMode == TopologyManage || c.TopologyMode == TopologyVerify, "TOPOLOGY_MODE", "%q is not manage or verify", c.TopologyMode)
	ck.Check(c.DrainTimeout > 0, "DRAIN_TIMEOUT", "must be positive")
	ck.Check(c.HandlerTimeout > c.OpenLease && c.HandlerTimeout > c.AML.RetryBudget, "HANDLER_TIMEOUT", "must be longer than OPEN_LEASE (%s) and AML_RETRY_MAX_ELAPSED (%s): cutting a create-session call short could open a second session; got %s", c.OpenLease, c.AML.RetryBudget, c.HandlerTimeout)
	ck.EventSource(c.EventSource)
	c.checkReports(&ck)
	return ck.Err()
}

// The values of REPORT_SIGNATURE_POLICY.
const (
	PolicyFlag = "flag"
	PolicyFail = "fail"
)

// checkReports loads the trust store (unless set in code) and checks the
// policy against it.
func (c *Config) checkReports(ck *envconfig.Checker) {
	known := c.ReportSignaturePolicy == PolicyFlag || c.ReportSignaturePolicy == PolicyFail
	ck.Check(known, "REPORT_SIGNATURE_POLICY", "%q is not flag or fail", c.ReportSignaturePolicy)
	if c.ReportTrust == nil {
		t, err := c.Reports.Load()
		if err != nil {
			ck.Check(false, "REPORT_TRUST_CA", "%v", err)
			return
		}
		c.ReportTrust = t
	}
	if c.ReportSignaturePolicy == PolicyFail {
		ck.Check(c.ReportTrust.Len() > 0, "REPORT_SIGNATURE_POLICY", "fail needs REPORT_TRUST_CA: without a trust store no report is valid")
	}
}

// ValidateTopology reports the problems of the settings `worker topology`
// reads, each naming its variable: how to reach NATS, and what the
// streams, the bucket and the consumers are made of. The others (AML_*,
// S3_*, ...) are not looked at, so the operator's job needs none of them.
func (c *Config) ValidateTopology() error {
	var ck envconfig.Checker
	c.checkTopology(&ck)
	return ck.Err()
}

// checkTopology checks NATS's settings and every setting the topology is
// made of (Config.topology); Validate and ValidateTopology both call it,
// so that the worker and `worker topology` check them alike.
func (c *Config) checkTopology(ck *envconfig.Checker) {
	if err := c.NATS.Validate(); err != nil {
		ck.Add(err)
	}
	ck.SubjectPrefix(c.SubjectPrefix)
	ck.Check(c.StartupTimeout > 0, "STARTUP_TIMEOUT", "must be positive")
	ck.Check(c.AckWait >= 3*time.Second, "ACK_WAIT", "must be at least 3s (handlers send a keep-alive every third of it), got %s", c.AckWait)
	ck.Check(c.StreamReplicas == 1 || c.StreamReplicas == 3 || c.StreamReplicas == 5, "STREAM_REPLICAS", "must be 1, 3 or 5, got %d", c.StreamReplicas)
	ck.Check(c.EventsMaxAge > 0, "EVENTS_MAX_AGE", "must be positive")
	ck.Check(c.DeadLetterAge > 0, "DEADLETTER_MAX_AGE", "must be positive")
	ck.Check(c.WebhookDeliver > 0, "WEBHOOK_MAX_DELIVER", "must be positive, got %d", c.WebhookDeliver)
	// A record must outlive the wait for its results (nothing rewrites it
	// while waiting) and the duplicate window (or a reused lookupId would be
	// a new lookup whose check and events the stream drops as duplicates).
	ck.Check(c.LookupsMaxAge >= lookups.Outlived(c.MaxWait) && c.LookupsMaxAge >= c.Duplicates, "LOOKUP_RETENTION",
		"must be at least LOOKUP_MAX_WAIT + 1h (%s) and DUPLICATE_WINDOW (%s), got %s", lookups.Outlived(c.MaxWait), c.Duplicates, c.LookupsMaxAge)
	ck.Check(c.Duplicates > 0 && c.Duplicates <= c.EventsMaxAge, "DUPLICATE_WINDOW", "must be positive and at most EVENTS_MAX_AGE")
	c.validateBounds(ck)
}

// validateBounds checks the bounds of the streams and the bucket.
func (c *Config) validateBounds(ck *envconfig.Checker) {
	for _, b := range []struct {
		env string
		n   int64
	}{
		{"COMMANDS_MAX_BYTES", c.CommandsMaxBytes}, {"CHECKS_MAX_BYTES", c.ChecksMaxBytes}, {"WEBHOOKS_MAX_BYTES", c.WebhooksMaxBytes},
		{"EVENTS_MAX_BYTES", c.EventsMaxBytes}, {"DEADLETTER_MAX_BYTES", c.DeadLetterMaxBytes}, {"LOOKUPS_MAX_BYTES", c.LookupsMaxBytes},
	} {
		ck.Check(b.n >= 1<<20, b.env, "must be at least 1MiB, got %s", envconfig.FormatBytes(b.n))
	}
	// NATS takes no message over 64 MiB (max_payload's ceiling).
	const maxMsg = 64 << 20
	minCommand := int64(kybflow.MaxCommandSize + 1<<10)
	ck.Check(c.CommandMaxMsgSize >= minCommand && c.CommandMaxMsgSize <= maxMsg, "COMMAND_MAX_MSG_SIZE",
		"must be from %s (the largest valid command, %d bytes, and its headers) to 64MiB, got %s", envconfig.FormatBytes(minCommand), kybflow.MaxCommandSize, envconfig.FormatBytes(c.CommandMaxMsgSize))
	ck.Check(c.WebhookMaxMsgSize >= 4<<10 && c.WebhookMaxMsgSize <= maxMsg, "WEBHOOK_MAX_MSG_SIZE", "must be from 4KiB to 64MiB, got %s", envconfig.FormatBytes(c.WebhookMaxMsgSize))
	ck.Check(c.CommandMaxMsgSize <= c.CommandsMaxBytes, "COMMAND_MAX_MSG_SIZE", "must be at most COMMANDS_MAX_BYTES (%s)", envconfig.FormatBytes(c.CommandsMaxBytes))
	ck.Check(c.WebhookMaxMsgSize <= c.WebhooksMaxBytes, "WEBHOOK_MAX_MSG_SIZE", "must be at most WEBHOOKS_MAX_BYTES (%s)", envconfig.FormatBytes(c.WebhooksMaxBytes))
}

func (c *Config) hasRole(r string) bool { return slices.Contains(c.Roles, r) }

func (c *Config) String() string {
	return fmt.Sprintf("worker(roles=%s api=%s webhooks=%t store=%s)", strings.Join(c.Roles, ","), c.AML.APIURL, c.WebhookURL != "", c.storeName())
}

func (c *Config) storeName() string {
	if c.Storage.Dir != "" {
		return "dir:" + c.Storage.Dir
	}
	return "s3:" + c.Storage.Bucket
}
