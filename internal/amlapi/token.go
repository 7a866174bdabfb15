package amlapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenSource hands out a cached client-credentials access token. It
// discovers the token endpoint on first use (and caches it once found),
// fetches a new token a margin before the old one expires, and forgets a
// token the API rejected (invalidate).
//
// It is not oauth2.ReuseTokenSource, because that cannot be told that a
// token was rejected. One fetch runs at a time; the others wait for it (or
// for their context) and then use its token.
type tokenSource struct {
	conf   *clientcredentials.Config // TokenURL is empty until discovered
	issuer string
	hc     *http.Client
	margin time.Duration
	log    *slog.Logger

	lock      chan struct{} // a mutex whose waiters can give up; guards the fields below and conf
	tok       *oauth2.Token
	refreshAt time.Time // when to fetch a new token; zero: never (no expiry given)
}

func newTokenSource(cfg *Config, hc *http.Client, log *slog.Logger) *tokenSource {
	style := oauth2.AuthStyleInHeader
	if cfg.ClientAuth == ClientSecretPost {
		style = oauth2.AuthStyleInParams
	}
	return &tokenSource{
		conf: &clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     cfg.TokenURL,
			Scopes:       cfg.Scopes,
			AuthStyle:    style,
		},
		issuer: cfg.IssuerURL,
		hc:     hc,
		margin: cfg.TokenRefreshMargin,
		log:    log,
		lock:   make(chan struct{}, 1),
	}
}

// token returns a valid token, fetching one if the cached one is missing or
// due for refresh. Its errors have Op "fetch token" or "discover token
// endpoint".
func (s *tokenSource) token(ctx context.Context) (*oauth2.Token, *Error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, &Error{Op: "fetch token", Class: Transient, Err: fmt.Errorf("wait for a token fetch in progress: %w", context.Cause(ctx))}
	}
	defer func() { <-s.lock }()

	if s.tok != nil && (s.refreshAt.IsZero() || time.Now().Before(s.refreshAt)) {
		return s.tok, nil
	}
	if s.conf.TokenURL == "" {
		tokenURL, err := s.discover(ctx)
		if err != nil {
			return nil, err
		}
		s.conf.TokenURL = tokenURL
		s.log.Debug("discovered token endpoint", "issuer", s.issuer, "token_endpoint", tokenURL)
	}
	start := time.Now()
	fctx := ctx
	stillValid := s.tok != nil && time.Now().Before(s.tok.Expiry)
	if stillValid {
		// An early refresh: bound it, so that a hanging token endpoint does
		// not use up the time of the call that still has a good token.
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(ctx, earlyRefreshTimeout)
		defer cancel()
	}
	tok, err := s.conf.Token(context.WithValue(fctx, oauth2.HTTPClient, s.hc))
	if err != nil {
		if stillValid && ctx.Err() == nil {
			// The token we have is still good: use it, and try the endpoint
			// again a little later rather than on every call.
			s.log.Warn("token refresh failed; using the current token until it expires", "expiry", s.tok.Expiry, "err", err)
			s.refreshAt = time.Now().Add(earlyRefreshBackoff)
			if s.refreshAt.After(s.tok.Expiry) {
				s.refreshAt = s.tok.Expiry
			}
			return s.tok, nil
		}
		return nil, tokenError(err)
	}
	s.tok, s.refreshAt = tok, refreshTime(start, tok.Expiry, s.margin)
	s.log.Debug("fetched access token", "expiry", tok.Expiry, "refresh_at", s.refreshAt)
	return tok, nil
}

// How an early refresh (the token still valid) is bounded and, when it
// fails, spaced.
const (
	earlyRefreshTimeout = 5 * time.Second
	earlyRefreshBackoff = 5 * time.Second
)

// invalidate forgets tok if it is still the cached token, so that the next
// call fetches a new one. A token fetched meanwhile by someone else is kept.
func (s *tokenSource) invalidate(tok *oauth2.Token) {
	s.lock <- struct{}{}
	defer func() { <-s.lock }()
	if s.tok == tok {
		s.tok = nil
	}
}

