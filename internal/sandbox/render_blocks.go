package sandbox

// The blocks of the organization document (render.go) that take more than
// a field or two: roles, sanction, key figures, indicators, sectors; and
// the beneficial owners document.

import (
	"slices"
	"strings"

	"github.com/kybflow/kybflow/internal/amlapi"
)

func (o *org) roles() []roleJSON {
	out := []roleJSON{}
	since := day(o.registered)
	add := func(typ, desc string, p *person) {
		r := roleJSON{Type: typ, Description: desc, Name: p.name, BirthDate: day(p.birth), Since: since}
		if !p.since.IsZero() {
			r.Since = day(p.since)
		}
		out = append(out, r)
	}
	if o.typ.sole {
		if len(o.owners) > 0 {
			add("OWNER", o.p.roleOwner, &o.owners[0].person)
		}
	} else {
		add("CEO", o.p.roleCEO, o.ceo)
		add("CHAIRMAN", o.p.roleChair, o.chair)
		for i := range o.board {
			add("BOARD_MEMBER", o.p.roleBoard, &o.board[i])
		}
		for i := range o.deputies {
			add("DEPUTY_BOARD_MEMBER", o.p.roleDeputy, &o.deputies[i])
		}
	}
	if o.auditor != nil {
		out = append(out, roleJSON{Type: "AUDITOR", Description: o.p.roleAuditor, Name: o.auditor.name,
			OrganizationNumber: o.auditor.number, Since: day(o.auditor.since)})
	}
	if o.accountant != nil {
		out = append(out, roleJSON{Type: "ACCOUNTANT", Description: o.p.roleAccountant, Name: o.accountant.name,
			OrganizationNumber: o.accountant.number, Since: day(o.accountant.since)})
	}
	if o.deputyChair != nil {
		add("DEPUTY_CHAIRMAN", o.p.roleDeputyChair, o.deputyChair)
	}
	if o.secretary != nil {
		add("COMPANY_SECRETARY", o.p.roleCompanySec, o.secretary)
	}
	if o.foreignRep != nil {
		add("REPRESENTATIVE_FOREIGN_ENTITY", o.p.roleForeignRep, o.foreignRep)
	}
	if o.trustee != nil {
		add("TRUSTEE", o.p.roleTrustee, o.trustee)
	}
	if o.contact != nil {
		// A role type the client's model does not know, on purpose.
		add("CONTACT_PERSON", o.p.roleContact, o.contact)
	}
	return out
}

func (o *org) sanction(ofac bool, ss *sourceSet) sanctionBlock {
	s := sanctionBlock{Status: "NO_HIT", Message: "No match in the screened sanction lists.", ScreenedAt: day(o.updated), Matches: []sanctionMatch{}}
	var srcs []source
	for _, l := range sanctionLists() {
		if l.ofac && !ofac {
			continue
		}
		s.Lists = append(s.Lists, screenedList{l.name, l.source})
		srcs = append(srcs, source{Name: l.name, Authority: l.source, Updated: day(o.updated)})
		if !slices.Contains(o.hits, l.key) {
			continue
		}
		ref := strings.ToUpper(l.key) + "-" + o.hitSuffix
		m := sanctionMatch{
			Name: o.name, EntityType: "ORGANIZATION", ListName: l.name, Source: l.source, Reference: ref,
			ListedDate: "2022-03-15", UpdatedDate: day(o.updated), URLs: []string{l.url + ref},
			AliasList: []string{strings.ToUpper(o.name)}, Address: o.visiting,
		}
		switch l.key {
		case "eu":
			m.MatchIndicator = 500
		case "un":
			m.MatchIndicator = 430
			m.Name = strings.Fields(o.name)[0] + " Trading " + o.typ.code
			m.AliasList = []string{o.name}
			m.Address = address{City: o.visiting.City, Country: o.visiting.Country}
		case "ofac":
			m.MatchIndicator = 480
		default:
			continue
		}
		m.MatchIndicatorDescription = matchDescription(m.MatchIndicator)
		s.Matches = append(s.Matches, m)
	}
	if len(s.Matches) > 0 {
		s.Status = "HIT"
		s.Message = "Possible match in the screened sanction lists."
	}
	s.Metadata = ss.meta(srcs...)
	return s
}

