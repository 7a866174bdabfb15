package envconfig

// The contract's settings: the names package kybflow gives the worker's
// subjects, objects and events, which every program that reads them must
// share. Package kybflow imports nothing, so they are declared here, as
// natsconn's are, each with kybflow's default.

import "github.com/kybflow/kybflow"

// The contract's variables.
const (
	EnvSubjectPrefix = "AML_SUBJECT_PREFIX"
	EnvKeyPrefix     = "BLOB_KEY_PREFIX"
	EnvEventSource   = "EVENT_SOURCE"
)

// SubjectPrefix registers AML_SUBJECT_PREFIX, the prefix of the subjects
// and streams (kybflow.Subjects), default kybflow.DefaultPrefix.
func (s *Set) SubjectPrefix(p *string) {
	s.String(p, EnvSubjectPrefix, "subject-prefix", kybflow.DefaultPrefix, "prefix of every NATS subject and stream name")
}

// KeyPrefix registers BLOB_KEY_PREFIX, the prefix of the object keys
// (kybflow.ObjectKeys), default kybflow.DefaultKeyPrefix.
func (s *Set) KeyPrefix(p *string) {
	s.String(p, EnvKeyPrefix, "blob-key-prefix", kybflow.DefaultKeyPrefix, "prefix of every object key")
}

// EventSource registers EVENT_SOURCE, the CloudEvents source of the events,
// default kybflow.DefaultSource.
func (s *Set) EventSource(p *string) {
	s.String(p, EnvEventSource, "event-source", kybflow.DefaultSource, "CloudEvents source of published events")
}

// SubjectPrefix reports AML_SUBJECT_PREFIX unless prefix makes valid
// subjects.
func (c *Checker) SubjectPrefix(prefix string) {
	if _, err := kybflow.NewSubjects(prefix); err != nil {
		c.Check(false, EnvSubjectPrefix, "%v", err)
	}
}

// KeyPrefix reports BLOB_KEY_PREFIX unless prefix makes valid object keys.
func (c *Checker) KeyPrefix(prefix string) {
	if err := (kybflow.ObjectKeys{Prefix: prefix}).Validate(); err != nil {
		c.Check(false, EnvKeyPrefix, "%v", err)
	}
}

// EventSource reports EVENT_SOURCE when it is empty.
func (c *Checker) EventSource(source string) { c.Require(EnvEventSource, source) }
