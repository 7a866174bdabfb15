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
