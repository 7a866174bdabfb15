package sandbox

import (
	"slices"
	"sync"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// Changing identifiers are special identifiers whose document depends on
// which session of the identifier it is: the nth session created for an
// identifier (per kind, country and identifier, in this Sandbox value) gets
// the document of session n, fixed at create, so it is the same on every
// download. They serve tests of monitors, lookups re-run on a schedule that
// compare their results block by block: each step changes the named blocks
// and nothing else. From session ChangingSessions on, the document stays
// that of session ChangingSessions.

// The behaviours of changing identifiers.
const (
	// BehaviourSteady never changes: the control of a monitor test.
	BehaviourSteady Behaviour = "steady"
	// BehaviourChangingRoles: session 2 adds a board member, session 3
	// removes the first one (roles only).
	BehaviourChangingRoles Behaviour = "changing-roles"
	// BehaviourChangingOwners: session 2 adds a beneficial owner and
	// shareholder, session 3 drops the first one (ownership.beneficials,
	// ownership.shareholders and the beneficial owners list only).
	BehaviourChangingOwners Behaviour = "changing-owners"
	// BehaviourChangingStatus: keyInformation.status is ACTIVE, BANKRUPT,
	// then DISSOLVED.
	BehaviourChangingStatus Behaviour = "changing-status"
	// BehaviourChangingSanction: sanction is NO_HIT, then HIT with one match
	// (two with OFAC), then HIT with two (three with OFAC).
	BehaviourChangingSanction Behaviour = "changing-sanction"
)

// ChangingSessions is the session from which a changing identifier's
// document no longer changes.
const ChangingSessions = 3

// Changing identifiers, in canonical form, with valid check digits.
// Beneficial owners sessions use the Norwegian ones.
const (
	SteadyNO = "910001000"
	SteadySE = "5599001004"
	SteadyFI = "9900100-2"

	ChangingRolesNO = "910001019"
	ChangingRolesSE = "5599001012"
	ChangingRolesFI = "9900101-0"

	ChangingOwnersNO = "910001027"
	ChangingOwnersSE = "5599001020"
	ChangingOwnersFI = "9900102-9"

	ChangingStatusNO = "910001035"
	ChangingStatusSE = "5599001038"
	ChangingStatusFI = "9900103-7"

	ChangingSanctionNO = "910001043"
	ChangingSanctionSE = "5599001046"
	ChangingSanctionFI = "9900104-5"
)

// ChangingIdentifiers lists the changing identifiers (a fresh slice). They
// are not in SpecialIdentifiers.
func ChangingIdentifiers() []Special {
	return identifiersOf([]identifierRow{
		{BehaviourSteady, SteadyNO, SteadySE, SteadyFI, "Sandbox Steady"},
		{BehaviourChangingRoles, ChangingRolesNO, ChangingRolesSE, ChangingRolesFI, "Sandbox Changing Roles"},
		{BehaviourChangingOwners, ChangingOwnersNO, ChangingOwnersSE, ChangingOwnersFI, "Sandbox Changing Owners"},
		{BehaviourChangingStatus, ChangingStatusNO, ChangingStatusSE, ChangingStatusFI, "Sandbox Changing Status"},
		{BehaviourChangingSanction, ChangingSanctionNO, ChangingSanctionSE, ChangingSanctionFI, "Sandbox Changing Sanction"},
	})
}

// changes reports whether b is the behaviour of a changing identifier.
func (b Behaviour) changes() bool {
	switch b {
	case BehaviourSteady, BehaviourChangingRoles, BehaviourChangingOwners, BehaviourChangingStatus, BehaviourChangingSanction:
		return true
	}
	return false
}

// sessionCounter numbers the sessions of each changing identifier. Its
// zero value is ready; it is safe for concurrent use. Only changing
// identifiers are counted, so it holds a few keys at most.
type sessionCounter struct {
	mu sync.Mutex
	n  map[string]int
}

// next returns the number of the session being created for key: 1, 2, …
func (c *sessionCounter) next(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[string]int)
	}
	c.n[key]++
	return c.n[key]
}

