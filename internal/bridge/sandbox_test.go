package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/opshttp"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/natsconn"
)

// The real bridge against the real sandbox, in each verification mode:
// the sandbox sends a session's webhooks authenticated its way, and the
// bridge stores those it should, marked with how it authenticated them,
// and answers 401 to those it should not.
func TestBridgeAgainstSandbox(t *testing.T) {
	const (
		oldSecret = "whsec_b2xkLXNhbmRib3gtc2VjcmV0"
		newSecret = "whsec_bmV3LXNhbmRib3gtc2VjcmV0"
		token     = "sandbox-bearer-token-0123"
		oldToken  = "sandbox-old-token-abcdef"
	)
	for _, tt := range []struct {
		name     string
		sandbox  sandbox.Config
		bridge   func(sb *sandbox.Server) Config
		wantAuth string // "" when every webhook is refused
	}{
		{"standard-webhooks, the sender mid-rotation", sandbox.Config{WebhookSecret: oldSecret + " " + newSecret},
			func(*sandbox.Server) Config { return Config{WebhookSecret: newSecret} }, AuthStandardWebhooks},
		{"standard-webhooks, the receiver mid-rotation", sandbox.Config{WebhookSecret: newSecret},
			func(*sandbox.Server) Config { return Config{WebhookSecret: oldSecret + "," + newSecret} }, AuthStandardWebhooks},
		{"standard-webhooks, another secret", sandbox.Config{WebhookSecret: oldSecret},
			func(*sandbox.Server) Config { return Config{WebhookSecret: newSecret} }, ""},
		{"bearer token, one of two", sandbox.Config{WebhookAuth: sandbox.WebhookBearerToken, WebhookBearerToken: token},
			func(*sandbox.Server) Config { return Config{Verify: ModeBearer, BearerTokens: oldToken + " " + token} }, AuthBearerToken},
		{"bearer token, a wrong one", sandbox.Config{WebhookAuth: sandbox.WebhookBearerToken, WebhookBearerToken: token + "x"},
			func(*sandbox.Server) Config { return Config{Verify: ModeBearer, BearerTokens: token} }, ""},
		{"bearer JWT", sandbox.Config{WebhookAuth: sandbox.WebhookBearerJWT},
			func(sb *sandbox.Server) Config {
				return Config{Verify: ModeBearer, JWKSURL: sb.IssuerURL() + sandbox.JWKSPath, JWTIssuer: sb.IssuerURL(), JWTAudience: sandbox.DefaultClientID}
			}, AuthBearerJWT},
		{"bearer JWT, another audience", sandbox.Config{WebhookAuth: sandbox.WebhookBearerJWT, WebhookJWTAudience: "someone-else"},
			func(sb *sandbox.Server) Config {
				return Config{Verify: ModeBearer, JWKSURL: sb.IssuerURL() + sandbox.JWKSPath, JWTIssuer: sb.IssuerURL(), JWTAudience: sandbox.DefaultClientID}
			}, ""},
		{"unsigned, as hints", sandbox.Config{WebhookAuth: sandbox.WebhookNone},
			func(*sandbox.Server) Config { return Config{Verify: ModeHint} }, AuthHint},
		{"unsigned, to standard-webhooks", sandbox.Config{},
			func(*sandbox.Server) Config { return Config{WebhookSecret: newSecret} }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			natsURL := testenv.NATS(t)
			js := testenv.JetStreamOn(t, natsURL)
			ctx := context.Background()
			if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
				Name: "AML_WEBHOOKS", Subjects: []string{"aml.webhooks.>"}, Retention: jetstream.WorkQueuePolicy, Duplicates: time.Hour,
			}); err != nil {
				t.Fatal(err)
			}
			scfg := tt.sandbox
			scfg.ReadyAfter = 10 * time.Millisecond
			scfg.WebhookRetry = sandbox.RetryPolicy{Attempts: 1}
			sb, err := sandbox.Start(scfg, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sb.Close() })

			cfg := tt.bridge(sb)
			cfg.NATS, cfg.ListenAddr, cfg.Ops = natsconn.Settings{URL: natsURL}, "127.0.0.1:0", opshttp.Settings{Addr: "127.0.0.1:0"}
			cfg.SubjectPrefix, cfg.MaxBody, cfg.HintLimit = "aml", DefaultMaxBody, DefaultHintLimit
			app, err := Start(cfg, slog.New(slog.DiscardHandler), Options{})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- app.Run(runCtx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			})

			sessionID := createSession(t, sb, "http://"+app.Addr().String()+"/webhooks/lk-sb")
			// The session's last webhook is AllDone: once its delivery is
			// recorded, every webhook of the session has had its answer.
			var deliveries []sandbox.WebhookDelivery
			testenv.Eventually(t, 10*time.Second, func() error {
				deliveries = sb.Sandbox().Inspect().Webhooks
				if !slices.ContainsFunc(deliveries, func(d sandbox.WebhookDelivery) bool {
					return d.SessionID == sessionID && d.Event == amlapi.EventAllDone && d.Status != 0
				}) {
					return errors.New("AllDone not answered yet")
				}
				return nil
			})
			wantStatus := http.StatusOK
			if tt.wantAuth == "" {
				wantStatus = http.StatusUnauthorized
			}
			for _, d := range deliveries {
				if d.Status != wantStatus {
					t.Errorf("%s answered %d (%s), want %d", d.Event, d.Status, d.Error, wantStatus)
				}
			}
			s, err := js.Stream(ctx, "AML_WEBHOOKS")
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantAuth == "" {
				if info.State.Msgs != 0 {
					t.Fatalf("%d refused webhooks stored", info.State.Msgs)
				}
				return
			}
			if int(info.State.Msgs) != len(deliveries) {
				t.Fatalf("%d webhooks stored, %d delivered", info.State.Msgs, len(deliveries))
			}
			for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
				m, err := s.GetMsg(ctx, seq)
				if err != nil {
					t.Fatal(err)
				}
				if m.Header.Get(HeaderAuth) != tt.wantAuth || m.Subject != "aml.webhooks.lk-sb" || m.Header.Get("Authorization") != "" {
					t.Errorf("stored %s with %s %q, want %q", m.Subject, HeaderAuth, m.Header.Get(HeaderAuth), tt.wantAuth)
				}
			}
		})
	}
}

// createSession opens an organization session on the sandbox whose
// webhooks go to hook, and returns its id.
func createSession(t *testing.T, sb *sandbox.Server, hook string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {amlapi.ScopeBasic}}
	req, _ := http.NewRequest(http.MethodPost, sb.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	do(t, req, http.StatusOK, &tok)
	body, err := json.Marshal(amlapi.CreateSessionRequest{Identifier: "923609016", Webhook: &amlapi.WebhookSubscription{URL: hook}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodPost, sb.URL()+amlapi.CreateOrganizationPath(amlapi.NO), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	var created struct {
		SessionID string `json:"sessionId"`
	}
	do(t, req, http.StatusCreated, &created)
	return created.SessionID
}

func do(t *testing.T, req *http.Request, want int, out any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d", req.Method, req.URL, resp.StatusCode, want)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(fmt.Errorf("%s %s: %w", req.Method, req.URL, err))
	}
}
