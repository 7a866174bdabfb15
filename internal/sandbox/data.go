package sandbox

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
)

// The synthetic data of an organization is generated from a source seeded
// by a hash of its country and canonical identifier, so the same identifier
// always gives the same organization, in both kinds of session (the owners
// in ownership.beneficials are the owners of the beneficial owners session).
// The whole organization is generated every time, whatever was requested,
// so that a block does not change with the other expands.

// dataDate is the date the synthetic registries were "last updated"; the
// accounts are those of the three years before it. Fixed, so that the data
// of an identifier never changes.
var dataDate = time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)

type address struct {
	AddressLine string `json:"addressLine"`
	PostalCode  string `json:"postalCode"`
	City        string `json:"city"`
	Country     string `json:"country"`
}

type accountingYear struct {
	Year            int    `json:"year"`
	Currency        string `json:"currency"`
	Revenue         int64  `json:"revenue"`
	OperatingResult int64  `json:"operatingResult"`
	ResultBeforeTax int64  `json:"resultBeforeTax"`
	NetResult       int64  `json:"netResult"`
	Equity          int64  `json:"equity"`
	TotalAssets     int64  `json:"totalAssets"`
	Employees       int    `json:"employees"`
}

type orgRef struct {
	name, number string
	since        time.Time
}

// org is the whole synthetic organization.
type org struct {
	country    amlapi.Country
	p          *profile
	behaviour  Behaviour
	name       string
	number     string // national organization number
	duns       string
	lei        string
	typ        orgType
	registered time.Time
	webPage    string
	employees  int
	trade      trade
	postal     address
	visiting   address
	registries []string
	updated    time.Time

	accounts   []accountingYear
	auditor    *orgRef
	accountant *orgRef
	credit     struct {
		score  int
		rating string
		limit  int64
	}

	ceo, chair   *person
	board        []person
	deputies     []person
	owners       []owner
	shareholders []shareholder
	subsidiaries []subsidiary
	signature    string
	procuration  string
	procurators  []*person
	contact      *person // an extra role of a type the client does not know
	deputyChair  *person // the roles below are drawn last, so that adding them changed nothing else
	secretary    *person
	foreignRep   *person // a foreign entity's representative (NUF in Norway; a branch elsewhere)
	trustee      *person
	hitSuffix    string   // reference number of sanction matches
	hits         []string // keys of the sanction lists that match (see sanctionLists)
	status       amlapi.OrganizationStatus
}

