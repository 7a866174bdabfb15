// Package amlapi is a client of BankID Norway's AML API: it opens
// organization and beneficial owners sessions, reads their status and
// downloads their results, with an OAuth2 client-credentials token, retries
// of transient failures and a cap on its own request rate.
//
// Every wire detail that BankID's public material does not confirm lives
// in model.go, so that it can be corrected in one place. Errors are
// classified once (errors.go): see Class and ClassOf. The result documents
// and their tolerant decoders are in document.go.
package amlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/kybflow/kybflow/identifier"
)

// ClientAuth is how the client authenticates at the token endpoint.
type ClientAuth string

// The client authentication methods (the OpenID names).
const (
	// ClientSecretBasic sends the client id and secret with HTTP Basic
	// authentication (oauth2.AuthStyleInHeader). The default.
	ClientSecretBasic ClientAuth = "client_secret_basic"
	// ClientSecretPost sends them in the form (oauth2.AuthStyleInParams).
	ClientSecretPost ClientAuth = "client_secret_post"
)

// Defaults of the optional Config fields.
const (
	DefaultTokenRefreshMargin = 30 * time.Second
	DefaultRequestTimeout     = 30 * time.Second
	DefaultInitialInterval    = 200 * time.Millisecond
	DefaultMaxInterval        = 10 * time.Second
	DefaultMaxElapsedTime     = time.Minute
	DefaultMaxAttempts        = 8
	// DefaultRateLimit and DefaultRateBurst cap our own request rate. The
	// API publishes no limit; 20 requests a second is far above what one
	// worker needs and low enough not to hammer the API in a retry storm.
	DefaultRateLimit rate.Limit = 20
	DefaultRateBurst int        = 10
)

// DefaultScopes are the scopes requested when Config.Scopes is empty.
func DefaultScopes() []string { return []string{ScopeBasic} }

// Config configures a Client. Optional fields left zero take the defaults
// named in their comments.
type Config struct {
	// BaseURL is the API's base URL, e.g. https://aml.bankidapis.no.
	// Required: an absolute http or https URL.
	BaseURL string

	// IssuerURL is the OpenID issuer, e.g.
	// https://oidc.bankidapis.no/auth/realms/prod. The token endpoint is
	// discovered from IssuerURL + WellKnownPath on the first request.
	IssuerURL string
	// TokenURL is the token endpoint. When set, it wins over IssuerURL and
	// nothing is discovered. One of IssuerURL and TokenURL is required.
	TokenURL string
	// ClientID and ClientSecret are the client credentials. Required.
	ClientID     string
	ClientSecret string
	// ClientAuth is how they are sent: ClientSecretBasic (default) or
	// ClientSecretPost.
	ClientAuth ClientAuth
	// Scopes are the scopes to request; default DefaultScopes().
	Scopes []string
	// TokenRefreshMargin: a token is replaced this long before it expires,
	// but no earlier than half its lifetime. Default
	// DefaultTokenRefreshMargin.
	TokenRefreshMargin time.Duration

	// HTTPClient makes every request (API, discovery, token). Default: one
	// built by NewHTTPClient. A Timeout on it also cuts long downloads;
	// prefer the timeouts of its transport and RequestTimeout.
	HTTPClient *http.Client
	// RequestTimeout bounds one attempt of a call, token fetch included:
	// until the whole answer is read, or for Download until the headers
	// have arrived (the body is then bounded only by the caller's
	// context). Default DefaultRequestTimeout.
	RequestTimeout time.Duration

	// Retry says how transient failures are retried.
	Retry RetryPolicy

	// RateLimit caps our request rate to the API, in requests per second;
	// every attempt waits for it. Zero means DefaultRateLimit; rate.Inf
	// means no limit.
	RateLimit rate.Limit
	// RateBurst is how many requests may go at once; default
	// DefaultRateBurst.
	RateBurst int

	// Logger receives retries, duplicate-session warnings and token
	// fetches. Default: discard.
	Logger *slog.Logger
}

