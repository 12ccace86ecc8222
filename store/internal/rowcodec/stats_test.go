package rowcodec

import "testing"

func TestStatsCodec(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"numbers and non-finite", `{"a":1,"b":"+Inf","c":"-Inf","d":"NaN"}`, true},
		{"bad string", `{"a":"lots"}`, false},
		{"not a number", `{"a":true}`, false},
		{"not an object", `[1]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := UnmarshalStats(tc.in); (err == nil) != tc.ok {
				t.Errorf("UnmarshalStats(%s) = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
}