// orgOf is the organization of a session, as it is in the session's place
// in its identifier's sequence.
func orgOf(sess *session) *org {
	o := newOrg(sess.country, sess.idKind, sess.identifier)
	if sess.sequence > 0 {
		o.atSession(sess.behaviour, min(sess.sequence, ChangingSessions))
	}
	return o
}

// atSession changes o into its state at session n (1 ≤ n ≤
// ChangingSessions) of a changing identifier of behaviour b. It draws from
// a source of its own, in the same order for every n, so that newOrg's
// data and the people it adds are the same in every session.
func (o *org) atSession(b Behaviour, n int) {
	g := newGen("changing", string(o.country), o.number)
	switch b {
	case BehaviourChangingRoles:
		joiner := o.newcomer(g)
		joiner.since = dataDate
		switch n {
		case 1:
		case 2:
			o.board = append(o.board, joiner)
		default:
			o.board = append(o.board[1:], joiner)
		}
	case BehaviourChangingOwners:
		o.ownersAt(g, n)
	case BehaviourChangingStatus:
		o.status = []amlapi.OrganizationStatus{amlapi.OrganizationActive, amlapi.OrganizationBankrupt, amlapi.OrganizationDissolved}[n-1]
	case BehaviourChangingSanction:
		o.hits = [][]string{nil, {"eu", "ofac"}, {"eu", "un", "ofac"}}[n-1]
	}
}

// newcomer is a new person whose name no person of o has.
func (o *org) newcomer(g *gen) person {
	var taken []string
	for _, p := range []*person{o.ceo, o.chair, o.contact} {
		if p != nil {
			taken = append(taken, p.name)
		}
	}
	for _, ps := range [][]person{o.board, o.deputies} {
		for _, p := range ps {
			taken = append(taken, p.name)
		}
	}
	for _, ow := range o.owners {
		taken = append(taken, ow.name)
	}
	for {
		if p := g.person(o.p, o.country); !slices.Contains(taken, p.name) {
			return p
		}
	}
}

// ownersAt sets the owners and shareholders of a changing-owners
// organization at session n: 1: the chairman 60 %, an investment company
// 40 %; 2: a newcomer buys 30 % from the company; 3: the chairman sells
// their 60 % to the newcomer. Subsidiaries and indicators do not change.
func (o *org) ownersAt(g *gen, n int) {
	newcomer := o.newcomer(g)
	investor := g.pick(o.p.stems) + " Invest " + o.p.types[0].code
	investorNo := o.number
	for investorNo == o.number {
		investorNo = g.orgNumber(o.country)
	}
	const totalShares = 1000
	owns := func(p person, share float64, roles []string) (owner, shareholder) {
		c := share
		return owner{person: p, share: share, integrated: share, control: &c, roles: roles,
				reason: "OWNERSHIP", phrase: "Owns more than 25 % of the shares, directly or indirectly"},
			shareholder{name: p.name, kind: "PERSON", birth: p.birth, share: share, shares: int64(share) * totalShares / 100}
	}
	company := func(share float64) shareholder {
		return shareholder{name: investor, kind: "ORGANIZATION", number: investorNo, share: share, shares: int64(share) * totalShares / 100}
	}
	chairOwner, chairHolder := owns(*o.chair, 60, []string{"CHAIRMAN"})
	switch n {
	case 1:
		o.owners, o.shareholders = []owner{chairOwner}, []shareholder{chairHolder, company(40)}
	case 2:
		nOwner, nHolder := owns(newcomer, 30, []string{})
		o.owners, o.shareholders = []owner{chairOwner, nOwner}, []shareholder{chairHolder, nHolder, company(10)}
	default:
		nOwner, nHolder := owns(newcomer, 90, []string{})
		o.owners, o.shareholders = []owner{nOwner}, []shareholder{nHolder, company(10)}
	}
}