// RetryPolicy bounds the retries of transient failures: exponential backoff
// with jitter, from InitialInterval up to MaxInterval between attempts, for
// at most MaxAttempts attempts and MaxElapsedTime in all. A Retry-After
// longer than the backoff is waited instead; one that would end past
// MaxElapsedTime or the context's deadline ends the retries at once.
type RetryPolicy struct {
	InitialInterval time.Duration // default DefaultInitialInterval
	MaxInterval     time.Duration // default DefaultMaxInterval
	MaxElapsedTime  time.Duration // default DefaultMaxElapsedTime
	// MaxAttempts counts the first attempt too; 1 disables retries.
	// Default DefaultMaxAttempts. The one retry after a 401 with a fresh
	// token is part of its attempt.
	MaxAttempts int
}

// Validate reports every problem of c, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.BaseURL == "" {
		bad("BaseURL is required")
	} else if err := checkHTTPURL(c.BaseURL); err != nil {
		bad("BaseURL: %w", err)
	} else if u, _ := url.Parse(c.BaseURL); u.RawQuery != "" || u.Fragment != "" {
		bad("BaseURL %q must not have a query or fragment", c.BaseURL)
	}
	switch {
	case c.TokenURL != "":
		if err := checkHTTPURL(c.TokenURL); err != nil {
			bad("TokenURL: %w", err)
		}
	case c.IssuerURL != "":
		if err := checkHTTPURL(c.IssuerURL); err != nil {
			bad("IssuerURL: %w", err)
		}
	default:
		bad("IssuerURL or TokenURL is required")
	}
	if c.ClientID == "" {
		bad("ClientID is required")
	}
	if c.ClientSecret == "" {
		bad("ClientSecret is required")
	}
	switch c.ClientAuth {
	case "", ClientSecretBasic, ClientSecretPost:
	default:
		bad("ClientAuth %q is not %s or %s", c.ClientAuth, ClientSecretBasic, ClientSecretPost)
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			bad("Scopes: %q is not a scope", s)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"TokenRefreshMargin", c.TokenRefreshMargin},
		{"RequestTimeout", c.RequestTimeout},
		{"Retry.InitialInterval", c.Retry.InitialInterval},
		{"Retry.MaxInterval", c.Retry.MaxInterval},
		{"Retry.MaxElapsedTime", c.Retry.MaxElapsedTime},
	} {
		if d.v < 0 {
			bad("%s must not be negative, got %s", d.name, d.v)
		}
	}
	if c.Retry.MaxAttempts < 0 {
		bad("Retry.MaxAttempts must not be negative, got %d", c.Retry.MaxAttempts)
	}
	if c.Retry.InitialInterval > 0 && c.Retry.MaxInterval > 0 && c.Retry.InitialInterval > c.Retry.MaxInterval {
		bad("Retry.InitialInterval %s is longer than Retry.MaxInterval %s", c.Retry.InitialInterval, c.Retry.MaxInterval)
	}
	if c.RateLimit < 0 {
		bad("RateLimit must not be negative (rate.Inf means no limit), got %v", c.RateLimit)
	}
	if c.RateBurst < 0 {
		bad("RateBurst must not be negative, got %d", c.RateBurst)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("amlapi config: %w", err)
	}
	return nil
}

