package amlapi

// The sanction block of the organization document (document_organization.go).

import (
	"encoding/json"
	"log/slog"
)

// SanctionStatus is the outcome of the sanction screening. Unknown values
// are tolerated.
type SanctionStatus string

// Sanction statuses (model).
const (
	SanctionNoHit SanctionStatus = "NO_HIT"
	SanctionHit   SanctionStatus = "HIT"
)

// MaxMatchIndicator is the strongest match indicator (confirmed: up to 500).
const MaxMatchIndicator = 500

// Sanction is the sanction block.
type Sanction struct {
	Status SanctionStatus `json:"status,omitzero"`
	// Message is the screening's outcome in words, on a hit and on no hit
	// (the guide's field; model spelling).
	Message    string          `json:"message,omitzero"`
	ScreenedAt string          `json:"screenedAt,omitzero"`
	Lists      []SanctionList  `json:"lists,omitzero"` // the lists screened
	Matches    []SanctionMatch `json:"matches,omitzero"`
	Metadata   Metadata        `json:"metadata,omitzero"`
}

// SanctionList is a sanction list that was screened.
type SanctionList struct {
	Name   string `json:"name,omitzero"`
	Source string `json:"source,omitzero"` // e.g. EU, UN, OFAC
}

// SanctionMatch is one hit on a sanction list. The listed party's
// address is personal data when the party is a person: LogValue leaves it
// out.
type SanctionMatch struct {
	Name string `json:"name,omitzero"`
	// MatchIndicator is how strong the match is, 0 to MaxMatchIndicator;
	// MatchIndicatorDescription says it in words (the guide's field).
	MatchIndicator            int    `json:"matchIndicator,omitzero"`
	MatchIndicatorDescription string `json:"matchIndicatorDescription,omitzero"`
	// AliasList is the other names of the listed party (the guide's
	// aliasList; the older model's aliases is still read).
	AliasList   []string `json:"aliasList,omitzero"`
	Address     *Address `json:"address,omitzero"`    // the listed party's address (the guide's field)
	EntityType  string   `json:"entityType,omitzero"` // e.g. ORGANIZATION, PERSON
	ListName    string   `json:"listName,omitzero"`
	Source      string   `json:"source,omitzero"`
	Reference   string   `json:"reference,omitzero"`
	ListedDate  string   `json:"listedDate,omitzero"`
	UpdatedDate string   `json:"updatedDate,omitzero"`
	URLs        []string `json:"urls,omitzero"`
}

// UnmarshalJSON reads the match in the guide's shape and in the older
// model's (aliases for aliasList).
func (m *SanctionMatch) UnmarshalJSON(data []byte) error {
	type plain SanctionMatch
	var w struct {
		plain
		Aliases []string `json:"aliases"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*m = SanctionMatch(w.plain)
	if m.AliasList == nil {
		m.AliasList = w.Aliases
	}
	return nil
}

// LogValue logs the list and the strength of the match, not who matched.
func (m SanctionMatch) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", redacted),
		slog.Int("matchIndicator", m.MatchIndicator),
		slog.String("listName", m.ListName),
	)
}
