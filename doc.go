// Package kybflow is the public contract of kybflow, at the centre of the
// module: the lookup command that platforms publish, the CloudEvents the
// worker publishes back, the NATS subjects and stream names they travel
// on, the failure codes, and the object keys of the artifacts a lookup
// stores. Its types validate and encode without I/O, and it imports only
// the standard library: the contract's client over NATS and S3 is package
// github.com/kybflow/kybflow/client. Platforms and
// downstream services import it as github.com/kybflow/kybflow; every other
// package of the module may depend on it.
//
// It imports nothing of ours except package identifier (the check-digit
// rules, public too). The few enumerations it shares with the AML API model
// (internal/amlapi) are duplicated here on purpose, so that the contract
// changes only by a deliberate edit; a test fails when the two drift.
//
// The JSON Schemas in docs/schemas describe exactly what this package
// accepts and produces, and docs/contract.md describes the whole contract
// for people; tests keep the three in step.
package kybflow
