package envconfig

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteUnits are the units a size may carry: binary ones only, so that 1GiB
// is never mistaken for 10^9 bytes (1GB is refused, not guessed at).
var byteUnits = []struct {
	name string
	size int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// Bytes registers a size in bytes: a whole number, optionally followed by
// a binary unit, B, KiB, MiB, GiB or TiB (65536, 64KiB, 1GiB). Its default
// is shown in the largest unit that holds it exactly.
func (s *Set) Bytes(p *int64, env, flagName string, def int64, usage string) {
	s.register(env, flagName, FormatBytes(def), usage, false, func(x string) error {
		n, err := ParseBytes(x)
		if err != nil {
			return err
		}
		*p = n
		return nil
	})
}

// ParseBytes reads a size as Bytes takes it.
func ParseBytes(x string) (int64, error) {
	bad := fmt.Errorf("%q is not a size in bytes like 65536, 64KiB or 1GiB", x)
	text := strings.TrimSpace(x)
	unit := int64(1)
	for _, u := range byteUnits {
		if len(text) > len(u.name) && strings.EqualFold(text[len(text)-len(u.name):], u.name) {
			text, unit = strings.TrimSpace(text[:len(text)-len(u.name)]), u.size
			break
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 0 || text[0] == '+' {
		return 0, bad
	}
	if n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is too large", x)
	}
	return n * unit, nil
}

// FormatBytes writes n in the largest unit that holds it exactly (1GiB,
// 1536KiB, 100), as ParseBytes reads it.
func FormatBytes(n int64) string {
	for _, u := range byteUnits[:len(byteUnits)-1] {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
