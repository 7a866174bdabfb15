// Command watermill-peer is the lookup pipeline a user would write with
// Watermill instead of kybflow, as a yardstick for the scale benchmark
// (e2e/scale_bench_test.go): a Watermill handler per command, on JetStream
// (watermill-nats), that opens an organization session on the AML API with
// an OAuth2 client-credentials token (x/oauth2), polls it until its results
// are ready while the command stays unacked, streams the JSON and every PDF
// report into S3 with minio-go (one PUT each, the SHA-256 computed on the
// way) and publishes a completed event. See README.md.
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// config is read from the environment (see README.md).
type config struct {
	natsURL, commandSubject, eventPrefix, durable    string
	apiURL, tokenURL, clientID, clientSecret, scopes string
	s3Endpoint, s3AccessKey, s3SecretKey, s3Region   string
	bucket                                           string
	s3Secure                                         bool
	concurrency                                      int
	pollInitial, pollMax, ackWait                    time.Duration
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := loadConfig()
	if err == nil {
		err = run(cfg, log)
	}
	if err != nil {
		log.Error("watermill-peer", "err", err)
		os.Exit(1)
	}
}

func loadConfig() (config, error) {
	env := func(name, def string) string { return cmp.Or(os.Getenv(name), def) }
	var errs []error
	dur := func(name, def string) time.Duration {
		d, err := time.ParseDuration(env(name, def))
		errs = append(errs, err)
		return d
	}
	c := config{
		natsURL: env("NATS_URL", nats.DefaultURL), commandSubject: env("COMMAND_SUBJECT", "wm.commands.lookup"),
		eventPrefix: env("EVENT_PREFIX", "wm.events"), durable: env("DURABLE", "watermill-peer"),
		apiURL: env("AML_API_URL", "http://127.0.0.1:8480"), tokenURL: os.Getenv("AML_TOKEN_URL"),
		clientID: env("AML_CLIENT_ID", "sandbox"), clientSecret: env("AML_CLIENT_SECRET", "sandbox-secret"),
		scopes:     env("AML_SCOPES", "aml_organization/basic"),
		s3Endpoint: env("S3_ENDPOINT", "127.0.0.1:9000"), s3AccessKey: os.Getenv("S3_ACCESS_KEY"),
		s3SecretKey: os.Getenv("S3_SECRET_KEY"), s3Region: env("S3_REGION", "us-east-1"),
		bucket: env("S3_BUCKET", "watermill"), s3Secure: env("S3_SECURE", "false") == "true",
		pollInitial: dur("POLL_INITIAL", "5ms"), pollMax: dur("POLL_MAX", "20ms"), ackWait: dur("ACK_WAIT", "30s"),
	}
	c.tokenURL = cmp.Or(c.tokenURL, c.apiURL+"/auth/realms/sandbox/protocol/openid-connect/token")
	n, err := strconv.Atoi(env("CONCURRENCY", "32"))
	if err == nil && n < 1 {
		err = fmt.Errorf("CONCURRENCY=%d: want 1 or more", n)
	}
	c.concurrency = n
	return c, errors.Join(append(errs, err)...)
}

func run(cfg config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	wlog := watermill.NewSlogLogger(log)

	// An idle connection kept per concurrent request (Go keeps 2 per host,
	// minio-go 16): beyond those, every call would dial anew.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * cfg.concurrency
	cc := clientcredentials.Config{ClientID: cfg.clientID, ClientSecret: cfg.clientSecret, TokenURL: cfg.tokenURL,
		Scopes: strings.Fields(cfg.scopes), AuthStyle: oauth2.AuthStyleInHeader}
	api := cc.Client(context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: tr, Timeout: time.Minute}))

	s3tr, err := minio.DefaultTransport(cfg.s3Secure)
	if err != nil {
		return err
	}
	s3tr.MaxIdleConnsPerHost = 4 * cfg.concurrency
	mc, err := minio.New(cfg.s3Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.s3AccessKey, cfg.s3SecretKey, ""),
		Secure: cfg.s3Secure, Region: cfg.s3Region, Transport: s3tr, TrailingHeaders: true})
	if err != nil {
		return err
	}

	// JetStream through watermill-nats' pkg/nats (its pkg/jetstream handles
	// one message at a time per subscription): SubscribersCount push
	// subscriptions in one queue group on one durable consumer, each
	// holding its message unacked until the handler returns.
	js := wmnats.JetStreamConfig{
		SubscribeOptions: []nats.SubOpt{nats.ManualAck(), nats.AckExplicit(), nats.DeliverAll(),
			nats.AckWait(cfg.ackWait), nats.MaxAckPending(2 * cfg.concurrency)},
		TrackMsgId:    true, // the event's UUID is its Nats-Msg-Id: a redelivered command publishes no second event
		DurablePrefix: cfg.durable,
	}
	sub, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{
		URL: cfg.natsURL, QueueGroupPrefix: cfg.durable, SubscribersCount: cfg.concurrency,
		AckWaitTimeout: cfg.ackWait, NakDelay: wmnats.NewStaticDelay(100 * time.Millisecond), JetStream: js,
		NatsOptions: []nats.Option{nats.Name("watermill-peer subscriber"), nats.MaxReconnects(-1)},
	}, wlog)
	if err != nil {
		return err
	}
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: cfg.natsURL, JetStream: js,
		NatsOptions: []nats.Option{nats.Name("watermill-peer publisher"), nats.MaxReconnects(-1)}}, wlog)
	if err != nil {
		return err
	}
	defer pub.Close()

	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wlog)
	if err != nil {
		return err
	}
	p := &peer{cfg: cfg, api: api, mc: mc, pub: pub, log: log}
	router.AddConsumerHandler("lookup", cfg.commandSubject, sub, p.handle)
	go func() {
		select {
		case <-router.Running():
			fmt.Println("watermill-peer: ready") // the benchmark waits for this line
		case <-ctx.Done():
		}
	}()
	return router.Run(ctx)
}

