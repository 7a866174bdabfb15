package streams

import (
	"context"
	"errors"
	"reflect"

	"github.com/nats-io/nats.go/jetstream"
)

// Ensure changes only what differs: a stream, the bucket or a consumer whose
// configuration already has every value the topology sets is left alone.
// So a worker restarting against an unchanged topology reads it (stream
// and consumer info, which a least-privileged worker's NATS user has) and
// writes nothing: it needs the rights to create and update only when a
// setting changed, and many replicas starting at once make no updates.

// covers reports whether have, a configuration the server holds, already
// has every field want sets (is not zero in): the server fills in the
// rest, and a field it normalises makes covers false, which only costs an
// update.
func covers[T any](have, want T) bool {
	merged := have
	mv, wv := reflect.ValueOf(&merged).Elem(), reflect.ValueOf(want)
	for i := range wv.NumField() {
		if f := wv.Field(i); !f.IsZero() && mv.Field(i).CanSet() {
			mv.Field(i).Set(f)
		}
	}
	return reflect.DeepEqual(merged, have)
}

// currentBucket is the bucket when it exists with the configuration kv
// asks for (history, TTL, bytes, replicas, storage, description), nil
// when it must be made or updated.
func (t Topology) currentBucket(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	st, err := js.Stream(ctx, "KV_"+kv.Bucket)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c := st.CachedInfo().Config
	if c.MaxMsgsPerSubject != int64(kv.History) || c.MaxAge != kv.TTL || c.MaxBytes != kv.MaxBytes ||
		c.Replicas != kv.Replicas || c.Storage != kv.Storage || c.Description != kv.Description {
		return nil, nil
	}
	return js.KeyValue(ctx, kv.Bucket)
}
