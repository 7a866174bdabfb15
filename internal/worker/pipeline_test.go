package worker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// cmd is a lookup command as a platform writes it.
type cmd struct {
	LookupID       string          `json:"lookupId,omitempty"`
	Type           string          `json:"type,omitempty"`
	Country        string          `json:"country,omitempty"`
	IdentifierType string          `json:"identifierType,omitempty"`
	Identifier     string          `json:"identifier,omitempty"`
	Expands        []string        `json:"expands,omitempty"`
	Reports        []string        `json:"reports,omitempty"`
	Language       string          `json:"language,omitempty"`
	CorrelationID  string          `json:"correlationId,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
}

func TestDuplicateCommandsOpenOneSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(false, 2)
	c := cmd{LookupID: "twice", Type: "organization", Country: "NO", Identifier: "988077917", Reports: []string{"aml"}}
	// Re-published without Nats-Msg-Id, so the stream cannot drop them:
	// the worker's own record must.
	for range 5 {
		e.publish(c, "")
	}
	e.terminal("twice", 30*time.Second)
	// And once more after it completed.
	e.publish(c, "")
	e.marker() // its command queues behind the last copy's
	e.assertExactlyOnce("twice")
	if n := e.sessions("organization", "NO", "988077917"); n != 1 {
		t.Fatalf("%d sessions opened for 5+1 copies of one command, want 1", n)
	}
}

func TestForgedWebhooksAreRejectedOrIgnored(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{ReadyAfter: 500 * time.Millisecond}})
	e.start(true, 1)
	c := cmd{LookupID: "forged", Type: "organization", Country: "NO", Identifier: "923609016"}
	e.publish(c, "")

	body, _ := json.Marshal(amlapi.Webhook{SessionID: "not-the-session", Event: amlapi.EventAllDone, Timestamp: amlapi.NewTime(time.Now())})
	// No signature, a wrong secret: 401, nothing published.
	if got := e.postWebhook("forged", body, http.Header{}); got != http.StatusUnauthorized {
		t.Errorf("unsigned webhook: %d, want 401", got)
	}
	h := http.Header{}
	amlapi.SetWebhookHeaders(h, "Z3Vlc3NlZC1zZWNyZXQ=", "msg_forged", time.Now(), body)
	if got := e.postWebhook("forged", body, h); got != http.StatusUnauthorized {
		t.Errorf("forged webhook: %d, want 401", got)
	}
	// Validly signed (a leaked secret) but naming another session, before the
	// results are ready: the worker confirms with a status call and ignores it.
	h = http.Header{}
	amlapi.SetWebhookHeaders(h, testWebhookSecret, "msg_leaked", time.Now(), body)
	if got := e.postWebhook("forged", body, h); got != http.StatusOK {
		t.Errorf("signed webhook: %d, want 200", got)
	}
	ev := e.terminal("forged", 30*time.Second)
	e.verifyArtifacts(completedData(t, ev), "json")
	e.assertExactlyOnce("forged")
}

func TestInvalidIdentifierFailsWithoutASession(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(false, 1)
	e.publish(cmd{LookupID: "bad-digit", Type: "organization", Country: "NO", Identifier: "923609017", CorrelationID: "c-9"}, "")
	ev := e.terminal("bad-digit", 10*time.Second)
	d := failedData(t, ev)
	if d.Code != kybflow.CodeInvalidIdentifier || d.Retryable || d.CorrelationID != "c-9" {
		t.Errorf("failed data %+v, want invalid_identifier, not retryable, correlationId echoed", d)
	}
	if want := "923609017"; !strings.Contains(d.Reason, want) {
		t.Errorf("reason %q does not name the identifier %s", d.Reason, want)
	}
	if n := e.totalSessions(); n != 0 {
		t.Errorf("%d sessions opened for an invalid identifier", n)
	}
	e.assertExactlyOnce("bad-digit")
}

func TestMalformedCommandsNeverStickTheConsumer(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(false, 1)
	e.publish("this is not json", "")
	e.publish(`{"lookupId": "no-type", "identifier": "923609016"}`, "")
	e.publish(`{"lookupId": "bad type", "type": "organization"}`, "")
	e.publish(`{"lookupId": "wrong-country", "type": "organization", "country": "DK", "identifier": "923609016"}`, "")
	e.publish(cmd{LookupID: "after-garbage", Type: "organization", Identifier: "923609016"}, "")

	for id, field := range map[string]string{"no-type": "type", "wrong-country": "country"} {
		d := failedData(t, e.terminal(id, 10*time.Second))
		if d.Code != kybflow.CodeInvalidCommand || !strings.Contains(d.Reason, field) {
			t.Errorf("%s: failed %+v, want invalid_command naming %q", id, d, field)
		}
	}
	// The valid command behind the garbage completes.
	completedData(t, e.terminal("after-garbage", 30*time.Second))

	// Unattributable commands are dead letters with their reason.
	s, err := e.js.Stream(t.Context(), "AML_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("%d dead letters, want 2 (not JSON; lookupId with a space)", info.State.Msgs)
	}
	// Commands are handled concurrently, so the dead letters come in any order.
	found := false
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(kybflow.HeaderDeadLetterReason) == "" {
			t.Errorf("dead letter %q has no reason: %v", m.Data, m.Header)
		}
		if string(m.Data) == "this is not json" {
			found = true
		}
	}
	if !found {
		t.Error("the command that is not JSON was not dead-lettered as it was")
	}
}

// Without National Registry access the API leaves citizenship and
// birthplace out of a beneficial owners result, and the lookup still
// completes: its completed event says which requested expands were left
// out. With access, it says nothing.
func TestOmittedExpandsAreInTheCompletedEvent(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{NationalRegistry: amlapi.AccessMissing}})
	e.start(false, 1)
	e.publish(cmd{LookupID: "nr-missing", Type: "beneficial_owners", Identifier: "974760673", Expands: []string{"birthplace", "citizenship"}}, "")
	d := completedData(t, e.terminal("nr-missing", 30*time.Second))
	if fmt.Sprint(d.OmittedExpands) != "[birthplace citizenship]" {
		t.Errorf("omittedExpands %v, want [birthplace citizenship]", d.OmittedExpands)
	}
	e.verifyArtifacts(d, "json", "report:aml")

	g := newEnv(t, envOptions{})
	g.start(false, 1)
	g.publish(cmd{LookupID: "nr-granted", Type: "beneficial_owners", Identifier: "974760673", Expands: []string{"citizenship"}}, "")
	if d := completedData(t, g.terminal("nr-granted", 30*time.Second)); d.OmittedExpands != nil {
		t.Errorf("omittedExpands %v with access granted, want none", d.OmittedExpands)
	}
}

// The National Registry access is read again and again, and shown in
// /metrics and in the body of /readyz without making the worker unready.
func TestAccessRightsAreReadPeriodicallyAndShown(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{NationalRegistry: amlapi.AccessMissing}})
	e.start(false, 0)
	cfg := e.config(false)
	cfg.AccessRightsInterval = time.Second
	app, _ := e.startWorkerApp(cfg)
	testenv.Eventually(t, 20*time.Second, func() error {
		if n := e.sb.Sandbox().Inspect().Requests["GET "+amlapi.AccessRightsPath]; n < 3 {
			return fmt.Errorf("access rights read %d times", n)
		}
		return nil
	})
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + app.OpsAddr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if code, body := get("/readyz"); code != 200 || !strings.Contains(body, "national registry access: MISSING (informational)") {
			return fmt.Errorf("/readyz %d: %s", code, body)
		}
		return nil
	})
	if _, body := get("/metrics"); !strings.Contains(body, `kybflow_national_registry_access{access="MISSING"} 1`) ||
		!strings.Contains(body, `kybflow_national_registry_access{access="GRANTED"} 0`) {
		t.Errorf("/metrics lacks the access gauge:\n%s", body)
	}
}

// A command without a readable lookupId that is too large to be kept whole
// with the dead-letter headers (published at the server's max_payload) is
// dead-lettered truncated, with its size and digest, and leaves the
// commands stream: it is never retried forever. (The commands stream takes
// one that large only with COMMAND_MAX_MSG_SIZE raised to max_payload.)
func TestOversizedUnattributableCommandIsDeadLetteredTruncated(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *Config) { c.CommandMaxMsgSize = 1 << 20 }}) // the server's max_payload
	e.start(false, 1)
	nc, err := nats.Connect(e.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	big := bytes.Repeat([]byte("x"), int(nc.MaxPayload())-64) // fits alone, not with the headers
	e.publish(big, "")
	e.publish(cmd{LookupID: "after-big", Type: "organization", Identifier: "923609016"}, "")
	completedData(t, e.terminal("after-big", 30*time.Second))

	s, err := e.js.Stream(t.Context(), "AML_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	var m *jetstream.RawStreamMsg
	testenv.Eventually(t, 30*time.Second, func() error {
		m, err = s.GetMsg(t.Context(), 1)
		return err
	})
	sum := sha256.Sum256(big)
	if m.Header.Get(kybflow.HeaderDeadLetterTruncated) != "true" || m.Header.Get(kybflow.HeaderDeadLetterSize) != strconv.Itoa(len(big)) ||
		m.Header.Get(kybflow.HeaderDeadLetterSHA256) != hex.EncodeToString(sum[:]) || len(m.Data) != kybflow.DeadLetterKeep {
		t.Fatalf("dead letter %d bytes, headers %v; want the first %d bytes with size and sha256", len(m.Data), m.Header, kybflow.DeadLetterKeep)
	}
	cs, err := e.js.Stream(t.Context(), "AML_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		info, err := cs.Info(t.Context())
		if err == nil && info.State.Msgs != 0 {
			err = fmt.Errorf("%d commands left in AML_COMMANDS", info.State.Msgs)
		}
		return err
	})
}

// A personal identification number typed into any field of a command (a
// careless client) appears in no log line of the worker, and only in the
// failed event of the field it belongs to: the identifier.
func TestPersonalDataCanariesStayOutOfTheLogs(t *testing.T) {
	const canary = "01017012345" // shaped like a Norwegian national identity number
	logs := &testenv.Buffer{}
	e := newEnv(t, envOptions{})
	e.logs = logs
	e.start(false, 1)
	cases := []cmd{
		{LookupID: "pii-type", Type: canary, Identifier: "923609016"},
		{LookupID: "pii-country", Type: "organization", Country: canary, Identifier: "923609016"},
		{LookupID: "pii-language", Type: "organization", Identifier: "923609016", Language: canary},
		{LookupID: "pii-expands", Type: "organization", Identifier: "923609016", Expands: []string{canary}},
		{LookupID: "pii-reports", Type: "organization", Identifier: "923609016", Reports: []string{canary}},
		{LookupID: "pii-idtype", Type: "organization", IdentifierType: canary, Identifier: "923609016"},
		{LookupID: "pii-identifier", Type: "organization", Identifier: canary},
	}
	for _, c := range cases {
		e.publish(c, c.LookupID)
	}
	e.publish(`{"lookupId": "pii `+canary+`", "type": "organization"}`, "") // an invalid lookupId: a dead letter
	for _, c := range cases {
		d := failedData(t, e.terminal(c.LookupID, 30*time.Second))
		if c.LookupID != "pii-identifier" && strings.Contains(d.Reason, canary) {
			t.Errorf("%s: the failed event's reason quotes the value: %q", c.LookupID, d.Reason)
		}
	}
	e.publish(cmd{LookupID: "pii-marker", Type: "organization", Identifier: "923609016"}, "pii-marker")
	e.terminal("pii-marker", 30*time.Second)
	s, err := e.js.Stream(t.Context(), "AML_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		m, err := s.GetMsg(t.Context(), 1)
		if err != nil {
			return err
		}
		if r := m.Header.Get(kybflow.HeaderDeadLetterReason); strings.Contains(r, canary) {
			t.Errorf("the dead letter's reason quotes the value: %q", r)
		}
		return nil
	})
	if strings.Contains(logs.String(), canary) {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, canary) {
				t.Errorf("a log line holds the canary: %s", line)
			}
		}
	}
}
