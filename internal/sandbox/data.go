package sandbox

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
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

type gen struct{ r *rand.Rand }

func newGen(parts ...string) *gen {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	sum := h.Sum64()
	return &gen{rand.New(rand.NewPCG(sum, sum^0x9e3779b97f4a7c15))}
}

func (g *gen) intn(n int) int          { return g.r.IntN(n) }
func (g *gen) between(lo, hi int) int  { return lo + g.r.IntN(hi-lo+1) }
func (g *gen) chance(p float64) bool   { return g.r.Float64() < p }
func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }
func (g *gen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

// date is a random day between the starts of years lo and hi.
func (g *gen) date(lo, hi int) time.Time {
	start := time.Date(lo, 1, 1, 0, 0, 0, 0, time.UTC)
	days := int(time.Date(hi, 1, 1, 0, 0, 0, 0, time.UTC).Sub(start).Hours() / 24)
	return start.AddDate(0, 0, g.intn(days))
}

// orgNumber is a synthetic, valid organization number of country c.
func (g *gen) orgNumber(c amlapi.Country) string {
	for {
		switch c {
		case amlapi.SE:
			body := "55" + strconv.Itoa(6+g.intn(4)) + g.digits(6)
			d, _ := identifier.CheckDigit(identifier.SwedishOrgNumber, body)
			return body + strconv.Itoa(d)
		case amlapi.FI:
			body := strconv.Itoa(1+g.intn(3)) + g.digits(6)
			if d, ok := identifier.CheckDigit(identifier.FinnishBusinessID, body); ok {
				return body + "-" + strconv.Itoa(d)
			}
		default:
			body := strconv.Itoa(8+g.intn(2)) + g.digits(7)
			if d, ok := identifier.CheckDigit(identifier.NorwegianOrgNumber, body); ok {
				return body + strconv.Itoa(d)
			}
		}
	}
}

// lei is a synthetic Legal Entity Identifier with valid ISO 7064 check
// digits.
func (g *gen) lei() string {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := []byte("5967SBX0")
	for len(b) < 18 {
		b = append(b, alnum[g.intn(len(alnum))])
	}
	rem := 0
	for _, c := range string(b) + "00" {
		v := strings.IndexRune(alnum, c)
		if v >= 10 {
			rem = (rem*100 + v) % 97
		} else {
			rem = (rem*10 + v) % 97
		}
	}
	return string(b) + fmt.Sprintf("%02d", 98-rem)
}

// person is a synthetic natural person.
type person struct {
	name        string
	birth       time.Time
	city        string
	citizenship []string
	birthplace  string
	ssn         string // a synthetic Norwegian national identity number
}

func (g *gen) person(p *profile, country amlapi.Country) person {
	pr := person{
		name:  g.pick(p.firstNames) + " " + g.pick(p.lastNames),
		birth: g.date(1945, 2000),
		city:  g.pick(placeCities(p)),
	}
	pr.citizenship = []string{string(country)}
	if g.chance(0.1) {
		pr.citizenship = append(pr.citizenship, g.pick([]string{"NO", "SE", "FI", "DK", "DE"}))
		if pr.citizenship[1] == pr.citizenship[0] {
			pr.citizenship = pr.citizenship[:1]
		}
	}
	pr.birthplace = g.pick(birthplaces)
	pr.ssn = syntheticSSN(g, pr.birth)
	return pr
}

func placeCities(p *profile) []string {
	out := make([]string, len(p.places))
	for i, pl := range p.places {
		out[i] = titleCase(pl.city)
	}
	return out
}

// syntheticSSN makes a Norwegian national identity number (fødselsnummer)
// of the synthetic kind used by Skatteetaten's Tenor test data: the month
// is increased by 80, which no real person's number has. Both mod-11
// control digits are valid. Births are 1940-1999, individual numbers
// 000-499.
func syntheticSSN(g *gen, birth time.Time) string {
	base := fmt.Sprintf("%02d%02d%02d", birth.Day(), int(birth.Month())+80, birth.Year()%100)
	for {
		s := base + fmt.Sprintf("%03d", g.intn(500))
		k1, ok1 := ssnControl(s, []int{3, 7, 6, 1, 8, 9, 4, 5, 2})
		if !ok1 {
			continue
		}
		s += strconv.Itoa(k1)
		k2, ok2 := ssnControl(s, []int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2})
		if !ok2 {
			continue
		}
		return s + strconv.Itoa(k2)
	}
}