// withDefaults returns c with every zero optional field set.
func (c Config) withDefaults() Config {
	if c.ClientAuth == "" {
		c.ClientAuth = ClientSecretBasic
	}
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes()
	}
	if c.TokenRefreshMargin == 0 {
		c.TokenRefreshMargin = DefaultTokenRefreshMargin
	}
	if c.HTTPClient == nil {
		c.HTTPClient = NewHTTPClient()
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Retry.InitialInterval == 0 {
		c.Retry.InitialInterval = DefaultInitialInterval
	}
	if c.Retry.MaxInterval == 0 {
		c.Retry.MaxInterval = max(DefaultMaxInterval, c.Retry.InitialInterval)
	}
	if c.Retry.MaxElapsedTime == 0 {
		c.Retry.MaxElapsedTime = DefaultMaxElapsedTime
	}
	if c.Retry.MaxAttempts == 0 {
		c.Retry.MaxAttempts = DefaultMaxAttempts
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst == 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// maxIdleConnsPerHost is above the handlers a worker runs at once with
// default settings (three roles of WORKER_CONCURRENCY 8) and those of a
// busy one.
const maxIdleConnsPerHost = 128

// NewHTTPClient returns the default HTTP client: no overall timeout (it
// would cut long downloads), but bounded dialing, TLS handshakes and waits
// for response headers.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = DefaultRequestTimeout
	// Keep a connection per concurrent request: with Go's default of two
	// idle connections per host, every handler beyond two dials anew (and
	// does a TLS handshake) for each call.
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return &http.Client{Transport: t}
}

// Client calls the AML API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	baseURL string // base without a trailing slash; API paths are appended
	hc      *http.Client
	tokens  *tokenSource
	limiter *rate.Limiter
	retry   RetryPolicy
	timeout time.Duration
	log     *slog.Logger
}

// New validates cfg and returns a Client. It makes no request: the token
// endpoint is discovered and the first token fetched on the first call.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("amlapi config: BaseURL: %w", err)
	}
	hc := withoutCrossOriginAuth(cfg.HTTPClient)
	return &Client{
		base:    base,
		baseURL: strings.TrimSuffix(cfg.BaseURL, "/"),
		hc:      hc,
		tokens:  newTokenSource(&cfg, hc, cfg.Logger),
		limiter: rate.NewLimiter(cfg.RateLimit, cfg.RateBurst),
		retry:   cfg.Retry,
		timeout: cfg.RequestTimeout,
		log:     cfg.Logger,
	}, nil
}

// ---- Calls ----

// CreateOptions are the choices of a create call that are not sent as such.
type CreateOptions struct {
	// IdentifierKind says what CreateSessionRequest.Identifier is. Empty
	// means the organization number of the session's country (for
	// beneficial owners: a Norwegian organization number); identifier.DUNS
	// is the other kind accepted. A 9-digit value can be either, so DUNS
	// is never guessed.
	IdentifierKind identifier.Kind
}

// CreateOrganizationSession opens an organization session in country and
// returns its session id. The identifier is validated first and sent in its
// canonical form; an invalid one is a Permanent error wrapping
// identifier.ErrInvalid, and nothing is sent.
//
// A create that fails in a way that leaves its outcome unknown (a timeout,
// a 500) is retried like any transient failure, with a warning in the log:
// the API may have opened a session anyway, so a duplicate may result.
func (c *Client) CreateOrganizationSession(ctx context.Context, country Country, req CreateSessionRequest, opts CreateOptions) (string, error) {
	op := "create organization session " + string(country)
	if !country.Valid() {
		return "", &Error{Op: op, Class: Permanent, Err: fmt.Errorf("unknown country %q, want %s, %s or %s", country, NO, SE, FI)}
	}
	orgKind, _ := identifier.ForCountry(string(country))
	return c.create(ctx, op, CreateOrganizationPath(country), req, opts.IdentifierKind, orgKind)
}

// CreateBeneficialSession opens a beneficial owners session and returns its
// session id. The identifier is a Norwegian organization number, or a DUNS
// number when opts say so; it is validated as for
// CreateOrganizationSession.
func (c *Client) CreateBeneficialSession(ctx context.Context, req CreateSessionRequest, opts CreateOptions) (string, error) {
	return c.create(ctx, "create beneficial owners session", CreateBeneficialPath, req, opts.IdentifierKind, identifier.NorwegianOrgNumber)
}