type peer struct {
	cfg config
	api *http.Client
	mc  *minio.Client
	pub message.Publisher
	log *slog.Logger
}

type command struct {
	LookupID   string   `json:"lookupId"`
	Type       string   `json:"type"`
	Country    string   `json:"country"`
	Identifier string   `json:"identifier"`
	Reports    []string `json:"reports"`
}

type entity struct {
	Status string `json:"status"`
	Link   string `json:"link"`
}

type session struct {
	SessionID string            `json:"sessionId"`
	Status    string            `json:"status"`
	JSONData  entity            `json:"jsonData"`
	Reports   map[string]entity `json:"reports"`
}

type artifact struct {
	Name        string `json:"name"`
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"contentType"`
}

// handle is one command: an error nacks it (redelivered after NakDelay),
// nil acks it.
func (p *peer) handle(msg *message.Message) error {
	ctx := msg.Context()
	var cmd command
	if err := json.Unmarshal(msg.Payload, &cmd); err != nil || cmd.LookupID == "" || cmd.Type != "organization" {
		p.log.Warn("command dropped", "err", err, "type", cmd.Type)
		return nil
	}
	s, err := p.open(ctx, cmd)
	if err != nil {
		p.log.Warn("session", "lookupId", cmd.LookupID, "err", err)
		return err
	}
	arts := make([]artifact, 0, 1+len(s.Reports))
	store := func(name, file string, e entity) error {
		a, err := p.store(ctx, cmd.LookupID, s.SessionID, name, "lookups/"+cmd.LookupID+"/"+file, e.Link)
		if err == nil {
			arts = append(arts, a)
		}
		return err
	}
	if err := store("json", "json.json", s.JSONData); err != nil {
		return err
	}
	for typ, e := range s.Reports {
		if err := store("report:"+typ, "report-"+typ+".pdf", e); err != nil {
			return err
		}
	}
	ev, err := json.Marshal(map[string]any{
		"specversion": "1.0", "type": "watermill-peer.completed", "source": "urn:bench:watermill-peer",
		"id": cmd.LookupID + ".completed", "datacontenttype": "application/json",
		"data": map[string]any{"lookupId": cmd.LookupID, "sessionId": s.SessionID, "artifacts": arts},
	})
	if err != nil {
		return err
	}
	return p.pub.Publish(p.cfg.eventPrefix+"."+cmd.LookupID+".completed", message.NewMessage(cmd.LookupID+".completed", ev))
}

// open creates the organization session and polls it until it is done.
func (p *peer) open(ctx context.Context, cmd command) (session, error) {
	expands := make([]string, len(cmd.Reports))
	for i, r := range cmd.Reports {
		expands[i] = "links.reports." + r
	}
	body, err := json.Marshal(map[string]any{"identifier": cmd.Identifier, "expands": expands, "reports": cmd.Reports})
	if err != nil {
		return session{}, err
	}
	var s session
	if err := p.call(ctx, http.MethodPost, "/organization/session/"+strings.ToLower(cmd.Country), body, http.StatusCreated, &s); err != nil {
		return session{}, err
	}
	for wait := p.cfg.pollInitial; ; wait = min(2*wait, p.cfg.pollMax) {
		select {
		case <-ctx.Done():
			return session{}, ctx.Err()
		case <-time.After(wait):
		}
		if err := p.call(ctx, http.MethodGet, "/organization/session/"+s.SessionID, nil, http.StatusOK, &s); err != nil {
			return session{}, err
		}
		switch s.Status {
		case "DONE":
			return s, nil
		case "FAILED":
			return session{}, fmt.Errorf("session %s failed", s.SessionID)
		}
	}
}

// call sends a request to the API and decodes its JSON answer of status want.
func (p *peer) call(ctx context.Context, method, path string, body []byte, want int, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.cfg.apiURL+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.api.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, msg)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// store streams one result into the bucket in one PUT, its SHA-256 computed
// on the way (and sent by minio-go as the trailing checksum
// x-amz-checksum-sha256, which the server verifies and stores).
func (p *peer) store(ctx context.Context, lookupID, sessionID, name, key, link string) (artifact, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return artifact{}, err
	}
	resp, err := p.api.Do(req)
	if err != nil {
		return artifact{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return artifact{}, fmt.Errorf("GET %s: %d", link, resp.StatusCode)
	}
	h := sha256.New()
	ct := resp.Header.Get("Content-Type")
	info, err := p.mc.PutObject(ctx, p.cfg.bucket, key, io.TeeReader(resp.Body, h), resp.ContentLength, minio.PutObjectOptions{
		ContentType:  ct,
		UserMetadata: map[string]string{"lookup-id": lookupID, "session-id": sessionID, "artifact": name},
		Checksum:     minio.ChecksumSHA256,
	})
	if err != nil {
		return artifact{}, fmt.Errorf("put %s: %w", key, err)
	}
	sum := h.Sum(nil)
	if info.ChecksumSHA256 != "" && info.ChecksumSHA256 != base64.StdEncoding.EncodeToString(sum) {
		return artifact{}, fmt.Errorf("put %s: server checksum %s, sent sha256 %x", key, info.ChecksumSHA256, sum)
	}
	return artifact{Name: name, Bucket: p.cfg.bucket, Key: key, Size: info.Size, SHA256: hex.EncodeToString(sum), ContentType: ct}, nil
}
