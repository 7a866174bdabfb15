package sandbox

import (
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// Behaviour is what a special identifier always does, whatever the fault
// rates.
type Behaviour string

// The behaviours of special identifiers. BehaviourNormal is every other
// identifier.
const (
	BehaviourNormal Behaviour = ""
	// BehaviourFail: the session fails (status FAILED, Failed webhook).
	BehaviourFail Behaviour = "fail"
	// BehaviourSanctionHit: the sanction block has status HIT and matches.
	BehaviourSanctionHit Behaviour = "sanction-hit"
	// BehaviourNoOwners: no beneficial owners (ownership.beneficials is an
	// empty node, the beneficial owners list is empty).
	BehaviourNoOwners Behaviour = "no-owners"
	// BehaviourSlow: the JSON is READY after 10 × ReadyAfter.
	BehaviourSlow Behaviour = "slow"
	// BehaviourExpires: entities expire ExpiresAtOnceLifetime after they are
	// READY (the session is still forgotten only Lifetime after that).
	BehaviourExpires Behaviour = "expires"
	// BehaviourReportsLate: the reports are READY ReportsLateFactor ×
	// ReadyAfter after the JSON (within its lifetime), and a guide-shaped
	// session answer does not list them: the JSON's links.reports does.
	BehaviourReportsLate Behaviour = "reports-late"
	// BehaviourReportsNever: the reports never become READY (their links
	// answer 409 not ready; the session stays IN_PROGRESS until forgotten),
	// and a guide-shaped session answer does not list them: the JSON's
	// links.reports does.
	BehaviourReportsNever Behaviour = "reports-never"
)

// ReportsLateFactor multiplies ReadyAfter for the delay between the JSON
// and the first report of a BehaviourReportsLate session.
const ReportsLateFactor = 10

// ExpiresAtOnceLifetime is the lifetime of the entities of a
// BehaviourExpires session (or Config.Lifetime, if shorter).
const ExpiresAtOnceLifetime = time.Second

// SlowFactor multiplies ReadyAfter for a BehaviourSlow session.
const SlowFactor = 10

// Special identifiers, in canonical form (see internal/identifier). All have
// valid check digits. Beneficial owners sessions use the Norwegian ones.
const (
	FailNO = "910000004"
	FailSE = "5599000006"
	FailFI = "9900001-8"

	SanctionHitNO = "910000012"
	SanctionHitSE = "5599000014"
	SanctionHitFI = "9900002-6"

	NoOwnersNO = "910000020"
	NoOwnersSE = "5599000022"
	NoOwnersFI = "9900003-4"

	SlowNO = "910000039"
	SlowSE = "5599000030"
	SlowFI = "9900004-2"

	ExpiresNO = "910000047"
	ExpiresSE = "5599000048"
	ExpiresFI = "9900005-0"

	ReportsLateNO = "910000055"
	ReportsLateSE = "5599000055"
	ReportsLateFI = "9900006-9"

	ReportsNeverNO = "910000063"
	ReportsNeverSE = "5599000063"
	ReportsNeverFI = "9900007-7"
)

// Special is one special identifier.
type Special struct {
	Country    amlapi.Country
	Identifier string
	Behaviour  Behaviour
	Name       string // the organization's name in the synthetic data
}

// SpecialIdentifiers lists the special identifiers (a fresh slice).
func SpecialIdentifiers() []Special {
	return identifiersOf([]identifierRow{
		{BehaviourFail, FailNO, FailSE, FailFI, "Sandbox Fails"},
		{BehaviourSanctionHit, SanctionHitNO, SanctionHitSE, SanctionHitFI, "Sandbox Sanction Hit"},
		{BehaviourNoOwners, NoOwnersNO, NoOwnersSE, NoOwnersFI, "Sandbox No Owners"},
		{BehaviourSlow, SlowNO, SlowSE, SlowFI, "Sandbox Slow"},
		{BehaviourExpires, ExpiresNO, ExpiresSE, ExpiresFI, "Sandbox Expires"},
		{BehaviourReportsLate, ReportsLateNO, ReportsLateSE, ReportsLateFI, "Sandbox Reports Late"},
		{BehaviourReportsNever, ReportsNeverNO, ReportsNeverSE, ReportsNeverFI, "Sandbox Reports Never"},
	})
}

// identifierRow is one behaviour's identifiers in NO, SE and FI, and the
// name its organizations share.
type identifierRow struct {
	b          Behaviour
	no, se, fi string
	name       string
}

// identifiersOf is the special identifiers of rows, three per row.
func identifiersOf(rows []identifierRow) []Special {
	var out []Special
	for _, r := range rows {
		out = append(out,
			Special{amlapi.NO, r.no, r.b, r.name + " AS"},
			Special{amlapi.SE, r.se, r.b, r.name + " AB"},
			Special{amlapi.FI, r.fi, r.b, r.name + " Oy"})
	}
	return out
}

// special returns the special entry of a canonical identifier of country c,
// if it is one.
func special(c amlapi.Country, id string) (Special, bool) {
	for _, s := range append(append(SpecialIdentifiers(), ChangingIdentifiers()...), ReportIdentifiers()...) {
		if s.Country == c && s.Identifier == id {
			return s, true
		}
	}
	return Special{}, false
}
