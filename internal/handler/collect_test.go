package handler

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
)

// sessionAnswers is the real client with every status call answered by err.
type sessionAnswers struct {
	API
	err  error
	sess *amlapi.Session
}

func (s sessionAnswers) Session(context.Context, amlapi.Kind, string) (*amlapi.Session, error) {
	return s.sess, s.err
}

func openedRecord(id string, openedAgo time.Duration) lookups.Record {
	return lookups.Record{State: lookups.Opened, SessionID: "s-" + id, OpenedAt: time.Now().Add(-openedAgo), AcceptedAt: time.Now().Add(-openedAgo),
		Command: kybflow.LookupCommand{LookupID: id, Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
			IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"}}
}

// Nothing decoded after a paid create ends a lookup as rejected: an answer
// we cannot read, or a 404 soon after the create (our model's path is
// wrong), is retried, and only LOOKUP_MAX_WAIT ends it, as unavailable. A
// 404 once the results' lifetime has passed is an expiry.
func TestPaidSessionsAreNotRejectedForOurModel(t *testing.T) {
	unreadable := &amlapi.Error{Op: "get organization session", StatusCode: 200, Class: amlapi.Unreadable, Shape: "array(1)", Err: errors.New("not an object")}
	notFound := &amlapi.Error{Op: "get organization session", StatusCode: 404, Class: amlapi.Expired}
	for _, tc := range []struct {
		name      string
		err       error
		openedAgo time.Duration
		want      streams.Action
		code      kybflow.FailureCode
	}{
		{"unreadable, within the wait", unreadable, time.Minute, streams.ActRetry, ""},
		{"unreadable, past the wait", unreadable, 2 * time.Hour, streams.ActTerm, kybflow.CodeUnavailable},
		{"404 soon after the create", notFound, time.Minute, streams.ActRetry, ""},
		{"404 past the results' lifetime", notFound, amlapi.Lifetime + time.Minute, streams.ActTerm, kybflow.CodeExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, store, _ := newHandlersWith(t, func(a API) API { return sessionAnswers{API: a, err: tc.err} })
			h.c.MaxWait = time.Hour
			ctx := context.Background()
			rec := openedRecord("m-1", tc.openedAgo)
			rev, err := store.Create(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			_, o := h.progress(ctx, rec, rev)
			act, delay := streams.Decide(ctx, o, 1, streams.Backoff{})
			if act != tc.want {
				t.Fatalf("%s: %s (%v), want %s", tc.name, act, o, tc.want)
			}
			if act == streams.ActRetry && delay != unreadableRetry {
				t.Errorf("retried after %s, want %s", delay, unreadableRetry)
			}
			got, _, _ := store.Get(ctx, "m-1")
			if tc.code == "" && got.State != lookups.Opened {
				t.Errorf("state %s, want still opened", got.State)
			}
			if tc.code != "" && (got.Failure == nil || got.Failure.Code != tc.code) {
				t.Errorf("failure %+v, want code %s", got.Failure, tc.code)
			}
		})
	}
}

// An entity status the model does not know is waited for; past
// LOOKUP_MAX_WAIT the lookup ends unavailable (our model's gap), not expired.
func TestUnknownStatusEndsUnavailable(t *testing.T) {
	odd := &amlapi.Session{JSONData: amlapi.Entity{Status: "PROCESSING"}}
	h, store, _ := newHandlersWith(t, func(a API) API { return sessionAnswers{API: a, sess: odd} })
	h.c.MaxWait = time.Hour
	ctx := context.Background()
	for _, tc := range []struct {
		ago  time.Duration
		done bool
	}{{time.Minute, false}, {2 * time.Hour, true}} {
		id := fmt.Sprintf("u-%t", tc.done)
		rec := openedRecord(id, tc.ago)
		rev, err := store.Create(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		done, o := h.progress(ctx, rec, rev)
		if done != tc.done {
			t.Fatalf("opened %s ago: done %t (%v), want %t", tc.ago, done, o, tc.done)
		}
		if tc.done {
			got, _, _ := store.Get(ctx, id)
			if got.Failure == nil || got.Failure.Code != kybflow.CodeUnavailable {
				t.Errorf("failure %+v, want unavailable", got.Failure)
			}
		}
	}
}
