package sandbox

import "github.com/kybflow/kybflow/internal/amlapi"

// Country profiles of the synthetic data: registries, organization types,
// places, and fixed lists of invented names. The tables are read-only.

type orgType struct {
	code, description string
	weight            int
	sole              bool // sole proprietorship: no shares, no board, no auditor
	listed            bool // public company
}

type place struct{ city, postcode string }

type trade struct {
	word        string // in the organization's name
	nace        string // NACE / SN / SNI / TOL code
	description string
	purpose     string
}

type profile struct {
	authority      string // the business registry authority
	mainRegister   string // where keyInformation comes from
	tradeRegister  string
	vatRegister    string
	accountsSource string
	ownersSource   string
	sharesSource   string
	currency       string
	types          []orgType
	places         []place
	streets        []string
	poBox          string
	stems          []string
	trades         []trade
	firstNames     []string
	lastNames      []string
	auditorWord    string
	accountantWord string
	holdingWord    string

	// Role descriptions in the country's language.
	roleCEO, roleChair, roleBoard, roleDeputy, roleAuditor, roleAccountant, roleOwner, roleContact string
	roleDeputyChair, roleCompanySec, roleForeignRep, roleTrustee                                   string
	// Institutional sectors (code, description) of companies and of sole
	// proprietorships.
	sectorCompany, sectorSole [2]string
	// Signature rules and procuration.
	signatureRules []string
	soleSignature  string
	procurations   []string
}

// profileOf returns the profile of country c.
func profileOf(c amlapi.Country) *profile {
	switch c {
	case amlapi.SE:
		return &seProfile
	case amlapi.FI:
		return &fiProfile
	default:
		return &noProfile
	}
}

var noProfile = profile{
	authority:      "Brønnøysundregistrene",
	mainRegister:   "Enhetsregisteret",
	tradeRegister:  "Foretaksregisteret",
	vatRegister:    "Merverdiavgiftsregisteret",
	accountsSource: "Regnskapsregisteret",
	ownersSource:   "Register over reelle rettighetshavere",
	sharesSource:   "Aksjonærregisteret",
	currency:       "NOK",
	types: []orgType{
		{"AS", "Aksjeselskap", 60, false, false},
		{"ASA", "Allmennaksjeselskap", 5, false, true},
		{"ENK", "Enkeltpersonforetak", 20, true, false},
		{"DA", "Ansvarlig selskap med delt ansvar", 5, false, false},
		{"SA", "Samvirkeforetak", 5, false, false},
		{"NUF", "Norskregistrert utenlandsk foretak", 5, false, false},
	},
	places: []place{
		{"OSLO", "0150"}, {"BERGEN", "5003"}, {"TRONDHEIM", "7010"}, {"STAVANGER", "4006"}, {"TROMSØ", "9008"},
		{"KRISTIANSAND", "4610"}, {"DRAMMEN", "3015"}, {"BODØ", "8006"}, {"ÅLESUND", "6002"}, {"LILLEHAMMER", "2609"},
	},
	streets: []string{"Storgata", "Kongens gate", "Strandveien", "Fjordveien", "Industriveien", "Sjøgata", "Bryggen", "Parkveien"},
	poBox:   "Postboks",
	stems: []string{"Fjordlys", "Nordkyst", "Granheim", "Solvik", "Bjørkelund", "Havbris", "Fjellmark", "Skogtun",
		"Elvedal", "Vinterlys", "Tindeberg", "Lysøy", "Kvitfjell", "Sjøstjerne", "Myrvang"},
	trades: []trade{
		{"Eiendom", "68.209", "Utleie av egen eller leid fast eiendom ellers", "Kjøp, salg, utleie og forvaltning av fast eiendom"},
		{"Teknologi", "62.010", "Programmeringstjenester", "Utvikling og salg av programvare og tilknyttede tjenester"},
		{"Bygg", "41.200", "Oppføring av bygninger", "Oppføring og rehabilitering av bygninger"},
		{"Handel", "46.900", "Uspesifisert engroshandel", "Engroshandel med forbruksvarer"},
		{"Logistikk", "49.410", "Godstransport på vei", "Transport og lagring av gods"},
		{"Rådgivning", "70.220", "Bedriftsrådgivning og annen administrativ rådgivning", "Rådgivning innen ledelse og organisasjon"},
		{"Energi", "35.119", "Produksjon av elektrisitet ellers", "Produksjon og salg av fornybar energi"},
		{"Holding", "64.200", "Holdingselskaper", "Eie og forvalte aksjer i andre selskaper"},
	},
	firstNames: []string{"Kari", "Ola", "Ingrid", "Lars", "Sigrid", "Magnus", "Astrid", "Henrik", "Solveig", "Eirik", "Tone", "Bjørn"},
	lastNames: []string{"Brekkestad", "Lundevik", "Holtmark", "Sølvberg", "Nyhaugen", "Fagerlid", "Tverrdal", "Rognstad",
		"Kvamsøy", "Lerkevoll"},
	auditorWord: "Revisjon", accountantWord: "Regnskap", holdingWord: "Holding",
	roleCEO: "Daglig leder", roleChair: "Styrets leder", roleBoard: "Styremedlem", roleDeputy: "Varamedlem",
	roleAuditor: "Revisor", roleAccountant: "Regnskapsfører", roleOwner: "Innehaver", roleContact: "Kontaktperson",
	roleDeputyChair: "Nestleder", roleCompanySec: "Selskapssekretær", roleForeignRep: "Norsk representant for utenlandsk enhet",
	roleTrustee:   "Bobestyrer",
	sectorCompany: [2]string{"2100", "Private aksjeselskaper mv."}, sectorSole: [2]string{"8200", "Personlig næringsdrivende"},
	signatureRules: []string{"Styrets leder alene", "To styremedlemmer i fellesskap", "Daglig leder og styrets leder hver for seg", "Styret i fellesskap"},
	soleSignature:  "Innehaver alene",
	procurations:   []string{"Daglig leder alene", "To i fellesskap"},
}

