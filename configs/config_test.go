package configs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
)

func TestDefaultConfig(t *testing.T) {
	c, err := Parse(DefaultYAML)
	if err != nil {
		t.Fatalf("Parse(default.yaml): %v", err)
	}
	p, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	if p.Database != "./geowatch.gpkg" {
		t.Errorf("database = %q, want ./geowatch.gpkg", p.Database)
	}
	want := map[string][2]float64{ // watch → lat, lon from the scenario
		"vladivostok":      {43.1155, 131.8855},
		"khasan-tumangang": {42.43, 130.64},
		// The railway corridor is shown halfway along, by Barabash station.
		"khasan-vladivostok-railway": {43.19, 131.48},
	}
	if len(p.Watches) != len(want) {
		t.Fatalf("%d watches, want %d", len(p.Watches), len(want))
	}
	for _, w := range p.Watches {
		ll, ok := want[w.Watch.Name]
		if !ok {
			t.Errorf("unexpected watch %q", w.Watch.Name)
			continue
		}
		if d := abs(w.Watch.Center.Lat()-ll[0]) + abs(w.Watch.Center.Lon()-ll[1]); d > 0.02 {
			t.Errorf("watch %s at %v, want near lat %v lon %v", w.Watch.Name, w.Watch.Center, ll[0], ll[1])
		}
		if len(w.Watch.Rules) == 0 {
			t.Errorf("watch %s has no rules", w.Watch.Name)
		}
		if c, ok := w.Watch.Shape.(geo.Corridor); ok {
			if km := c.LengthMeters() / 1000; km < 245 || km > 260 {
				t.Errorf("railway corridor is %.1f km long, want about 252", km)
			}
		} else if w.Watch.Name == "khasan-vladivostok-railway" {
			t.Errorf("watch %s is a %T, want a corridor", w.Watch.Name, w.Watch.Shape)
		}
	}
	if len(p.Checks) != 1 || p.Checks[0].Type != "replay" {
		t.Errorf("checks = %+v, want one replay source", p.Checks)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestParseErrors checks that each mistake is reported with its field path and
// the line it is on.
func TestParseErrors(t *testing.T) {
	base := `database: x.db
sources:
  - name: feed
    type: geojson
    url: http://127.0.0.1/feed
    schedule: "@every 1m"
watches:
  - name: vlad
    place: Vladivostok
    radius: 50km
    rules:
      - type: count
        min: 3
        window: 6h
`
	tests := []struct {
		name      string
		from, to  string // replace from with to in base
		wantField string
		wantLine  int
		wantErr   error
	}{
		{"bad radius", "radius: 50km", "radius: 50 parsecs", "watches[0].radius", 10, nil},
		{"radius without unit", "radius: 50km", "radius: 50", "watches[0].radius", 10, geo.ErrNoUnit},
		{"zero window", "window: 6h", "window: 0s", "watches[0].rules[0].window", 14, ErrNotPositive},
		{"unknown place", "place: Vladivostok", "place: Atlantis", "watches[0].place", 9, ErrUnknown},
		{"bad schedule", `schedule: "@every 1m"`, `schedule: "every minute"`, "sources[0].schedule", 6, nil},
		{"missing url", "    url: http://127.0.0.1/feed\n", "", "sources[0]", 3, ErrRequired},
		{"unknown rule type", "type: count", "type: median", "watches[0].rules[0].type", 12, ErrUnknown},
		{"option of another type", "    url: http://127.0.0.1/feed\n", "    url: http://127.0.0.1/feed\n    dir: /tmp/x\n", "sources[0].dir", 6, ErrNotApplied},
		{"count without min", "        min: 3\n", "", "watches[0].rules[0].min", 12, ErrRequired},
		{"bad realtime", "radius: 50km", "radius: 50km\n    realtime: soon", "watches[0].realtime", 0, nil},
		{"zero realtime", "radius: 50km", "radius: 50km\n    realtime: 0s", "watches[0].realtime", 0, ErrNotPositive},
		{"long realtime", "radius: 50km", "radius: 50km\n    realtime: 2h", "watches[0].realtime", 0, ErrTooLong},
		{"duplicate watch", "watches:\n", "watches:\n  - name: vlad\n    lat: 1\n    lon: 2\n    radius: 1km\n    rules: [{type: count, min: 1, window: 1h}]\n", "watches[1].name", 0, ErrDuplicate},
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
			if !strings.HasPrefix(fe.Field, tc.wantField) {
				t.Errorf("field = %q, want %q (error %v)", fe.Field, tc.wantField, err)
			}
			if tc.wantLine > 0 && fe.Line != tc.wantLine {
				t.Errorf("line = %d, want %d (error %v)", fe.Line, tc.wantLine, err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
		})
	}
}

func TestParseStrict(t *testing.T) {
	for name, src := range map[string]string{
		"unknown key":   "databse: x.db\n",
		"duplicate key": "database: a.db\ndatabase: b.db\n",
		"not yaml":      "watches: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(src))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if !strings.Contains(err.Error(), "1:") && !strings.Contains(err.Error(), "2:") {
				t.Errorf("error %q does not give a line", err)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"30s", 30 * time.Second, false},
		{"6h", 6 * time.Hour, false},
		{"14d", 14 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"2w", 14 * 24 * time.Hour, false},
		{"1.5h", 90 * time.Minute, false},
		{"500ms", 500 * time.Millisecond, false},
		{"", 0, true},
		{"10", 0, true},
		{"5 years", 0, true},
		{"d", 0, true},
		{"99999999999d", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil {
			if back, err := ParseDuration(FormatDuration(got)); err != nil || back != got {
				t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", got, back, err)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML)
	f.Add([]byte("watches: [{name: a, lat: 1, lon: 2, radius: 1km, rules: [{type: cluster, eps: 1km, min_points: 3, window: 1h}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := c.Build(); err != nil {
			t.Fatalf("Parse accepted a config Build rejects: %v", err)
		}
	})
}

// TestParseReportsEveryError: one run reports every mistake of the file, each
// with its line and field path, in the user's words (no Go type names), with the
// valid keys and the nearest one for an unknown key.
func TestParseReportsEveryError(t *testing.T) {
	src := `database: x.db
databse: y.db
sources:
  - name: feed
    type: geojson
    url: http://127.0.0.1/feed
    schedule: "every minute"
    timeout: [1]
watches:
  - name: vlad
    place: Vladivostok
    radius: 50km
    rules:
      - type: count
        min: 6 hours
        window: 6h
        windw: 2h
        kinds: quake
      - type: cluster
        eps: 2km
        min_points: 3.5
        window: 6h
  - name: other
    lat: 43
    lon: 131
    radius: 5km
    name: again
    polygon: [1, 2]
    rules: [{type: count, min: 1, window: 1h, severity: {a: 1}}]
`
	_, err := Parse([]byte(src))
	if err == nil {
		t.Fatal("Parse accepted it")
	}
	want := []string{
		`line 2: databse: unknown key; did you mean "database"? (the keys here: database, database_password_file, durability,`,
		`line 7: sources[0].schedule: every minute:`,
		`line 8: sources[0].timeout: wrong type: want a string, got a list`,
		`line 15: watches[0].rules[0].min: wrong type: want a number, got the string "6 hours"`,
		`line 17: watches[0].rules[0].windw: unknown key; did you mean "window"?`,
		`line 18: watches[0].rules[0].kinds: wrong type: want a list, got the string "quake"`,
		`line 21: watches[0].rules[1].min_points: wrong type: want a whole number, got 3.5`,
		`line 27: watches[1].name: key given twice (first on line 23)`,
		`line 28: watches[1].polygon: wrong type: want a mapping of keys (name: value), got a list`,
		`line 29: watches[1].rules[0].severity: wrong type: want a string, got a mapping`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d does not start %q:\n%v", i+1, w, err)
		}
	}
	for _, goName := range []string{"configs.", "Go struct", "RuleConfig", "float64", "[]string", "interface"} {
		if strings.Contains(err.Error(), goName) {
			t.Errorf("errors speak Go (%q):\n%v", goName, err)
		}
	}
	for _, e := range unjoin(err) {
		var fe *FieldError
		if !errors.As(e, &fe) || fe.Line == 0 {
			t.Errorf("%v: not a *FieldError with a line", e)
		}
	}
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrWrongType) || !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("%v does not wrap the schema errors", err)
	}
}
