package amlapi

// Sending one API call, with retries: rate limit, token, attempt,
// classification of the answer.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/oauth2"
)

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

// Once returns a context under which a call is made once, its transient
// failures returned at once instead of retried: for a probe whose caller
// asks again later anyway (a report that only the JSON links, with no
// status to say whether it is ready: the handler downloads it on each
// poll, and a 409 "not ready" is then one request, not a retry budget).
func Once(ctx context.Context) context.Context { return context.WithValue(ctx, onceKey{}, true) }

type onceKey struct{}

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
		if err.Class != Transient || ctx.Err() != nil || ctx.Value(onceKey{}) != nil {
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
