package sandbox

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
)

// gen, the seeded random source of synthetic data; organization numbers and LEIs.

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
