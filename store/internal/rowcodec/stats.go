package rowcodec

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// MarshalStats encodes a finding's stats as a JSON object, or NULL (nil) when
// there are none. JSON has no NaN or infinities (a surge's ratio over an
// expected 0 is +Inf), so those become the strings "NaN", "+Inf" and "-Inf".
func MarshalStats(stats map[string]float64) (any, error) {
	if len(stats) == 0 {
		return nil, nil
	}
	m := make(map[string]any, len(stats))
	for k, v := range stats {
		switch {
		case math.IsNaN(v):
			m[k] = "NaN"
		case math.IsInf(v, 1):
			m[k] = "+Inf"
		case math.IsInf(v, -1):
			m[k] = "-Inf"
		default:
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// UnmarshalStats decodes what MarshalStats wrote.
func UnmarshalStats(s string) (map[string]float64, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	stats := make(map[string]float64, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case float64:
			stats[k] = v
		case string:
			f, err := strconv.ParseFloat(v, 64) // accepts NaN, +Inf, -Inf
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			stats[k] = f
		default:
			return nil, fmt.Errorf("%s: %v is not a number", k, v)
		}
	}
	return stats, nil
}