// newOrg generates the organization of a canonical identifier of kind k in
// country c.
func newOrg(c amlapi.Country, k identifier.Kind, id string) *org {
	g := newGen(string(c), id)
	p := profileOf(c)
	o := &org{country: c, p: p, status: amlapi.OrganizationActive}

	if k == identifier.DUNS {
		o.duns = id
		o.number = g.orgNumber(c)
	} else {
		o.number = id
		o.duns = strconv.Itoa(1+g.intn(9)) + g.digits(8)
	}
	total := 0
	for _, t := range p.types {
		total += t.weight
	}
	n := g.intn(total)
	for _, t := range p.types {
		if n < t.weight {
			o.typ = t
			break
		}
		n -= t.weight
	}
	o.trade = p.trades[g.intn(len(p.trades))]
	stem := g.pick(p.stems)
	o.name = stem + " " + o.trade.word + " " + o.typ.code
	if s, ok := special(c, id); ok {
		o.behaviour = s.Behaviour
		o.name = s.Name
		if s.Behaviour == BehaviourSanctionHit {
			o.hits = []string{"eu", "un", "ofac"}
		}
		if o.typ.sole || o.typ.listed {
			o.typ = p.types[0] // the special ones are ordinary limited companies
			o.name = strings.TrimSuffix(s.Name, " AS")
			o.name = strings.TrimSuffix(o.name, " AB")
			o.name = strings.TrimSuffix(o.name, " Oy")
			o.name += " " + o.typ.code
		}
	}
	o.registered = g.date(1988, 2022)
	o.updated = dataDate.AddDate(0, 0, -g.intn(60))
	o.webPage = "https://www." + slug(stem+" "+o.trade.word) + ".example"
	switch {
	case o.typ.sole:
		o.employees = g.intn(4)
	case o.typ.listed:
		o.employees = g.between(200, 6000)
		o.lei = g.lei()
	default:
		o.employees = g.between(1, 250)
		if g.chance(0.3) {
			o.lei = g.lei()
		}
	}
	pl := p.places[g.intn(len(p.places))]
	o.visiting = address{g.pick(p.streets) + " " + strconv.Itoa(g.between(1, 120)), pl.postcode, pl.city, string(c)}
	o.postal = o.visiting
	if g.chance(0.5) {
		o.postal = address{p.poBox + " " + strconv.Itoa(g.between(1, 9999)), pl.postcode, pl.city, string(c)}
	}
	o.registries = []string{p.mainRegister}
	if !o.typ.sole || g.chance(0.3) {
		o.registries = append(o.registries, p.tradeRegister)
	}
	if g.chance(0.85) {
		o.registries = append(o.registries, p.vatRegister)
	}

	// Accounts: three years, none for a sole proprietorship.
	scale := int64(1_500_000)
	if c == amlapi.FI {
		scale = 150_000
	}
	if !o.typ.sole {
		revenue := int64(max(o.employees, 1)) * scale * int64(g.between(50, 200)) / 100
		equity := revenue * int64(g.between(10, 60)) / 100
		for i := range 3 {
			margin := float64(g.between(-5, 15)) / 100
			op := int64(float64(revenue) * margin)
			rbt := op - revenue*int64(g.between(0, 2))/100
			net := rbt
			if rbt > 0 {
				net = rbt * 78 / 100
			}
			o.accounts = append(o.accounts, accountingYear{
				Year: dataDate.Year() - 1 - i, Currency: p.currency,
				Revenue: revenue, OperatingResult: op, ResultBeforeTax: rbt, NetResult: net,
				Equity: equity, TotalAssets: equity * int64(g.between(150, 400)) / 100,
				Employees: max(o.employees-i*g.intn(3), 0),
			})
			revenue = revenue * int64(g.between(80, 105)) / 100
			equity = max(equity-net, revenue/20)
		}
	}
	if !o.typ.sole && (o.employees > 10 || g.chance(0.6)) {
		o.auditor = &orgRef{g.pick(p.stems) + " " + p.auditorWord + " " + p.types[0].code, g.orgNumber(c), g.date(2005, 2024)}
	}
	if g.chance(0.7) {
		o.accountant = &orgRef{g.pick(p.stems) + " " + p.accountantWord + " " + p.types[0].code, g.orgNumber(c), g.date(2005, 2024)}
	}
	o.credit.score = g.between(20, 100)
	switch sc := o.credit.score; {
	case sc >= 90:
		o.credit.rating = "AAA"
	case sc >= 75:
		o.credit.rating = "AA"
	case sc >= 60:
		o.credit.rating = "A"
	case sc >= 35:
		o.credit.rating = "B"
	default:
		o.credit.rating = "C"
	}
	if len(o.accounts) > 0 {
		o.credit.limit = o.accounts[0].Revenue / 20 * int64(o.credit.score) / 100
	}

	// People.
	if o.typ.sole {
		prop := g.person(p, c)
		o.owners = []owner{{person: prop, share: 100, reason: "OWNERSHIP", phrase: "Sole proprietor", integrated: 100, roles: []string{"OWNER"}}}
		hundred := 100.0
		o.owners[0].control = &hundred
		o.signature = p.soleSignature
		if o.behaviour == BehaviourNormal {
			o.name = prop.name + " " + o.trade.word // sole proprietorships carry the owner's name
		}
	} else {
		ceo, chair := g.person(p, c), g.person(p, c)
		o.ceo, o.chair = &ceo, &chair
		for range g.between(1, 3) {
			o.board = append(o.board, g.person(p, c))
		}
		if g.chance(0.5) {
			o.deputies = append(o.deputies, g.person(p, c))
		}
		o.signature = g.pick(p.signatureRules)
		if g.chance(0.4) {
			o.procuration = g.pick(p.procurations)
			o.procurators = []*person{o.ceo}
		}
		o.ownership(g)
	}
	if g.chance(0.3) {
		cp := g.person(p, c)
		o.contact = &cp
	}
	if o.behaviour == BehaviourNoOwners {
		o.owners = nil
	}
	o.hitSuffix = g.digits(5)
	// Drawn after everything else, so that the rest of an identifier's
	// data is what it was before these roles existed.
	if !o.typ.sole {
		if g.chance(0.35) {
			x := g.person(p, c)
			o.deputyChair = &x
		}
		if g.chance(0.2) {
			x := g.person(p, c)
			o.secretary = &x
		}
		if o.typ.code == "NUF" || g.chance(0.05) {
			x := g.person(p, c)
			o.foreignRep = &x
		}
		if g.chance(0.05) {
			x := g.person(p, c)
			o.trustee = &x
		}
	}
	return o
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func slug(s string) string {
	r := strings.NewReplacer("æ", "ae", "ø", "o", "å", "a", "ä", "a", "ö", "o", "Æ", "ae", "Ø", "o", "Å", "a", "Ä", "a", "Ö", "o")
	s = strings.ToLower(r.Replace(s))
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

func day(t time.Time) string { return t.Format(time.DateOnly) }
