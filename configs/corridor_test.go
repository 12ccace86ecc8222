package configs

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/paulmach/orb"
)

// TestCorridorErrors: a corridor or progression written wrong is an error at
// its field and line.
func TestCorridorErrors(t *testing.T) {
	base := `database: x.db
watches:
  - name: route
    corridor:
      coordinates: [[131.0, 43.0], [132.0, 43.0]]
      width: 5km
    rules:
      - type: progression
        window: 12h
        min_gap: 20km
        speed: 20-120km/h
`
	tests := []struct {
		name, from, to, field string
		line                  int
		err                   error
	}{
		{"no width", "      width: 5km\n", "", "watches[0].corridor.width", 5, ErrRequired},
		{"one point", "[[131.0, 43.0], [132.0, 43.0]]", "[[131.0, 43.0]]", "watches[0].corridor.coordinates[0]", 5, nil},
		{"bad latitude", "[132.0, 43.0]]", "[132.0, 93.0]]", "watches[0].corridor.coordinates[0][1]", 5, geo.ErrLatitudeRange},
		{"and a radius", "    corridor:\n", "    radius: 5km\n    corridor:\n", "watches[0].corridor", 6, nil},
		{"speed without unit", "speed: 20-120km/h", "speed: 20-120", "watches[0].rules[0].speed", 11, nil},
		{"speed reversed", "speed: 20-120km/h", "speed: 120-20km/h", "watches[0].rules[0].speed", 11, nil},
		{"no speed", "        speed: 20-120km/h\n", "", "watches[0].rules[0].speed", 0, ErrRequired},
		{"no min_gap", "        min_gap: 20km\n", "", "watches[0].rules[0].min_gap", 0, ErrRequired},
		{"one step", "        min_gap: 20km\n", "        min_gap: 20km\n        min_steps: 1\n", "watches[0].rules[0].min_steps", 11, nil},
		{"bad direction", "        min_gap: 20km\n", "        min_gap: 20km\n        direction: sideways\n", "watches[0].rules[0].direction", 11, rule.ErrOutOfRange},
		{"eps over min_gap", "        min_gap: 20km\n", "        min_gap: 20km\n        eps: 30km\n", "watches[0].rules[0].eps", 11, nil},
		{"option of another type", "        min_gap: 20km\n", "        min_gap: 20km\n        alpha: 0.1\n", "watches[0].rules[0].alpha", 11, ErrNotApplied},
		{"progression on a circle", "    corridor:\n      coordinates: [[131.0, 43.0], [132.0, 43.0]]\n      width: 5km\n", "    lat: 43\n    lon: 131\n    radius: 5km\n", "watches[0].rules[0].type", 8, rule.ErrNotCorridor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.from, tc.to, 1)
			if src == base {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, err := Parse([]byte(src))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want a *FieldError", err)
			}
			if !strings.HasPrefix(fe.Field, tc.field) {
				t.Errorf("field = %q, want %q (error %v)", fe.Field, tc.field, err)
			}
			if tc.line > 0 && fe.Line != tc.line {
				t.Errorf("line = %d, want %d (error %v)", fe.Line, tc.line, err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("error %v does not wrap %v", err, tc.err)
			}
		})
	}
	// The base and a MultiLineString given inline both build.
	for _, src := range []string{base, strings.Replace(base, "[[131.0, 43.0], [132.0, 43.0]]", "[[[131.0, 43.0], [131.5, 43.0]], [[131.5, 43.0], [132.0, 43.0]]]", 1)} {
		c, err := Parse([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Build()
		if err != nil {
			t.Fatal(err)
		}
		if cor, ok := p.Watches[0].Watch.Shape.(geo.Corridor); !ok || cor.LengthMeters() < 81e3 || cor.LengthMeters() > 82e3 {
			t.Errorf("corridor %+v, want 81 km along 43° N", p.Watches[0].Watch.Shape)
		}
	}
}

// TestRailwayFile: the bundled railway file (the README's corridor) is the
// default config's inline line, so the two examples watch the same route.
func TestRailwayFile(t *testing.T) {
	data, err := os.ReadFile("scenario/khasan-vladivostok-railway.geojson")
	if err != nil {
		t.Fatal(err)
	}
	line, err := geo.LoadLine(data, map[string]string{"name": "Khasan–Vladivostok"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(DefaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range c.Watches {
		if w.Corridor != nil {
			if len(w.Corridor.Coordinates) != 1 || len(line) != 1 || !slices.EqualFunc(w.Corridor.Coordinates[0], line[0],
				func(a [2]float64, b orb.Point) bool { return orb.Point(a) == b }) {
				t.Errorf("default config's %s line %v, the file's %v", w.Name, w.Corridor.Coordinates, line)
			}
			return
		}
	}
	t.Error("the default config has no corridor watch")
}
