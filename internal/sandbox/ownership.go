package sandbox

import (
	"math"
	"time"
)

// Synthetic ownership of a company: beneficial owners, shareholders and subsidiaries.

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
