package bridge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/natsembed"
	"github.com/kybflow/kybflow/internal/opshttp"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/natsconn"
)

// A bridge started while NATS is down does not exit: it is alive, not
// ready, and answers webhooks 503 (so BankID sends them again); once NATS
// is there it stores them and answers 200. The same when its server stops
// and starts again mid-run.
func TestBridgeWaitsForNATS(t *testing.T) {
	ports, err := testenv.FreePorts(1) // a port for the server that is not there yet
	if err != nil {
		t.Fatal(err)
	}
	port := ports[0]
	url := "nats://127.0.0.1:" + strconv.Itoa(port)

	app, err := Start(Config{
		NATS: natsconn.Settings{URL: url}, ListenAddr: "127.0.0.1:0", Ops: opshttp.Settings{Addr: "127.0.0.1:0"}, WebhookSecret: secret,
		SubjectPrefix: "aml", MaxBody: 64 << 10,
	}, slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		t.Fatalf("Start with NATS down: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + app.OpsAddr().String() + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(id string) int {
		body := webhookBody(t, "JsonDataReady")
		req, _ := http.NewRequest(http.MethodPost, "http://"+app.Addr().String()+"/webhooks/lk-1", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		signed(id, body)(req.Header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if code, _ := get("/healthz"); code != 200 {
			return fmt.Errorf("/healthz %d", code)
		}
		return nil
	})
	if code, body := get("/readyz"); code != 503 {
		t.Errorf("/readyz with NATS down: %d %s", code, body)
	}
	if code := post("wh-down"); code != 503 {
		t.Errorf("a webhook with NATS down: %d, want 503", code)
	}

	dir := t.TempDir()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "AML_WEBHOOKS", Subjects: []string{"aml.webhooks.>"}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if code, body := get("/readyz"); code != 200 {
			return fmt.Errorf("/readyz %d: %s", code, body)
		}
		return nil
	})
	if code := post("wh-up"); code != 200 {
		t.Errorf("a webhook with NATS up: %d, want 200", code)
	}

	srv.Shutdown() // mid-run: down, then back on the same store
	testenv.Eventually(t, 10*time.Second, func() error {
		if code, _ := get("/readyz"); code != 503 {
			return fmt.Errorf("/readyz %d with NATS down", code)
		}
		return nil
	})
	if code := post("wh-down-again"); code != 503 {
		t.Errorf("a webhook with NATS down again: %d, want 503", code)
	}
	if srv, err = natsembed.Start(natsembed.Config{StoreDir: dir, Port: port}); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	testenv.Eventually(t, 20*time.Second, func() error {
		if code, body := get("/readyz"); code != 200 {
			return fmt.Errorf("/readyz %d: %s", code, body)
		}
		return nil
	})
	if code := post("wh-up-again"); code != 200 {
		t.Errorf("a webhook after the restart: %d, want 200", code)
	}
	s, _ := js.Stream(ctx, "AML_WEBHOOKS")
	testenv.Eventually(t, 10*time.Second, func() error {
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != 2 {
			return fmt.Errorf("%d webhooks stored, want the 2 answered 200", info.State.Msgs)
		}
		return nil
	})
	select {
	case err := <-done:
		t.Fatalf("the bridge exited: %v", err)
	default:
	}
}

// A webhook secret the Standard Webhooks libraries would read differently
// (not base64 after an optional whsec_) is refused at start, naming the
// variable and not quoting the secret.
func TestBadWebhookSecretIsRefusedAtStart(t *testing.T) {
	for _, secret := range []string{"raw-text-secret", "whsec_not*base64"} {
		cfg := Config{NATS: natsconn.Settings{URL: "nats://127.0.0.1:4222"}, ListenAddr: ":0", Ops: opshttp.Settings{Addr: ":0"}, WebhookSecret: secret, SubjectPrefix: "aml", MaxBody: 1024}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRET") || strings.Contains(err.Error(), secret) {
			t.Errorf("secret %q: %v, want an error naming WEBHOOK_SECRET without the secret", secret, err)
		}
	}
	good := Config{NATS: natsconn.Settings{URL: "nats://127.0.0.1:4222"}, ListenAddr: ":0", Ops: opshttp.Settings{Addr: ":0"}, WebhookSecret: "whsec_c2VjcmV0", SubjectPrefix: "aml", MaxBody: 1024}
	if err := good.Validate(); err != nil {
		t.Errorf("a whsec_ secret: %v", err)
	}
}

// What a sender puts in headers reaches the log bounded, and a webhook-id
// no retry can fix is answered 400, not 503.
func TestOversizedWebhookHeaders(t *testing.T) {
	js := testenv.JetStream(t)
	if _, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
		Name: "AML_WEBHOOKS", Subjects: []string{"aml.webhooks.>"}, Retention: jetstream.WorkQueuePolicy, Duplicates: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	var logs testenv.Buffer
	h, err := Handler(HandlerConfig{
		Secret: secret, MaxBody: 1024, Publisher: js, PublishTimeout: time.Second,
		Subject: func(id string) string { return "aml.webhooks." + id }, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	post := func(header http.Header) int {
		body := webhookBody(t, "AllDone")
		req := httptest.NewRequest(http.MethodPost, "/webhooks/lk-1", bytes.NewReader(body))
		for k, v := range header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	huge := strings.Repeat("9", 100<<10)
	if code := post(http.Header{"Webhook-Id": {strings.Repeat("m", MaxWebhookIDLength+1)}, "Webhook-Timestamp": {"1"}, "Webhook-Signature": {"v1,x"}}); code != http.StatusBadRequest {
		t.Errorf("a webhook-id over %d bytes: %d, want 400", MaxWebhookIDLength, code)
	}
	if code := post(http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {huge}, "Webhook-Signature": {"v1,x"}}); code != http.StatusUnauthorized {
		t.Errorf("a 100 KiB timestamp: %d, want 401", code)
	}
	if n := len(logs.String()); n > 2048 || strings.Contains(logs.String(), strings.Repeat("9", 100)) {
		t.Errorf("the rejection logged %d bytes; a sender's header must reach the log bounded:\n%.300s", n, logs.String())
	}
}