var seProfile = profile{
	authority:      "Bolagsverket",
	mainRegister:   "Bolagsverkets näringslivsregister",
	tradeRegister:  "Aktiebolagsregistret",
	vatRegister:    "Skatteverket, momsregistret",
	accountsSource: "Bolagsverket, årsredovisningar",
	ownersSource:   "Bolagsverket, registret över verkliga huvudmän",
	sharesSource:   "Euroclear Sweden, aktiebok",
	currency:       "SEK",
	types: []orgType{
		{"AB", "Aktiebolag", 65, false, false},
		{"AB (publ)", "Publikt aktiebolag", 5, false, true},
		{"HB", "Handelsbolag", 8, false, false},
		{"KB", "Kommanditbolag", 5, false, false},
		{"EF", "Enskild näringsidkare", 12, true, false},
		{"EK", "Ekonomisk förening", 5, false, false},
	},
	places: []place{
		{"STOCKHOLM", "111 22"}, {"GÖTEBORG", "411 04"}, {"MALMÖ", "211 20"}, {"UPPSALA", "753 20"}, {"VÄSTERÅS", "722 11"},
		{"ÖREBRO", "702 10"}, {"LINKÖPING", "582 24"}, {"UMEÅ", "903 26"}, {"LULEÅ", "972 31"}, {"JÖNKÖPING", "553 20"},
	},
	streets: []string{"Storgatan", "Drottninggatan", "Kungsgatan", "Hamngatan", "Industrivägen", "Sjövägen", "Parkvägen"},
	poBox:   "Box",
	stems: []string{"Älvsborg", "Norrsken", "Granlund", "Sjöviken", "Björkhaga", "Fjällvind", "Ekbacken", "Stenudden",
		"Lövholmen", "Vintergata", "Solbacka", "Havsbris"},
	trades: []trade{
		{"Fastigheter", "68.204", "Uthyrning och förvaltning av egna eller arrenderade, andra lokaler", "Att äga och förvalta fast egendom"},
		{"Teknik", "62.010", "Dataprogrammering", "Utveckling och försäljning av programvara"},
		{"Bygg", "41.200", "Byggande av hus", "Byggnadsverksamhet och därmed förenlig verksamhet"},
		{"Handel", "46.900", "Icke specialiserad partihandel", "Partihandel med konsumentvaror"},
		{"Logistik", "49.410", "Vägtransport, godstrafik", "Transporter och lagerhållning"},
		{"Konsult", "70.220", "Konsultverksamhet avseende företags organisation", "Konsultverksamhet inom ledning och organisation"},
		{"Energi", "35.110", "Generering av elektricitet", "Produktion och försäljning av förnybar energi"}, //nolint:misspell // Swedish, spelt right
		{"Holding", "64.202", "Holdingverksamhet i icke-finansiella koncerner", "Att äga och förvalta aktier i dotterbolag"},
	},
	firstNames:  []string{"Anna", "Erik", "Karin", "Johan", "Maria", "Lars", "Elin", "Anders", "Sara", "Nils", "Ebba", "Gustav"},
	lastNames:   []string{"Lindqvarn", "Berghammar", "Sjöstedt", "Ekvall", "Holmgårdh", "Nyrén", "Åkerlind", "Strandvik", "Granqvist", "Löfmark"},
	auditorWord: "Revision", accountantWord: "Redovisning", holdingWord: "Holding",
	roleCEO: "Verkställande direktör", roleChair: "Styrelseordförande", roleBoard: "Styrelseledamot", roleDeputy: "Styrelsesuppleant",
	roleAuditor: "Revisor", roleAccountant: "Redovisningskonsult", roleOwner: "Innehavare", roleContact: "Kontaktperson",
	roleDeputyChair: "Vice ordförande", roleCompanySec: "Bolagssekreterare", roleForeignRep: "Filialens verkställande direktör",
	roleTrustee:   "Konkursförvaltare",
	sectorCompany: [2]string{"11000", "Icke-finansiella bolag"}, sectorSole: [2]string{"14100", "Egenföretagare"},
	signatureRules: []string{"Styrelsen", "Firman tecknas av styrelsen samt av två ledamöter i förening", "Firman tecknas av styrelsen samt av ordföranden ensam"},
	soleSignature:  "Innehavaren",
	procurations:   []string{"Verkställande direktören i löpande förvaltning"},
}