// refreshTime is when a token fetched at fetched and expiring at expiry
// should be replaced: margin before expiry, but no earlier than half its
// lifetime, so that a short-lived token is not fetched again on every call.
// A token without expiry is kept until the API rejects it (zero time).
func refreshTime(fetched, expiry time.Time, margin time.Duration) time.Time {
	if expiry.IsZero() {
		return time.Time{}
	}
	if half := expiry.Sub(fetched) / 2; margin > half {
		margin = max(half, 0)
	}
	return expiry.Add(-margin)
}

// maxDiscoverySize bounds the OpenID configuration document we read.
const maxDiscoverySize = 1 << 20

// discover reads the token endpoint from the issuer's OpenID configuration.
func (s *tokenSource) discover(ctx context.Context) (string, *Error) {
	const op = "discover token endpoint"
	wellKnown := strings.TrimSuffix(s.issuer, "/") + WellKnownPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wellKnown, nil)
	if err != nil {
		return "", &Error{Op: op, Class: Permanent, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return "", &Error{Op: op, Class: transportClass(err), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoverySize))
	if err != nil {
		return "", &Error{Op: op, Class: transportClass(err), Err: fmt.Errorf("read %s: %w", wellKnown, err)}
	}
	if resp.StatusCode != http.StatusOK {
		return "", responseError(op, resp, body, Permanent)
	}
	var d Discovery
	if err := decodeJSON(bytes.NewReader(body), &d); err != nil {
		return "", &Error{Op: op, StatusCode: resp.StatusCode, Class: Permanent, Err: fmt.Errorf("decode %s: %w", wellKnown, err)}
	}
	if err := checkHTTPURL(d.TokenEndpoint); err != nil {
		return "", &Error{Op: op, StatusCode: resp.StatusCode, Class: Permanent, Err: fmt.Errorf("%s: token_endpoint: %w", wellKnown, err)}
	}
	// OpenID Connect Discovery 1.0, 4.3: the document must name the issuer
	// we asked for, or our client secret could follow a document we did not
	// mean to trust (a redirect, a tampered answer). And an https issuer
	// must not send the secret to a plain http token endpoint.
	if d.Issuer != "" && strings.TrimSuffix(d.Issuer, "/") != strings.TrimSuffix(s.issuer, "/") {
		return "", &Error{Op: op, StatusCode: resp.StatusCode, Class: Permanent,
			Err: fmt.Errorf("%s names the issuer %q, not %q: configure that issuer if it is the right one", wellKnown, d.Issuer, s.issuer)}
	}
	if strings.HasPrefix(s.issuer, "https:") && !strings.HasPrefix(d.TokenEndpoint, "https:") {
		return "", &Error{Op: op, StatusCode: resp.StatusCode, Class: Permanent,
			Err: fmt.Errorf("%s: token_endpoint %q is not https although the issuer is", wellKnown, d.TokenEndpoint)}
	}
	return d.TokenEndpoint, nil
}

// tokenError classifies an error of the token endpoint: its 400 and 401
// (invalid_client, invalid_scope, ...) are Permanent, its 5xx, 408 and 429
// Transient, like any answer; network errors as ClassOf says.
func tokenError(err error) *Error {
	const op = "fetch token"
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return &Error{Op: op, Class: transportClass(err), Err: err}
	}
	e := &Error{Op: op, Class: Permanent, Code: re.ErrorCode, Message: re.ErrorDescription}
	if re.Response != nil {
		e.StatusCode = re.Response.StatusCode
		e.Class = statusClass(re.Response.StatusCode, Permanent)
		e.RetryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
	}
	if e.StatusCode >= 200 && e.StatusCode <= 299 {
		e.Class = Permanent // an error in a 200 answer (some servers do this)
	}
	return e
}

// checkHTTPURL checks that s is an absolute http or https URL.
func checkHTTPURL(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", s)
	}
	return nil
}
