package sandbox

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox/pdf"
)

// Reports are PDF 1.4 files from package pdf: page 1 names the
// organization, the identifier, the report type and the session reference;
// page 2 is a summary; with Config.ReportSize, filler pages follow until the
// file is about that size. A report is a function of its session and type
// only, so its size is computed by writing it to a counter first.
//
// Every report is signed (signing.go), PAdES baseline B-B, as it is
// streamed: the writer hashes the file as it goes, and appends the
// signature as an incremental update, so memory does not grow with the
// report's size. The signing time, /M, is when the report became READY, and
// the signature is deterministic, so a report is the same bytes on every
// download. The report identifiers make bad ones.

type labels struct {
	aml, certificate, organization, identifier, country, reportType, session, created, summary,
	keyInfo, orgType, registered, status, address, roles, owners, sanction, registries, purpose, signature,
	none, synthetic, signed, unsigned, appendix, reason string
}

func labelsFor(lang string) labels {
	switch lang {
	case "no", "nb", "nn":
		return labels{
			aml: "AML-rapport", certificate: "Firmaattest", organization: "Virksomhet", identifier: "Identifikator",
			country: "Land", reportType: "Rapporttype", session: "Sesjonsreferanse", created: "Bestilt",
			summary: "Sammendrag", keyInfo: "Nøkkelopplysninger", orgType: "Organisasjonsform", registered: "Registrert",
			status: "Status", address: "Adresse", roles: "Roller", owners: "Reelle rettighetshavere",
			sanction: "Sanksjonsscreening", registries: "Registre", purpose: "Formål", signature: "Signatur",
			none: "Ingen", synthetic: "SANDKASSE: syntetiske data, ikke en ekte rapport.",
			signed:   "Signert av sandkassens test-CA (se /_sandbox/ca.pem), ikke av BankID.",
			unsigned: "Ikke signert.",
			appendix: "Vedlegg (utfylling)",
			reason:   "Syntetisk rapport fra kybflow AML-sandkassen, signert av dens test-CA, ikke av BankID",
		}
	}
	return labels{
		aml: "AML report", certificate: "Certificate of registration", organization: "Organization", identifier: "Identifier",
		country: "Country", reportType: "Report type", session: "Session reference", created: "Ordered",
		summary: "Summary", keyInfo: "Key information", orgType: "Organization type", registered: "Registered",
		status: "Status", address: "Address", roles: "Roles", owners: "Beneficial owners",
		sanction: "Sanction screening", registries: "Registries", purpose: "Purpose", signature: "Signature rights",
		none: "None", synthetic: "SANDBOX: synthetic data, not a real report.",
		signed:   "Signed by the sandbox's test CA (see /_sandbox/ca.pem), not by BankID.",
		unsigned: "Not signed.",
		appendix: "Appendix (padding)",
		reason:   "Synthetic report of the kybflow AML sandbox, signed by its test CA, not by BankID",
	}
}

// cursor writes lines down a page.
type cursor struct {
	p *pdf.Page
	y float64
}

const (
	marginX   = 56.0
	marginTop = pdf.PageHeight - 64.0
	marginBot = 56.0
)

func (c *cursor) text(f pdf.Font, size float64, s string) {
	if c.y < marginBot {
		return // the summary is short; never spill
	}
	c.p.Text(f, size, marginX, c.y, s)
	c.y -= size * 1.45
}

func (c *cursor) field(label, value string) {
	if c.y < marginBot {
		return
	}
	c.p.Text(pdf.Bold, 10, marginX, c.y, label)
	c.p.Text(pdf.Regular, 10, marginX+150, c.y, value)
	c.y -= 15
}

func (c *cursor) rule() {
	c.p.Line(marginX, c.y+6, pdf.PageWidth-marginX, c.y+6)
	c.y -= 8
}

func (c *cursor) gap() { c.y -= 8 }