var fiProfile = profile{
	authority:      "Patentti- ja rekisterihallitus (PRH)",
	mainRegister:   "Yritys- ja yhteisötietojärjestelmä (YTJ)",
	tradeRegister:  "Kaupparekisteri",
	vatRegister:    "Arvonlisäverovelvollisten rekisteri",
	accountsSource: "PRH, tilinpäätökset",
	ownersSource:   "PRH, tosiasialliset edunsaajat",
	sharesSource:   "Osakasluettelo",
	currency:       "EUR",
	types: []orgType{
		{"Oy", "Osakeyhtiö", 65, false, false},
		{"Oyj", "Julkinen osakeyhtiö", 5, false, true},
		{"Ky", "Kommandiittiyhtiö", 6, false, false},
		{"Ay", "Avoin yhtiö", 4, false, false},
		{"Tmi", "Yksityinen elinkeinonharjoittaja", 15, true, false},
		{"Osk", "Osuuskunta", 5, false, false},
	},
	places: []place{
		{"HELSINKI", "00100"}, {"ESPOO", "02100"}, {"TAMPERE", "33100"}, {"TURKU", "20100"}, {"OULU", "90100"},
		{"JYVÄSKYLÄ", "40100"}, {"KUOPIO", "70100"}, {"LAHTI", "15110"}, {"VAASA", "65100"}, {"ROVANIEMI", "96100"},
	},
	streets: []string{"Rantatie", "Hämeenkatu", "Teollisuustie", "Satamakatu", "Kauppakatu", "Puistotie", "Koulukatu"},
	poBox:   "PL",
	stems: []string{"Koivula", "Revontuli", "Järvelä", "Kalliola", "Tuulimäki", "Lumikide", "Metsälä", "Aallokko",
		"Kuusela", "Pohjantähti", "Saarenpää", "Virtala"},
	trades: []trade{
		{"Kiinteistöt", "68.209", "Muiden kiinteistöjen vuokraus ja hallinta", "Kiinteistöjen omistaminen, vuokraus ja hallinta"},
		{"Teknologia", "62.010", "Ohjelmistojen suunnittelu ja valmistus", "Ohjelmistojen kehitys ja myynti"},
		{"Rakennus", "41.200", "Asuin- ja muiden rakennusten rakentaminen", "Rakennusurakointi ja korjausrakentaminen"},
		{"Kauppa", "46.900", "Muu tukkukauppa", "Kulutustavaroiden tukkukauppa"},
		{"Logistiikka", "49.410", "Tieliikenteen tavarankuljetus", "Kuljetus- ja varastointipalvelut"},
		{"Konsultointi", "70.220", "Muu liikkeenjohdon konsultointi", "Liikkeenjohdon konsultointi"},
		{"Energia", "35.110", "Sähkön tuotanto", "Uusiutuvan energian tuotanto ja myynti"},
		{"Holding", "64.200", "Holdingyhtiöiden toiminta", "Tytäryhtiöiden osakkeiden omistaminen ja hallinta"},
	},
	firstNames:  []string{"Aino", "Mikko", "Laura", "Juha", "Emilia", "Antti", "Helmi", "Ville", "Sanna", "Eero", "Venla", "Lauri"},
	lastNames:   []string{"Kivilahti", "Mäntyranta", "Honkasalo", "Leppävuori", "Rautiola", "Korpimäki", "Salmenkivi", "Harjuniemi", "Ylitalo", "Peltokorpi"},
	auditorWord: "Tilintarkastus", accountantWord: "Tilitoimisto", holdingWord: "Holding",
	roleCEO: "Toimitusjohtaja", roleChair: "Hallituksen puheenjohtaja", roleBoard: "Hallituksen jäsen", roleDeputy: "Hallituksen varajäsen",
	roleAuditor: "Tilintarkastaja", roleAccountant: "Kirjanpitäjä", roleOwner: "Elinkeinonharjoittaja", roleContact: "Yhteyshenkilö",
	roleDeputyChair: "Hallituksen varapuheenjohtaja", roleCompanySec: "Yhtiön sihteeri", roleForeignRep: "Sivuliikkeen edustaja",
	roleTrustee:   "Pesänhoitaja",
	sectorCompany: [2]string{"S11", "Yritykset"}, sectorSole: [2]string{"S14", "Kotitaloudet"},
	signatureRules: []string{"Hallitus", "Toimitusjohtaja yksin", "Hallituksen puheenjohtaja yksin", "Kaksi hallituksen jäsentä yhdessä"},
	soleSignature:  "Elinkeinonharjoittaja",
	procurations:   []string{"Prokuristi yksin", "Kaksi prokuristia yhdessä"},
}

// sanctionList is one screened list.
type sanctionList struct {
	key, name, source, url string
	ofac                   bool // needs the OFAC scope and the sanction.ofac expand
}

func sanctionLists() []sanctionList {
	return []sanctionList{
		{"eu", "EU Consolidated Financial Sanctions List", "European Commission", "https://sanctions.sandbox.example/eu/", false},
		{"un", "UN Security Council Consolidated List", "United Nations Security Council", "https://sanctions.sandbox.example/un/", false},
		{"uk", "UK Sanctions List", "HM Treasury, OFSI", "https://sanctions.sandbox.example/uk/", false},
		{"ofac", "Specially Designated Nationals and Blocked Persons List (SDN)", "U.S. Department of the Treasury, OFAC", "https://sanctions.sandbox.example/ofac/", true},
	}
}

// birthplaces of Norwegian synthetic persons (citizenship NO).
var birthplaces = []string{"Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Kristiansand", "Bodø", "Ålesund", "Hamar", "Molde"}