func (c *Client) create(ctx context.Context, op, path string, req CreateSessionRequest, kind, orgKind identifier.Kind) (string, error) {
	if kind == "" {
		kind = orgKind
	}
	if kind != orgKind && kind != identifier.DUNS {
		return "", &Error{Op: op, Class: Permanent, Err: &identifier.Error{
			Kind: kind, Value: req.Identifier,
			Reason: fmt.Sprintf("not accepted here; want a %s or a %s", orgKind.Description(), identifier.DUNS.Description()),
		}}
	}
	id, err := identifier.Normalize(kind, req.Identifier)
	if err != nil {
		return "", &Error{Op: op, Class: Permanent, Err: err}
	}
	req.Identifier, req.IdentifierType = id, "" // req is our copy
	if kind == identifier.DUNS {
		req.IdentifierType = IdentifierTypeDUNS
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", &Error{Op: op, Class: Permanent, Err: fmt.Errorf("encode request: %w", err)}
	}
	resp, err := c.send(ctx, &call{op: op, method: http.MethodPost, url: c.baseURL + path, body: body, notFound: Permanent, create: true})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	// From here on the session exists upstream: failures are Permanent, so
	// that nobody opens another one by retrying.
	var created SessionCreated
	if err := decodeJSON(resp.Body, &created); err != nil {
		return "", &Error{Op: op, StatusCode: resp.StatusCode, Class: Permanent, Err: fmt.Errorf("decode answer: %w", err)}
	}
	if created.SessionID == "" {
		return "", &Error{Op: op, StatusCode: resp.StatusCode, Class: Permanent, Err: errors.New("answer has no sessionId")}
	}
	return created.SessionID, nil
}

// Session returns the status of a session and the links of its results. A
// session that is unknown or past its lifetime is an Expired error.
// Unknown statuses and fields are tolerated (see DecodeSession).
func (c *Client) Session(ctx context.Context, kind Kind, sessionID string) (*Session, error) {
	op := "get " + string(kind) + " session"
	if kind != KindOrganization && kind != KindBeneficial {
		return nil, &Error{Op: op, Class: Permanent, Err: fmt.Errorf("unknown session kind %q", kind)}
	}
	if sessionID == "" {
		return nil, &Error{Op: op, Class: Permanent, Err: errors.New("empty session id")}
	}
	resp, err := c.send(ctx, &call{op: op, method: http.MethodGet, url: c.baseURL + SessionPath(kind, sessionID), notFound: Expired})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSessionBody+1))
	if err != nil {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Class: transportClass(err), Err: fmt.Errorf("read answer: %w", err)}
	}
	if len(body) > maxSessionBody {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Class: Unreadable, Shape: "over 1 MiB", Err: errors.New("answer too large")}
	}
	s, err := DecodeSession(bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Class: Unreadable, Shape: Shape(body), Err: err}
	}
	s.fillLinks(kind, sessionID)
	return s, nil
}

// maxSessionBody bounds a session answer we read (they are a few hundred
// bytes).
const maxSessionBody = 1 << 20

// fillLinks gives every READY entity without a link the model's content
// path (ContentLink), as the guides' example shape lists no links.
func (s *Session) fillLinks(kind Kind, sessionID string) {
	if s.JSONData.Status == EntityReady && s.JSONData.Link == "" {
		s.JSONData.Link = ContentLink(kind, sessionID, "")
	}
	for t, e := range s.Reports {
		if e.Status == EntityReady && e.Link == "" {
			e.Link = ContentLink(kind, sessionID, t)
			s.Reports[t] = e
		}
	}
}

// AccessRights tells whether we have delegated access to the Norwegian
// National Registry, which beneficial owners expands such as citizenship
// need.
func (c *Client) AccessRights(ctx context.Context) (*AccessRights, error) {
	const op = "get access rights"
	resp, err := c.send(ctx, &call{op: op, method: http.MethodGet, url: c.baseURL + AccessRightsPath, notFound: Permanent})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ar AccessRights
	if err := decodeJSON(resp.Body, &ar); err != nil {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Class: Permanent, Err: fmt.Errorf("decode answer: %w", err)}
	}
	return &ar, nil
}

// Download is a result being downloaded. The caller reads and closes Body.
type Download struct {
	// Body streams the content; it is never read whole into memory.
	Body io.ReadCloser
	// Size is the content length in bytes, -1 if unknown.
	Size int64
	// ContentType is the Content-Type header, e.g. ContentTypeJSON or
	// ContentTypePDF.
	ContentType string
}

