package sandbox

import (
	"slices"
	"strings"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// Rendering of the JSON documents of organization and beneficial owners sessions.

func note() sandboxNote {
	return sandboxNote{true, "Synthetic data from the kybflow AML sandbox: not a real organization or person."}
}

// sourceSet collects the sources of a document in order, once each.
type sourceSet struct{ all []source }

func (s *sourceSet) meta(srcs ...source) metadata {
	for _, x := range srcs {
		if !slices.Contains(s.all, x) {
			s.all = append(s.all, x)
		}
	}
	return metadata{Sources: srcs}
}

func (o *org) src(name string) source {
	return source{Name: name, Authority: o.p.authority, Updated: day(o.updated)}
}

// keyInformation renders the keyInformation block; lei tells whether the
// keyInformation.lei expand asked for the LEI (then null when there is
// none).
func (o *org) keyInformation(ss *sourceSet, lei bool) keyInformation {
	ki := keyInformation{
		Name: o.name, OrganizationNumber: o.number, DUNSNumber: o.duns,
		OrganizationType: codeDesc{o.typ.code, o.typ.description},
		Country:          string(o.country), RegistrationDate: day(o.registered), WebPage: o.webPage,
		Employees: o.employees, Status: string(o.status),
		InstitutionalSector: o.institutionalSector(),
		IndustrySector:      codeDesc{o.trade.nace, o.trade.description},
		Purpose:             o.trade.purpose, Sources: []string{o.p.mainRegister},
		Metadata: ss.meta(o.src(o.p.mainRegister)),
	}
	if lei {
		v := optionalString(o.lei)
		ki.LEI = &v
	}
	for i, r := range o.registries {
		ki.Registries = append(ki.Registries, registryEntry{r, o.p.authority, true, day(o.registered.AddDate(0, 0, 3*i))})
	}
	switch {
	case o.employees >= 250:
		ki.MarketSegment = "LARGE"
	case o.employees >= 10:
		ki.MarketSegment = "SME"
	default:
		ki.MarketSegment = "MICRO"
	}
	return ki
}

// beneficials renders the beneficial owners; nrFields are the National
// Registry fields to include (citizenship, birthplace, ssn).
func (o *org) beneficials(nrFields []string) []beneficialJSON {
	out := []beneficialJSON{}
	for _, ow := range o.owners {
		b := beneficialJSON{
			Name: ow.name, BirthDate: day(ow.birth), Address: personAddress{ow.city, string(o.country)},
			Share: ow.share, Roles: ow.roles, Reason: ow.reason, ReasonPhrase: ow.phrase,
			IntegratedOwnership: ow.integrated, PercentageControl: ow.control,
		}
		if b.Roles == nil {
			b.Roles = []string{}
		}
		if ow.viaHolding != "" {
			b.OwnedThrough = &orgLink{ow.viaHolding, ow.holdingNo}
		}
		for _, f := range nrFields {
			switch f {
			case "citizenship":
				b.Citizenship = ow.citizenship
			case "birthplace":
				b.Birthplace = &birthplace{ow.birthplace, "NO"}
			case "ssn", "identificationNumber":
				b.SSN = ow.ssn
			}
		}
		out = append(out, b)
	}
	return out
}

// organizationDocument renders the JSON of an organization session.
// reportLinks are the absolute links of the requested reports; ofacScope
// tells whether the session's token held the OFAC scope.
func (o *org) organizationDocument(b blocks, reportLinks map[amlapi.ReportType]string) organizationDoc {
	var ss sourceSet
	doc := organizationDoc{SchemaVersion: schemaVersion, KeyInformation: o.keyInformation(&ss, b.lei), Sandbox: note()}
	reg := o.src(o.p.mainRegister)
	if b.address {
		doc.Address = addressBlock{o.postal, o.visiting, ss.meta(reg)}
	}
	if b.accounting || b.keyFigures || b.auditor || b.accountant || b.credit {
		f := &financialsDoc{}
		acc := o.src(o.p.accountsSource)
		if b.accounting {
			ss.meta(acc)
			years := []accountingYear{}
			f.Accounting = append(years, o.accounts...)
		}
		if b.keyFigures {
			f.KeyFigures = struct{}{}
			if len(o.accounts) > 0 {
				f.KeyFigures = o.keyFigures(ss.meta(acc))
			}
		}
		ref := func(r *orgRef) any {
			if r == nil {
				return struct{}{}
			}
			return orgBlock{r.name, r.number, day(r.since), ss.meta(o.src(o.p.tradeRegister))}
		}
		if b.auditor {
			f.Auditor = ref(o.auditor)
		}
		if b.accountant {
			f.Accountant = ref(o.accountant)
		}
		if b.credit {
			f.Credit = struct{}{}
			if o.credit.limit > 0 {
				f.Credit = creditBlock{o.credit.score, o.credit.rating, o.credit.limit, o.p.currency, "Sandbox Credit Bureau",
					ss.meta(source{Name: "Sandbox Credit Bureau", Updated: day(o.updated)})}
			}
		}
		doc.Financials = f
	}
	if b.beneficials || b.subsidiaries || b.shareholders || b.indicators {
		w := &ownershipDoc{}
		if b.beneficials {
			ss.meta(o.src(o.p.ownersSource))
			w.Beneficials = o.beneficials(nil)
		}
		if b.subsidiaries {
			list := []subsidiaryJSON{}
			for _, s := range o.subsidiaries {
				list = append(list, subsidiaryJSON{s.name, s.number, string(o.country), s.share})
			}
			if len(list) > 0 {
				ss.meta(o.src(o.p.sharesSource))
			}
			w.Subsidiaries = list
		}
		if b.shareholders {
			list := []shareholderJSON{}
			for _, s := range o.shareholders {
				sh := shareholderJSON{Name: s.name, Type: s.kind, OrganizationNumber: s.number, Share: s.share, NumberOfShares: s.shares}
				if s.kind == "ORGANIZATION" {
					sh.Country = string(o.country)
				}
				if s.kind == "PERSON" {
					sh.BirthDate = day(s.birth)
				}
				list = append(list, sh)
			}
			if len(list) > 0 {
				ss.meta(o.src(o.p.sharesSource))
			}
			w.Shareholders = list
		}
		if b.indicators {
			layers := 1
			for _, ow := range o.owners {
				if ow.viaHolding != "" {
					layers = 2
				}
			}
			w.Indicators = o.indicators(layers, ss.meta(o.src(o.p.ownersSource), o.src(o.p.sharesSource)))
		}
		doc.Ownership = w
	}
	if b.authorities {
		trade := o.src(o.p.tradeRegister)
		a := authoritiesBlock{SignatureRights: authorityRule{Description: o.signature}, Procuration: struct{}{}, Metadata: ss.meta(trade)}
		if o.typ.sole {
			a.SignatureRights.Persons = []namedRole{{o.owners[0].name, o.p.roleOwner}}
		} else {
			a.SignatureRights.Persons = []namedRole{{o.chair.name, o.p.roleChair}}
			if strings.Contains(strings.ToLower(o.signature), strings.ToLower(strings.Fields(o.p.roleCEO)[0])) {
				a.SignatureRights.Persons = append(a.SignatureRights.Persons, namedRole{o.ceo.name, o.p.roleCEO})
			}
		}
		if o.procuration != "" {
			rule := authorityRule{Description: o.procuration}
			for _, p := range o.procurators {
				rule.Persons = append(rule.Persons, namedRole{p.name, o.p.roleCEO})
			}
			a.Procuration = rule
		}
		doc.Authorities = a
	}
	if b.roles {
		ss.meta(o.src(o.p.tradeRegister))
		doc.Roles = o.roles()
	}
	if b.sanction {
		doc.Sanction = o.sanction(b.ofac, &ss)
	}
	if len(reportLinks) > 0 {
		doc.Links = &linksDoc{Reports: reportLinks}
	}
	doc.Metadata = metadata{Sources: ss.all}
	return doc
}

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
