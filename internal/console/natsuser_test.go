package console

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/logging"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/internal/worker"
	"github.com/kybflow/kybflow/natsconn"
)

// TestPagesAsTheShippedConsoleUser: connected as kybflow-console of the
// shipped users file (deploy/nats/kybflow-users.conf), the console reads
// what its pages show: the health page's streams, their consumers and the
// session budget, the lookups list, and the audit (a document view's
// record is written by the login-less local operator here).
func TestPagesAsTheShippedConsoleUser(t *testing.T) {
	t.Parallel()
	srv := testenv.NATSWithUsers(t, testenv.ShippedUsers(t, "../../deploy/nats/kybflow-users.conf")...)
	// The operator makes the streams, as the topology Job does.
	if err := worker.TopologyMain(t.Context(), nil, envconfig.MapLookup(map[string]string{"NATS_URL": srv.ClientURL(),
		"NATS_USER": "kybflow-operator", "NATS_PASSWORD": "pw-OPERATOR", "NATS_INBOX_PREFIX": "_INBOX_kybflow_operator"}), io.Discard, io.Discard); err != nil {
		t.Fatalf("worker topology as the operator: %v", err)
	}
	limits, err := budget.ParseLimits("100/1h")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{NATS: natsconn.Settings{URL: srv.ClientURL(), User: "kybflow-console", Password: "pw-CONSOLE", InboxPrefix: "_INBOX_kybflow_console"},
		Listen: "127.0.0.1:0", Log: logging.DefaultSettings(), Auth: auth.DefaultSettings(), Audit: audit.DefaultSettings(),
		Actions: ActionSettings{Budget: limits}}
	cfg.Storage.Dir = t.TempDir()
	app, err := Start(t.Context(), cfg, testLogger(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(t.Context()) }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("console run: %v", err)
		}
	})
	testenv.Eventually(t, 20*time.Second, func() error { return app.Index().Ready(t.Context()) })

	page := func(path string) string {
		t.Helper()
		resp, err := http.Get(app.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	health := page("/health")
	for _, want := range []string{`<tr data-stream="AML_COMMANDS">`, `<tr data-consumer="worker-commands">`} {
		if !strings.Contains(health, want) {
			t.Errorf("health page as kybflow-console: no %s", want)
		}
	}
	if !regexp.MustCompile(`<th scope="row">100/1h</th><td>100</td>`).MatchString(health) || strings.Contains(health, "could not be read") ||
		strings.Contains(strings.ToLower(health), "permission") {
		t.Errorf("health page as kybflow-console: the budget or a stream's consumers unread:\n%s", health)
	}
	if list := page("/"); !strings.Contains(list, "Lookups") {
		t.Errorf("lookups page as kybflow-console:\n%s", list)
	}
}
