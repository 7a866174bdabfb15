package changes_test

import (
	"encoding/json"
	"fmt"

	"github.com/kybflow/kybflow/internal/changes"
)

func ExampleCompare() {
	previous := []byte(`{
	  "keyInformation": {"name": "Nordlys AS", "status": "ACTIVE"},
	  "roles": [{"type": "CEO", "name": "Ola Nordmann"}, {"type": "CHAIRMAN", "name": "Kari Nordmann"}],
	  "sanction": {"status": "NO_HIT", "screenedAt": "2025-06-01", "matches": []},
	  "links": {"reports": {"aml": "https://aml.example/organization/session/s-1/report/aml"}}
	}`)
	current := []byte(`{
	  "keyInformation": {"name": "Nordlys AS", "status": "BANKRUPT"},
	  "roles": [{"type": "CHAIRMAN", "name": "Kari Nordmann"}, {"type": "CEO", "name": "Per Hansen"}],
	  "sanction": {"status": "NO_HIT", "screenedAt": "2025-07-01", "matches": []},
	  "links": {"reports": {"aml": "https://aml.example/organization/session/s-2/report/aml"}}
	}`)
	r, err := changes.Compare(changes.Organization, previous, current)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The report, for the changed event: block names and counts. The
	// sanction screening time and the links are volatile: no change.
	event, _ := json.Marshal(r)
	fmt.Println(string(event))
	// The diff, for the artifact: what changed, with the values.
	for _, b := range r.Diff.Blocks {
		for _, c := range b.Changes {
			fmt.Println(b.Block, c.Op, c.Key, c.Before, c.After)
		}
	}
	// Output:
	// {"changed":true,"blocks":[{"block":"keyInformation","added":0,"removed":0,"modified":1},{"block":"roles","added":1,"removed":1,"modified":0}]}
	// keyInformation modified status ACTIVE BANKRUPT
	// roles added {"name":"Per Hansen","type":"CEO"} <nil> map[name:Per Hansen type:CEO]
	// roles removed {"name":"Ola Nordmann","type":"CEO"} map[name:Ola Nordmann type:CEO] <nil>
}