// beneficialDocument renders the JSON of a beneficial owners session;
// nrFields are the National Registry fields included, omitted those
// requested but left out for lack of access.
func (o *org) beneficialDocument(nrFields, omitted []string, access amlapi.NationalRegistryAccess) beneficialDoc {
	var ss sourceSet
	doc := beneficialDoc{
		SchemaVersion: schemaVersion,
		Organization: beneficialOrg{o.name, o.number, o.duns, codeDesc{o.typ.code, o.typ.description}, string(o.country),
			ss.meta(o.src(o.p.mainRegister))},
		BeneficialOwners: o.beneficials(nrFields),
		Sandbox:          note(),
	}
	ss.meta(o.src(o.p.ownersSource))
	if len(nrFields) > 0 {
		ss.meta(source{Name: "Folkeregisteret", Authority: "Skatteetaten", Updated: day(o.updated)})
	}
	doc.Metadata = beneficialMeta{Sources: ss.all, NationalRegistry: access, OmittedFields: omitted}
	return doc
}

// matchDescription says a match indicator (0 to 500) in words.
func matchDescription(indicator int) string {
	switch {
	case indicator >= 480:
		return "Strong match"
	case indicator >= 400:
		return "Probable match"
	default:
		return "Weak match"
	}
}

// keyFigures renders financials.keyFigures from the accounts (there are
// some): the share capital, and the figures of each accounting year.
func (o *org) keyFigures(meta metadata) keyFigures {
	kf := keyFigures{ShareCapital: o.shareCapital(), Currency: o.p.currency, Sources: []string{o.p.accountsSource}, Metadata: meta}
	for _, a := range o.accounts {
		kf.AccountingYears = append(kf.AccountingYears, keyFiguresYear{
			Year: a.Year, Currency: a.Currency, Turnover: a.Revenue, OperatingProfit: a.OperatingResult,
			Equity: a.Equity, Earnings: a.NetResult,
		})
	}
	return kf
}

// shareCapital is the number of shares held (a nominal value of 1 each),
// or the country's minimum share capital when no shareholders are known.
func (o *org) shareCapital() int64 {
	var n int64
	for _, s := range o.shareholders {
		n += s.shares
	}
	if n > 0 {
		return n
	}
	switch o.country {
	case amlapi.SE:
		return 25_000
	case amlapi.FI:
		return 2_500
	}
	return 30_000
}

// indicators renders ownership.indicators as numbers: how many owners hold
// through another company, the share held from abroad (the synthetic
// owners are all domestic), listed (1/0), the layers of ownership, and the
// share of the ownership whose beneficial owners are not known (all of it
// when none are registered, else none: the synthetic registry is whole).
func (o *org) indicators(layers int, meta metadata) indicators {
	ind := indicators{OwnershipLayers: layers, Metadata: meta}
	for _, ow := range o.owners {
		if ow.viaHolding != "" {
			ind.ComplexOwnership++
		}
	}
	if o.typ.listed {
		ind.PubliclyListed = 1
	}
	if len(o.owners) == 0 {
		ind.BeneficialsUnknown = 100
	}
	return ind
}

// institutionalSector is the organization's institutional sector: that of
// companies, or of households for a sole proprietorship (synthetic codes in
// the style of each country's sector classification).
func (o *org) institutionalSector() codeDesc {
	if o.typ.sole {
		return codeDesc{o.p.sectorSole[0], o.p.sectorSole[1]}
	}
	return codeDesc{o.p.sectorCompany[0], o.p.sectorCompany[1]}
}
