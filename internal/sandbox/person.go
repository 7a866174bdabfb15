package sandbox

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// Synthetic natural persons: names, birth dates, places and national identity numbers.

// person is a synthetic natural person.
type person struct {
	name        string
	birth       time.Time
	city        string
	citizenship []string
	birthplace  string
	ssn         string    // a synthetic Norwegian national identity number
	since       time.Time // when the person took their role; zero: the registration date
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

// titleCase turns "TROMSØ" into "Tromsø".
func titleCase(s string) string {
	rs := []rune(strings.ToLower(s))
	if len(rs) > 0 {
		rs[0] = []rune(strings.ToUpper(string(rs[0])))[0]
	}
	return string(rs)
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