// Download starts downloading a result from a link of a Session (Entity.Link).
// A relative link is resolved against the base URL. The link must be on the
// API host (the scheme and host of Config.BaseURL): the access token is
// never sent elsewhere, and a link to another host is a Permanent error
// wrapping ErrForeignLink.
//
// Failures before the body is returned are retried like any call; once the
// body is returned, an error while reading it is the caller's to handle
// (ClassOf says Transient for a broken connection). A result past its
// lifetime is an Expired error.
func (c *Client) Download(ctx context.Context, link string) (*Download, error) {
	u, err := c.resolveLink(link)
	if err != nil {
		return nil, &Error{Op: "download", Class: Permanent, Err: err}
	}
	resp, err := c.send(ctx, &call{op: "download " + u.EscapedPath(), method: http.MethodGet, url: u.String(), notFound: Expired, stream: true}) //nolint:bodyclose // the body is the caller's to close (Download.Body)
	if err != nil {
		return nil, err
	}
	return &Download{Body: resp.Body, Size: resp.ContentLength, ContentType: resp.Header.Get("Content-Type")}, nil
}

// resolveLink resolves link against the base URL and checks that it is on
// the API host.
func (c *Client) resolveLink(link string) (*url.URL, error) {
	if link == "" {
		return nil, errors.New("empty link")
	}
	ref, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("parse link: %w", err)
	}
	u := c.base.ResolveReference(ref)
	if !sameOrigin(u, c.base) {
		return nil, fmt.Errorf("%w: %s://%s is not the API host %s://%s, and our access token is only ever sent to the API host",
			ErrForeignLink, u.Scheme, u.Host, c.base.Scheme, c.base.Host)
	}
	return u, nil
}

// withoutCrossOriginAuth returns a copy of hc whose redirects never carry
// credentials to another origin: the Authorization header (our bearer
// token, or Basic client credentials) is dropped, and a request with a
// body (a token request may carry client_secret in its form) is not
// redirected across origins at all. Go's own rule keeps Authorization for
// the same host on another port or scheme, and for subdomains.
func withoutCrossOriginAuth(hc *http.Client) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && !sameOrigin(req.URL, via[0].URL) {
			if via[0].Method != http.MethodGet && via[0].Method != http.MethodHead {
				return fmt.Errorf("refusing a redirect of %s %s to another origin, %s", via[0].Method, via[0].URL.Redacted(), req.URL.Redacted())
			}
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// ---- Sending, with retries ----

// call is one API call, whatever its attempts.
type call struct {
	op       string
	method   string
	url      string
	body     []byte // re-sent on every attempt; nil for none
	notFound Class  // the class of a 404
	create   bool   // opens a session: warn when a retry may duplicate it
	stream   bool   // return the body unread (Download)
}

// maxAnswerSize bounds the JSON answers read into memory (not downloads).
const maxAnswerSize = 1 << 20

// send makes the call, retrying transient failures as c.retry says. It
// returns a success answer (2xx), whose body the caller closes, or an *Error.
func (c *Client) send(ctx context.Context, cl *call) (*http.Response, error) {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.retry.InitialInterval),
		backoff.WithMaxInterval(c.retry.MaxInterval),
		backoff.WithMaxElapsedTime(c.retry.MaxElapsedTime),
	)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, cl)
		if err == nil {
			return resp, nil
		}
		if err.Class != Transient || ctx.Err() != nil {
			return nil, err
		}
		if attempt >= c.retry.MaxAttempts {
			c.log.Debug("giving up", "op", cl.op, "attempts", attempt, "err", err)
			return nil, err
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			c.log.Debug("giving up", "op", cl.op, "attempts", attempt, "elapsed", time.Since(start), "err", err)
			return nil, err
		}
		wait = max(wait, err.RetryAfter)
		if time.Since(start)+wait > c.retry.MaxElapsedTime {
			c.log.Debug("giving up: the wait would pass the retry budget", "op", cl.op, "wait", wait, "err", err)
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
			c.log.Debug("giving up: the wait would pass the context deadline", "op", cl.op, "wait", wait, "err", err)
			return nil, err
		}
		if cl.create && err.ambiguous {
			c.log.Warn("retrying a create call whose outcome is unknown: a duplicate session may have been opened",
				"op", cl.op, "attempt", attempt, "err", err)
		}
		c.log.Info("retrying", "op", cl.op, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			last := *err
			last.Err = fmt.Errorf("gave up waiting to retry: %w", context.Cause(ctx))
			if err.Err != nil {
				last.Err = fmt.Errorf("%w; gave up waiting to retry: %w", err.Err, context.Cause(ctx))
			}
			return nil, &last
		case <-t.C:
		}
	}
}

