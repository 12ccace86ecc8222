package configs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration as people write them in configs and on the
// command line: Go's units (s, m, h, ms) plus d for days (24 h) and w for weeks,
// combined as in "1d12h" or "90s".
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := t
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') && rest[j] != '.' {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		if num == "" {
			return 0, fmt.Errorf("duration %q: want a number with a unit such as 30s, 6h or 14d", s)
		}
		var scale time.Duration
		switch unit {
		case "w":
			scale = 7 * 24 * time.Hour
		case "d":
			scale = 24 * time.Hour
		case "":
			return 0, fmt.Errorf("duration %q: missing unit (use s, m, h or d)", s)
		default:
			d, err := time.ParseDuration("1" + unit)
			if err != nil {
				return 0, fmt.Errorf("duration %q: unknown unit %q (use s, m, h or d)", s, unit)
			}
			scale = d
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		if v*float64(scale) > float64(1<<62) {
			return 0, fmt.Errorf("duration %q: too long", s)
		}
		total += time.Duration(v * float64(scale))
	}
	return total, nil
}

// FormatDuration writes d the short way people read it: "6h", "14d", "1h30m".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	for _, u := range []struct {
		unit string
		size time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}} {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.size
		}
	}
	if d > 0 {
		b.WriteString(d.String())
	}
	return b.String()
}
