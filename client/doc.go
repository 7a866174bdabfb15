// Package client is the contract of package kybflow as a platform or a
// downstream service uses it over NATS and S3: Submit publishes a lookup
// command and waits for JetStream to store it, Follow and Wait read one
// lookup's events by subject, Events follows the events stream with a
// consumer, and FetchArtifact downloads a stored result and checks its
// size and SHA-256. CreateMonitor, UpdateMonitor, PauseMonitor,
// ResumeMonitor and DeleteMonitor send monitor commands, and WaitMonitor
// reads the monitor event that answers one.
//
// It is a package of its own so that the contract (package kybflow) has no
// dependencies: a service that only decodes events links none of NATS or
// S3.
package client