// attempt makes one attempt of the call. A 401 earns one more round trip
// with a fresh token within the attempt; a second 401 is Permanent.
func (c *Client) attempt(ctx context.Context, cl *call) (*http.Response, *Error) {
	resp, tok, err := c.roundTrip(ctx, cl)
	if err != nil && err.StatusCode == http.StatusUnauthorized && tok != nil {
		c.log.Debug("token rejected; fetching a new one", "op", cl.op, "err", err)
		c.tokens.invalidate(tok)
		resp, _, err = c.roundTrip(ctx, cl)
	}
	return resp, err
}

// roundTrip waits for the rate limiter, gets a token and makes one request,
// within RequestTimeout. It returns the token it used when the request was
// sent. For a non-stream call the body is read (and bounded) here, so that
// a connection lost mid-answer is retried too.
func (c *Client) roundTrip(ctx context.Context, cl *call) (*http.Response, *oauth2.Token, *Error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, nil, &Error{Op: cl.op, Class: Transient, Err: fmt.Errorf("wait for the rate limiter: %w", err)}
	}
	timeout := &attemptTimeout{after: c.timeout}
	actx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(c.timeout, func() { cancel(timeout) })
	handedOver := false
	defer func() {
		if !handedOver {
			timer.Stop()
			cancel(nil)
		}
	}()
	// timedOut tells an attempt timeout apart from the caller's context
	// ending, both of which cancel actx.
	timedOut := func() bool { return ctx.Err() == nil && errors.Is(context.Cause(actx), timeout) }
	failed := func(op string, err error) *Error {
		if timedOut() {
			return &Error{Op: op, Class: Transient, Err: timeout}
		}
		return &Error{Op: op, Class: transportClass(err), Err: err}
	}

	tok, terr := c.tokens.token(actx)
	if terr != nil {
		e := *terr
		e.Op = cl.op + ": " + terr.Op
		if e.StatusCode == 0 && timedOut() {
			e.Class, e.Err = Transient, timeout
		}
		return nil, nil, &e
	}

	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, cl.url, body)
	if err != nil {
		return nil, nil, &Error{Op: cl.op, Class: Permanent, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if cl.body != nil {
		req.Header.Set("Content-Type", ContentTypeJSON)
	}
	if !cl.stream {
		req.Header.Set("Accept", ContentTypeJSON)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		e := failed(cl.op, err)
		e.ambiguous = !isDialError(err)
		return nil, tok, e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		e := responseError(cl.op, resp, b, cl.notFound)
		switch resp.StatusCode {
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
			e.ambiguous = true
		}
		return nil, tok, e
	}
	if cl.stream {
		if !timer.Stop() { // the attempt timed out as the headers came
			resp.Body.Close()
			return nil, tok, &Error{Op: cl.op, Class: Transient, Err: timeout}
		}
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		handedOver = true
		return resp, tok, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize+1))
	resp.Body.Close()
	if err != nil {
		e := failed(cl.op, fmt.Errorf("read answer: %w", err))
		e.StatusCode, e.ambiguous = resp.StatusCode, true
		return nil, tok, e
	}
	if len(b) > maxAnswerSize {
		return nil, tok, &Error{Op: cl.op, StatusCode: resp.StatusCode, Class: Permanent, Err: fmt.Errorf("answer is larger than %d bytes", maxAnswerSize)}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, tok, nil
}

// cancelOnClose ends a download's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
