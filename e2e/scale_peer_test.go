package e2e

// The scale benchmark's plain peer: the same job written plainly, as a yardstick.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
)

// ---- the plain peer ----

// peerAPI calls the AML API (the sandbox) with net/http: a client
// credentials token, create session, GET session, download.
type peerAPI struct {
	base string
	hc   *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

func newPeerAPI(addr string) *peerAPI {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * scaleConcurrency
	return &peerAPI{base: "http://" + addr, hc: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (a *peerAPI) bearer(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && time.Now().Before(a.expires) {
		return a.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"aml_organization/basic"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/auth/realms/sandbox/protocol/openid-connect/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("sandbox", "sandbox-secret")
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := a.do(req, http.StatusOK, &tok); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	a.token, a.expires = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second-30*time.Second)
	return a.token, nil
}

// do sends req and decodes a JSON answer of status want into out.
func (a *peerAPI) do(req *http.Request, want int, out any) error {
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (a *peerAPI) request(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	tok, err := a.bearer(ctx)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// peerSession is the part of a GET session answer the peer reads.
type peerSession struct {
	Status   string `json:"status"`
	JSONData struct {
		Status string `json:"status"`
		Link   string `json:"link"`
	} `json:"jsonData"`
	Reports map[string]struct {
		Status string `json:"status"`
		Link   string `json:"link"`
	} `json:"reports"`
}

// open creates an organization session asking for the AML report (the
// reports parameter and the links.reports.aml expand, as the worker asks)
// and polls it until everything is ready.
func (a *peerAPI) open(ctx context.Context, identifier string) (string, peerSession, error) {
	body := fmt.Appendf(nil, `{"identifier":%q,"expands":["links.reports.aml"],"reports":["aml"]}`, identifier)
	req, err := a.request(ctx, http.MethodPost, a.base+"/organization/session/no", body)
	if err != nil {
		return "", peerSession{}, err
	}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	if err := a.do(req, http.StatusCreated, &created); err != nil {
		return "", peerSession{}, err
	}
	wait := scalePollInitial
	for {
		select {
		case <-ctx.Done():
			return created.SessionID, peerSession{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, scalePollMax)
		req, err := a.request(ctx, http.MethodGet, a.base+"/organization/session/"+created.SessionID, nil)
		if err != nil {
			return created.SessionID, peerSession{}, err
		}
		var s peerSession
		if err := a.do(req, http.StatusOK, &s); err != nil {
			return created.SessionID, peerSession{}, err
		}
		switch s.Status {
		case "DONE":
			return created.SessionID, s, nil
		case "FAILED":
			return created.SessionID, s, errors.New("session failed")
		}
	}
}

// download GETs a result link; the caller closes the body.
func (a *peerAPI) download(ctx context.Context, link string) (*http.Response, error) {
	req, err := a.request(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %d", link, resp.StatusCode)
	}
	return resp, nil
}

// sample downloads the JSON and the AML report of one lookup.
func (a *peerAPI) sample(ctx context.Context) (jsonDoc, pdf []byte, err error) {
	_, s, err := a.open(ctx, scaleIdentifier)
	if err != nil {
		return nil, nil, err
	}
	get := func(link string) ([]byte, error) {
		resp, err := a.download(ctx, link)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if jsonDoc, err = get(s.JSONData.Link); err != nil {
		return nil, nil, err
	}
	if pdf, err = get(s.Reports["aml"].Link); err != nil {
		return nil, nil, err
	}
	return jsonDoc, pdf, nil
}

// plainPeer is the worker's job written plainly: consume a command, open
// and poll the session, stream the JSON and the PDF into the bucket with
// their sha256 computed on the way, publish a completed event, ack.
type plainPeer struct {
	api     *peerAPI
	mc      *minio.Client
	js      jetstream.JetStream
	bucket  string
	cons    jetstream.Consumer
	retries atomic.Int64
}

func (p *plainPeer) setup(ctx context.Context) error {
	if err := p.mc.MakeBucket(ctx, p.bucket, minio.MakeBucketOptions{}); err != nil {
		return err
	}
	for name, subjects := range map[string]string{"PEER_COMMANDS": "peer.commands.>", "PEER_EVENTS": "peer.events.>"} {
		if _, err := p.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subjects},
			Storage: jetstream.FileStorage, Duplicates: 2 * time.Hour}); err != nil {
			return err
		}
	}
	var err error
	p.cons, err = p.js.CreateOrUpdateConsumer(ctx, "PEER_COMMANDS", jetstream.ConsumerConfig{
		Durable: "peer", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		MaxAckPending: 2 * scaleConcurrency, FilterSubject: "peer.commands.lookup",
	})
	return err
}

// run handles commands with scaleConcurrency goroutines until the returned
// function is called.
func (p *plainPeer) run(ctx context.Context) (stop func()) {
	msgs, err := p.cons.Messages(jetstream.PullMaxMessages(2 * scaleConcurrency))
	if err != nil {
		panic(err) // a consumer just made
	}
	work := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range scaleConcurrency {
		wg.Go(func() {
			for m := range work {
				if err := p.handle(ctx, m); err != nil {
					p.retries.Add(1)
					_ = m.NakWithDelay(100 * time.Millisecond) // if lost, it comes back after AckWait
				}
			}
		})
	}
	wg.Go(func() {
		defer close(work)
		for {
			m, err := msgs.Next()
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			if err == nil {
				work <- m
			}
		}
	})
	return func() {
		msgs.Stop()
		wg.Wait()
	}
}

type peerArtifact struct {
	Name        string `json:"name"`
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"contentType"`
}

func (p *plainPeer) handle(ctx context.Context, m jetstream.Msg) error {
	var cmd struct {
		LookupID   string `json:"lookupId"`
		Identifier string `json:"identifier"`
	}
	if err := json.Unmarshal(m.Data(), &cmd); err != nil {
		return m.Term()
	}
	sid, s, err := p.api.open(ctx, cmd.Identifier)
	if err != nil {
		return err
	}
	var arts []peerArtifact
	for _, a := range []struct{ name, file, link string }{
		{"json", "json.json", s.JSONData.Link}, {"report:aml", "report-aml.pdf", s.Reports["aml"].Link},
	} {
		art, err := p.store(ctx, cmd.LookupID, sid, a.name, "lookups/"+cmd.LookupID+"/"+a.file, a.link)
		if err != nil {
			return err
		}
		arts = append(arts, art)
	}
	ev, err := json.Marshal(map[string]any{
		"specversion": "1.0", "type": "peer.completed", "source": "urn:e2e:peer", "id": cmd.LookupID + ".completed",
		"data": map[string]any{"lookupId": cmd.LookupID, "sessionId": sid, "artifacts": arts},
	})
	if err != nil {
		return err
	}
	if _, err := p.js.Publish(ctx, "peer.events."+cmd.LookupID+".completed", ev, jetstream.WithMsgID(cmd.LookupID+".completed")); err != nil {
		return err
	}
	return m.Ack()
}

// store streams one result into the bucket, hashing it on the way.
func (p *plainPeer) store(ctx context.Context, lookupID, sessionID, name, key, link string) (peerArtifact, error) {
	resp, err := p.api.download(ctx, link)
	if err != nil {
		return peerArtifact{}, err
	}
	defer resp.Body.Close()
	h := sha256.New()
	ct := resp.Header.Get("Content-Type")
	info, err := p.mc.PutObject(ctx, p.bucket, key, io.TeeReader(resp.Body, h), resp.ContentLength, minio.PutObjectOptions{
		ContentType:  ct,
		UserMetadata: map[string]string{"lookup-id": lookupID, "session-id": sessionID, "artifact": name},
	})
	if err != nil {
		return peerArtifact{}, err
	}
	return peerArtifact{Name: name, Bucket: p.bucket, Key: key, Size: info.Size, SHA256: hex.EncodeToString(h.Sum(nil)), ContentType: ct}, nil
}