// ssnControl is a fødselsnummer control digit: 11 - (weighted sum mod 11),
// 11 meaning 0 and 10 meaning none.
func ssnControl(digits string, weights []int) (int, bool) {
	sum := 0
	for i, w := range weights {
		sum += int(digits[i]-'0') * w
	}
	k := 11 - sum%11
	switch k {
	case 11:
		return 0, true
	case 10:
		return 0, false
	}
	return k, true
}

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

type owner struct {
	person
	share      float64
	reason     string
	phrase     string
	control    *float64 // percentageControl, may be null
	viaHolding string   // name of the holding company, if indirect
	holdingNo  string
	roles      []string
	integrated float64
}

type shareholder struct {
	name, kind, number string // kind PERSON or ORGANIZATION
	birth              time.Time
	share              float64
	shares             int64
}

type subsidiary struct {
	name, number string
	share        float64
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
	hitSuffix    string  // reference number of sanction matches
}

// newOrg generates the organization of a canonical identifier of kind k in
// country c.
func newOrg(c amlapi.Country, k identifier.Kind, id string) *org {
	g := newGen(string(c), id)
	p := profileOf(c)
	o := &org{country: c, p: p}

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
	return o
}

// ownership makes owners, shareholders and subsidiaries of a company.
func (o *org) ownership(g *gen) {
	p := o.p
	// Beneficial owners: one to three persons above 25 %, or, for a listed
	// company, the CEO by role.
	left := 100.0
	if o.typ.listed {
		o.owners = []owner{{person: *o.ceo, reason: "ROLE", phrase: "No person owns or controls more than 25 %: the CEO is registered",
			roles: []string{"CEO"}}}
	} else {
		n := g.between(1, 3)
		for i := range n {
			var pr person
			roles := []string{}
			switch i {
			case 0:
				pr, roles = *o.chair, []string{"CHAIRMAN"}
			case 1:
				pr, roles = *o.ceo, []string{"CEO"}
			default:
				pr = g.person(p, o.country)
			}
			share := float64(g.between(26, 100/n)) + float64(g.intn(100))/100
			share = math.Min(share, left)
			if share <= 25 {
				break
			}
			left -= share
			ow := owner{person: pr, share: round2(share), integrated: round2(share), roles: roles,
				reason: "OWNERSHIP", phrase: "Owns more than 25 % of the shares, directly or indirectly"}
			if g.chance(0.4) {
				ow.viaHolding = pr.name + " " + p.holdingWord + " " + p.types[0].code
				ow.holdingNo = o.number
				for ow.holdingNo == o.number {
					ow.holdingNo = g.orgNumber(o.country)
				}
			}
			if g.chance(0.75) {
				c := ow.share
				if g.chance(0.2) {
					c = math.Min(100, round2(ow.share+float64(g.between(1, 20))))
					ow.reason, ow.phrase = "CONTROL", "Controls more than 25 % of the votes"
				}
				ow.control = &c
			}
			o.owners = append(o.owners, ow)
		}
	}
	totalShares := int64(g.between(1, 2000)) * 100
	for _, ow := range o.owners {
		if ow.share == 0 {
			continue
		}
		sh := shareholder{name: ow.name, kind: "PERSON", birth: ow.birth, share: ow.share}
		if ow.viaHolding != "" {
			sh = shareholder{name: ow.viaHolding, kind: "ORGANIZATION", number: ow.holdingNo, share: ow.share}
		}
		sh.shares = int64(math.Round(sh.share / 100 * float64(totalShares)))
		o.shareholders = append(o.shareholders, sh)
	}
	for left > 0.5 {
		share := round2(math.Min(left, float64(g.between(5, 24))+float64(g.intn(100))/100))
		left -= share
		o.shareholders = append(o.shareholders, shareholder{
			name: g.pick(p.stems) + " Invest " + p.types[0].code, kind: "ORGANIZATION", number: g.orgNumber(o.country),
			share: share, shares: int64(math.Round(share / 100 * float64(totalShares))),
		})
	}
	if o.trade.word == p.holdingWord || g.chance(0.3) {
		for range g.between(1, 3) {
			o.subsidiaries = append(o.subsidiaries, subsidiary{
				name:   g.pick(p.stems) + " " + g.pick([]string{p.trades[0].word, p.trades[1].word, p.trades[4].word}) + " " + p.types[0].code,
				number: g.orgNumber(o.country), share: float64(g.between(51, 100)),
			})
		}
	}
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

// titleCase turns "TROMSØ" into "Tromsø".
func titleCase(s string) string {
	rs := []rune(strings.ToLower(s))
	if len(rs) > 0 {
		rs[0] = []rune(strings.ToUpper(string(rs[0])))[0]
	}
	return string(rs)
}

func day(t time.Time) string { return t.Format(time.DateOnly) }
