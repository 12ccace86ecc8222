package monitor_test

import (
	"testing"

	"github.com/geowatch/geowatch/monitor"
)

func TestFilterMatch(t *testing.T) {
	a := monitor.Alert{Watch: "vladivostok", Rule: "fires", Severity: monitor.SeverityWarning,
		Labels: map[string]string{"team": "east", "kind": "fire"}}
	tests := []struct {
		name string
		f    monitor.Filter
		want bool
	}{
		{"empty", monitor.Filter{}, true},
		{"watch", monitor.Filter{Watches: []string{"other", "vladivostok"}}, true},
		{"other watch", monitor.Filter{Watches: []string{"other"}}, false},
		{"rule", monitor.Filter{Rules: []string{"fires"}}, true},
		{"other rule", monitor.Filter{Rules: []string{"quakes"}}, false},
		{"severity below", monitor.Filter{MinSeverity: monitor.SeverityWarning}, true},
		{"severity above", monitor.Filter{MinSeverity: monitor.SeverityCritical}, false},
		{"label", monitor.Filter{Labels: map[string]string{"team": "east"}}, true},
		{"all labels", monitor.Filter{Labels: map[string]string{"team": "east", "kind": "fire"}}, true},
		{"label value differs", monitor.Filter{Labels: map[string]string{"team": "west"}}, false},
		{"label missing", monitor.Filter{Labels: map[string]string{"region": "pacific"}}, false},
		{"empty value is not absence", monitor.Filter{Labels: map[string]string{"region": ""}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Match(monitor.Event{Alert: a}); got != tc.want {
				t.Errorf("%+v.Match(%+v) = %v, want %v", tc.f, a, got, tc.want)
			}
		})
	}
}
