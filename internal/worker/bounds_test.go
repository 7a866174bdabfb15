// The bounds of the streams and the bucket: settings, wiring, metrics, and
// what a full events stream does to lookups.

package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

func TestStreamBoundSettings(t *testing.T) {
	base := map[string]string{
		"AML_API_URL": "https://aml.example", "AML_ISSUER_URL": "https://oidc.example/realms/x",
		"AML_CLIENT_ID": "id", "AML_CLIENT_SECRET": "secret", "BLOB_DIR": t.TempDir(),
	}
	with := func(change map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range change {
			env[k] = v
		}
		return env
	}
	c, err := loadConfig(t, with(map[string]string{"EVENTS_MAX_BYTES": "4GiB", "COMMANDS_MAX_BYTES": "1073741824"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.EventsMaxBytes != 4<<30 || c.CommandsMaxBytes != 1<<30 || c.LookupsMaxBytes != defaultLookupsMaxBytes || c.CommandMaxMsgSize != 72<<10 {
		t.Errorf("sizes read: events %d, commands %d, lookups %d, command message %d", c.EventsMaxBytes, c.CommandsMaxBytes, c.LookupsMaxBytes, c.CommandMaxMsgSize)
	}
	for _, tt := range []struct {
		change map[string]string
		want   string
	}{
		{map[string]string{"EVENTS_MAX_BYTES": "2GB"}, "EVENTS_MAX_BYTES (--events-max-bytes): \"2GB\" is not a size"},
		{map[string]string{"CHECKS_MAX_BYTES": "512"}, "CHECKS_MAX_BYTES: must be at least 1MiB"},
		{map[string]string{"LOOKUPS_MAX_BYTES": "0"}, "LOOKUPS_MAX_BYTES: must be at least 1MiB"},
		{map[string]string{"COMMAND_MAX_MSG_SIZE": "64KiB"}, "COMMAND_MAX_MSG_SIZE: must be from 65KiB"},
		{map[string]string{"WEBHOOK_MAX_MSG_SIZE": "128MiB"}, "WEBHOOK_MAX_MSG_SIZE: must be from 4KiB to 64MiB"},
		{map[string]string{"WEBHOOKS_MAX_BYTES": "1MiB", "WEBHOOK_MAX_MSG_SIZE": "2MiB"}, "WEBHOOK_MAX_MSG_SIZE: must be at most WEBHOOKS_MAX_BYTES (1MiB)"},
		{map[string]string{"COMMANDS_MAX_BYTES": "1MiB", "COMMAND_MAX_MSG_SIZE": "2MiB"}, "COMMAND_MAX_MSG_SIZE: must be at most COMMANDS_MAX_BYTES (1MiB)"},
	} {
		if _, err := loadConfig(t, with(tt.change)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one with %q", tt.change, err, tt.want)
		}
	}
}

// The webhooks stream takes what the bridge publishes with its default
// WEBHOOK_MAX_BODY: the body and the headers it adds.
func TestWebhookMaxMsgSizeFitsTheBridgesLargestWebhook(t *testing.T) {
	var b bridge.Config
	bs := envconfig.New("bridge", envconfig.MapLookup(nil), io.Discard)
	b.Settings(bs)
	if err := bs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if w := Defaults(); int64(b.MaxBody)+4<<10 > w.WebhookMaxMsgSize {
		t.Errorf("WEBHOOK_MAX_MSG_SIZE %d does not fit the bridge's WEBHOOK_MAX_BODY %d and 4 KiB of headers", w.WebhookMaxMsgSize, b.MaxBody)
	}
	if w := Defaults(); w.CommandMaxMsgSize < kybflow.MaxCommandSize+4<<10 {
		t.Errorf("COMMAND_MAX_MSG_SIZE %d does not fit the largest valid command and 4 KiB of headers", w.CommandMaxMsgSize)
	}
}

// A worker makes its streams with the configured bounds and exports how
// full each is on /metrics.
func TestWorkerBoundsItsStreamsAndExportsTheirFill(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *Config) { c.EventsMaxBytes = 3 << 20 }})
	e.start(false, 0)
	app, _ := e.startWorkerApp(e.config(false))
	testenv.Eventually(t, 30*time.Second, func() error { return ready(app) })

	want := Defaults()
	for name, maxBytes := range map[string]int64{
		"AML_COMMANDS": want.CommandsMaxBytes, "AML_EVENTS": 3 << 20, "KV_AML_LOOKUPS": want.LookupsMaxBytes,
	} {
		st, err := e.js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.CachedInfo().Config.MaxBytes; got != maxBytes {
			t.Errorf("%s: MaxBytes %d, want %d", name, got, maxBytes)
		}
	}

	resp, err := http.Get("http://" + app.OpsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{`kybflow_stream_max_bytes{stream="AML_EVENTS"} 3.145728e+06`, `kybflow_stream_bytes{stream="AML_COMMANDS"} 0`, `kybflow_stream_messages{stream="KV_AML_LOOKUPS"} 0`} {
		if !bytes.Contains(body, []byte(line+"\n")) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// With the events stream full, a lookup waits (its command is retried: the
// worker cannot publish accepted) and is neither lost nor failed; once
// there is room, it completes, once.
func TestFullEventsStreamDelaysLookupsAndLosesNone(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *Config) { c.EventsMaxBytes = 1 << 20 }})
	cfg := e.config(false)
	app, err := Start(context.Background(), cfg, testLogger(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.EnsureTopology(context.Background()); err != nil {
		t.Fatal(err)
	}
	app.Close()

	// Full to the last few bytes: filled with large messages, then with
	// ever smaller ones, until one of 16 bytes is refused.
	const filler = "aml.events.filler.accepted"
	for size, i := 8<<10, 0; size >= 16; i++ {
		_, err := e.js.Publish(t.Context(), filler, bytes.Repeat([]byte("f"), size))
		var api *jetstream.APIError
		switch {
		case errors.As(err, &api) && api.ErrorCode == 10077:
			size /= 4
		case err != nil || i > 2000:
			t.Fatalf("filling the events stream: %v after %d", err, i)
		}
	}
	e.startWorker(e.config(false))
	e.publish(cmd{LookupID: "waits", Type: "organization", Country: "NO", Identifier: "923609016"}, "waits")

	// The positive sign it was refused: the command delivered again.
	testenv.Eventually(t, 30*time.Second, func() error {
		cons, err := e.js.Consumer(t.Context(), "AML_COMMANDS", streams.ConsumerCommands)
		if err != nil {
			return err
		}
		info, err := cons.Info(t.Context())
		if err != nil {
			return err
		}
		if info.Delivered.Consumer < 2 {
			return fmt.Errorf("command delivered %d times", info.Delivered.Consumer)
		}
		return nil
	})
	s, err := e.js.Stream(t.Context(), "AML_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLastMsgForSubject(t.Context(), "aml.events.waits.>"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("an event of the lookup made it into the full stream: %v", err)
	}

	if err := s.Purge(t.Context(), jetstream.WithPurgeSubject(filler)); err != nil {
		t.Fatal(err)
	}
	e.watchEvents()
	completedData(t, e.terminal("waits", time.Minute))
	e.marker()
	e.assertExactlyOnce("waits")
}