// writeReport writes report rt of sess to out and returns its size.
func (s *Sandbox) writeReport(out io.Writer, sess *session, rt amlapi.ReportType) (int64, error) {
	o := orgOf(sess)
	l := labelsFor(sess.language)
	title := l.aml
	if rt == amlapi.ReportCertificateOfIncorporation {
		title = l.certificate
	}
	if sess.behaviour == BehaviourReportNotPDF {
		return writeNotPDF(out, sess, rt)
	}
	info := pdf.Info{
		Title: title + " – " + o.name, Author: "kybflow AML sandbox", Subject: "session " + sess.id,
		Creator: "kybflow aml-sandbox", Producer: "kybflow internal/sandbox/pdf", Created: sess.tl.created,
	}
	var w *pdf.Writer
	signedBy := l.unsigned
	if signer := s.signing.signer(sess.behaviour); signer == nil {
		w = pdf.NewWriter(out, info)
	} else {
		if sess.behaviour == BehaviourReportTampered {
			out = &tamperer{w: out, at: TamperedOffset}
		}
		w = pdf.NewSignedWriter(out, info, pdf.Signature{
			Time:   sess.tl.ready[max(sess.reportIndex(rt), 0)],
			Name:   signer.Certificate().Subject.CommonName,
			Reason: l.reason,
			Sign:   signer.Sign,
		})
		signedBy = l.signed
	}
	var p pdf.Page

	// Page 1: what the report is about.
	c := cursor{&p, marginTop}
	c.text(pdf.Bold, 22, title)
	c.rule()
	c.gap()
	c.field(l.organization, o.name)
	c.field(l.identifier, sess.identifier+" ("+sess.idKind.Description()+")")
	c.field(l.country, string(sess.country))
	c.field(l.reportType, string(rt))
	c.field(l.session, sess.id)
	c.field(l.created, sess.tl.created.UTC().Format("2006-01-02 15:04:05 MST"))
	c.gap()
	c.text(pdf.Regular, 9, l.synthetic)
	c.text(pdf.Regular, 9, signedBy)
	p.Text(pdf.Regular, 8, marginX, 30, "1")
	if err := w.AddPage(&p); err != nil {
		return w.Size(), fmt.Errorf("write report page 1: %w", err)
	}

	// Page 2: the summary.
	p.Reset()
	c = cursor{&p, marginTop}
	c.text(pdf.Bold, 16, l.summary)
	c.rule()
	c.text(pdf.Bold, 12, l.keyInfo)
	c.field(l.organization, o.name)
	c.field(l.orgType, o.typ.code+" – "+o.typ.description)
	c.field(l.registered, day(o.registered))
	c.field(l.status, string(o.status))
	c.field(l.address, o.visiting.AddressLine+", "+o.visiting.PostalCode+" "+o.visiting.City)
	if o.number != sess.identifier {
		c.field(mustKind(sess.country).Description(), o.number)
	}
	c.gap()
	if rt == amlapi.ReportCertificateOfIncorporation {
		c.text(pdf.Bold, 12, l.registries)
		for _, r := range o.registries {
			c.text(pdf.Regular, 10, "• "+r+" ("+o.p.authority+")")
		}
		c.gap()
		c.field(l.purpose, o.trade.purpose)
		c.field(l.signature, o.signature)
		c.gap()
	}
	c.text(pdf.Bold, 12, l.roles)
	for _, r := range o.roles() {
		c.text(pdf.Regular, 10, "• "+r.Description+": "+r.Name)
	}
	if rt == amlapi.ReportAML {
		c.gap()
		c.text(pdf.Bold, 12, l.owners)
		if len(o.owners) == 0 {
			c.text(pdf.Regular, 10, l.none)
		}
		for _, ow := range o.owners {
			c.text(pdf.Regular, 10, fmt.Sprintf("• %s (%s), %s %%: %s", ow.name, day(ow.birth),
				strconv.FormatFloat(ow.share, 'f', -1, 64), ow.phrase))
		}
		c.gap()
		c.text(pdf.Bold, 12, l.sanction)
		sb := o.sanction(sess.has("sanction.ofac"), &sourceSet{})
		c.field(l.status, sb.Status)
		for _, m := range sb.Matches {
			c.text(pdf.Regular, 10, fmt.Sprintf("• %s – %s (%d)", m.Name, m.ListName, m.MatchIndicator))
		}
	}
	p.Text(pdf.Regular, 8, marginX, 30, "2")
	if err := w.AddPage(&p); err != nil {
		return w.Size(), fmt.Errorf("write report page 2: %w", err)
	}

	// Padding to about ReportSize.
	if target := s.cfg.ReportSize; target > 0 {
		filler := fillerLines(sess.id + "/" + string(rt))
		var last int64
		for n := 3; w.Size()+last+w.TrailerSize(w.Pages()+1) <= target; n++ {
			before := w.Size()
			p.Reset()
			p.Text(pdf.Bold, 12, marginX, marginTop, l.appendix+" – "+sess.id)
			y := marginTop - 24
			for i := range 58 {
				p.Text(pdf.Regular, 9, marginX, y, filler[(n*7+i)%len(filler)])
				y -= 12.5
			}
			p.Text(pdf.Regular, 8, marginX, 30, strconv.Itoa(n))
			if err := w.AddPage(&p); err != nil {
				return w.Size(), fmt.Errorf("write report page %d: %w", n, err)
			}
			last = w.Size() - before
		}
	}
	if err := w.Close(); err != nil {
		return w.Size(), fmt.Errorf("write report: %w", err)
	}
	return w.Size(), nil
}

// tamperer passes bytes through to w, changing the one at offset at: it
// alters a signed report after it was signed.
type tamperer struct {
	w  io.Writer
	at int64 // the offset of the byte to change
	n  int64 // bytes passed so far
}

func (t *tamperer) Write(b []byte) (int, error) {
	if i := t.at - t.n; i >= 0 && i < int64(len(b)) {
		b = bytes.Clone(b) // the caller's buffer stays as it was
		b[i] ^= 0x01
	}
	n, err := t.w.Write(b)
	t.n += int64(n)
	return n, err
}

// writeNotPDF writes the "report" of a BehaviourReportNotPDF session: an
// HTML error page, such as a proxy in front of the API might answer, and
// returns its size.
func writeNotPDF(out io.Writer, sess *session, rt amlapi.ReportType) (int64, error) {
	n, err := fmt.Fprintf(out, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>502 Bad Gateway</title></head>
<body><h1>502 Bad Gateway</h1>
<p>The report service did not answer. (kybflow sandbox: this %s report of session %s is not a PDF on purpose.)</p>
</body></html>
`, rt, sess.id)
	if err != nil {
		return int64(n), fmt.Errorf("write not-a-PDF report: %w", err)
	}
	return int64(n), nil
}

// mustKind is the organization-number kind of a country of the sandbox.
func mustKind(c amlapi.Country) identifier.Kind {
	k, _ := identifier.ForCountry(string(c))
	return k
}

// fillerLines are deterministic lines of padding text for a report.
func fillerLines(seed string) []string {
	words := []string{"synthetic", "sandbox", "padding", "register", "extract", "organization", "screening",
		"beneficial", "owner", "report", "lorem", "ipsum", "dolor", "amet", "consectetur", "adipiscing", "elit",
		"sed", "tempor", "incididunt", "labore", "magna", "aliqua", "veniam", "nostrud", "exercitation"}
	g := newGen("filler", seed)
	lines := make([]string, 64)
	var b strings.Builder
	for i := range lines {
		b.Reset()
		for b.Len() < 96 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[g.intn(len(words))])
		}
		lines[i] = b.String()
	}
	return lines
}
