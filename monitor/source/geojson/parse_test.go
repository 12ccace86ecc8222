package geojson

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// sharedData is the project's shared data directory seen from this package.
const sharedData = "../../../../shared/data"

func readShared(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedData, rel))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("shared data %s absent (expected at ../shared/data from the repository root)", rel)
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseUSGSWeeks(t *testing.T) {
	// Counts checked with:
	//   jq '.features | length' FILE
	//   jq '[.features[] | select(.properties.type == "earthquake")] | length' FILE
	// and every feature has an id, integer ms time and an in-range Point.
	for _, tc := range []struct {
		name        string
		file        string
		features    int
		earthquakes int
		first, last time.Time
	}{
		{
			name:        "kilauea 2018-06",
			file:        "usgs-week-2018-06-kilauea/all_week_2018-06-07_2018-06-14.geojson",
			features:    4711,
			earthquakes: 4658,
			first:       time.UnixMilli(1528363343200).UTC(),
			last:        time.UnixMilli(1528967533010).UTC(),
		},
		{
			name:        "solomon 2014-04",
			file:        "usgs-week-2014-04-solomon/all_week_2014-04-08_2014-04-15.geojson",
			features:    1513,
			earthquakes: 1486,
			first:       time.UnixMilli(1396959338502).UTC(),
			last:        time.UnixMilli(1397562567000).UTC(),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse(readShared(t, tc.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(b.Observations); got != tc.features {
				t.Errorf("observations = %d, want %d", got, tc.features)
			}
			for _, r := range b.Rejects {
				t.Errorf("reject %s %s: %v", r.Record, r.Field, r.Err)
			}
			var quakes int
			first, last := b.Observations[0].Time, b.Observations[0].Time
			for _, o := range b.Observations {
				if o.Kind == "earthquake" {
					quakes++
				}
				first, last = minTime(first, o.Time), maxTime(last, o.Time)
				if !json.Valid(o.Properties) || !strings.Contains(string(o.Properties), `"depth":`) {
					t.Fatalf("%s: properties without depth: %.200s", o.ID, o.Properties)
				}
			}
			if quakes != tc.earthquakes {
				t.Errorf("earthquakes = %d, want %d", quakes, tc.earthquakes)
			}
			if !first.Equal(tc.first) || !last.Equal(tc.last) {
				t.Errorf("span = %v..%v, want %v..%v", first, last, tc.first, tc.last)
			}
		})
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func TestParseUSGSFeature(t *testing.T) {
	data, err := os.ReadFile("testdata/usgs-2018-06-kilauea-excerpt.geojson")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Observations) != 6 || len(b.Rejects) != 0 {
		t.Fatalf("got %d observations, %d rejects, want 6, 0", len(b.Observations), len(b.Rejects))
	}
	o := b.Observations[0]
	want := monitor.Observation{
		ID:     "hv70264586",
		Time:   time.Date(2018, 6, 14, 9, 12, 13, 10e6, time.UTC),
		Point:  orb.Point{-155.2749939, 19.3939991},
		Place:  "5km SW of Volcano, Hawaii",
		Kind:   "earthquake",
		Title:  "M 2.9 - 5km SW of Volcano, Hawaii",
		URL:    "https://earthquake.usgs.gov/earthquakes/eventpage/hv70264586",
		Weight: 1,
	}
	got := o
	got.Properties = nil
	if !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want %v", got.Time, want.Time)
	}
	got.Time = want.Time
	if !equalObs(got, want) {
		t.Errorf("observation =\n%+v\nwant\n%+v", got, want)
	}
	var props map[string]any
	if err := json.Unmarshal(o.Properties, &props); err != nil {
		t.Fatal(err)
	}
	if props["depth"] != 1.46 || props["mag"] != 2.94 || props["net"] != "hv" {
		t.Errorf("properties depth, mag, net = %v, %v, %v, want 1.46, 2.94, hv", props["depth"], props["mag"], props["net"])
	}
	for i, kind := range []string{"quarry blast", "explosion", "volcanic eruption"} {
		if got := b.Observations[3+i].Kind; got != kind {
			t.Errorf("Kind[%d] = %q, want %q", 3+i, got, kind)
		}
	}
}

func equalObs(a, b monitor.Observation) bool {
	return a.ID == b.ID && a.Time.Equal(b.Time) && a.Point == b.Point && a.Place == b.Place &&
		a.Kind == b.Kind && a.Title == b.Title && a.URL == b.URL && a.Weight == b.Weight &&
		a.Precision == b.Precision && a.Geometry == nil && b.Geometry == nil
}

// feature builds a feature around a geometry and properties given as JSON.
func feature(id, geometry, props string) string {
	f := `{"type":"Feature"`
	if id != "" {
		f += `,"id":` + id
	}
	return f + `,"geometry":` + geometry + `,"properties":` + props + `}`
}

const (
	okPoint = `{"type":"Point","coordinates":[131.8855,43.1155,0.5]}`
	okProps = `{"time":1528967533010,"type":"earthquake"}`
)

func TestParseBadFeatures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		json   string
		opt    Options
		record string
		field  string
		err    error
	}{
		{"latitude 95", feature(`"a1"`, `{"type":"Point","coordinates":[131.9,95]}`, okProps), Options{}, "feature 0 (a1)", "geometry.coordinates", geo.ErrLatitudeRange},
		{"longitude 200", feature(`"a1"`, `{"type":"Point","coordinates":[200,43]}`, okProps), Options{}, "feature 0 (a1)", "geometry.coordinates", geo.ErrLongitudeRange},
		{"one number position", feature(`"a1"`, `{"type":"Point","coordinates":[131.9]}`, okProps), Options{}, "feature 0 (a1)", "geometry.coordinates", monitor.ErrBadValue},
		{"string coordinates", feature(`"a1"`, `{"type":"Point","coordinates":["131.9","43"]}`, okProps), Options{}, "feature 0 (a1)", "geometry.coordinates", monitor.ErrBadValue},
		{"huge coordinate", feature(`"a1"`, `{"type":"Point","coordinates":[1e400,43]}`, okProps), Options{}, "feature 0 (a1)", "geometry.coordinates", monitor.ErrBadValue},
		{"polygon vertex out of range", feature(`"a1"`, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,91],[0,0]]]}`, okProps), Options{}, "feature 0 (a1)", "geometry.coordinates", geo.ErrLatitudeRange},
		{"empty line", feature(`"a1"`, `{"type":"LineString","coordinates":[]}`, okProps), Options{}, "feature 0 (a1)", "geometry.coordinates", monitor.ErrMissing},
		{"null geometry", feature(`"a1"`, `null`, okProps), Options{}, "feature 0 (a1)", "geometry", monitor.ErrMissing},
		{"unknown geometry", feature(`"a1"`, `{"type":"Circle","coordinates":[1,2]}`, okProps), Options{}, "feature 0 (a1)", "geometry.type", monitor.ErrBadValue},
		{"bad collection member", feature(`"a1"`, `{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},{"type":"Point","coordinates":[1,-99]}]}`, okProps), Options{}, "feature 0 (a1)", "geometry.geometries[1].coordinates", geo.ErrLatitudeRange},
		{"no id", feature(``, okPoint, okProps), Options{}, "feature 0", "id", monitor.ErrMissing},
		{"empty id", feature(`""`, okPoint, okProps), Options{}, "feature 0", "id", monitor.ErrMissing},
		{"object id", feature(`{"a":1}`, okPoint, okProps), Options{}, "feature 0", "id", monitor.ErrBadValue},
		{"long id", feature(`"`+strings.Repeat("x", 300)+`"`, okPoint, okProps), Options{}, "feature 0 (" + strings.Repeat("x", monitor.MaxIDBytes) + "…(44 more bytes))", "id", monitor.ErrTooLong},
		{"missing id property", feature(``, okPoint, okProps), Options{IDProperty: "code"}, "feature 0", "properties.code", monitor.ErrMissing},
		{"no time", feature(`"a1"`, okPoint, `{"type":"earthquake"}`), Options{}, "feature 0 (a1)", "properties.time", monitor.ErrMissing},
		{"text time", feature(`"a1"`, okPoint, `{"time":"yesterday"}`), Options{}, "feature 0 (a1)", "properties.time", monitor.ErrBadTime},
		{"boolean time", feature(`"a1"`, okPoint, `{"time":true}`), Options{}, "feature 0 (a1)", "properties.time", monitor.ErrBadTime},
		{"year 0", feature(`"a1"`, okPoint, `{"time":"0000-01-01T00:00:00Z"}`), Options{}, "feature 0 (a1)", "properties.time", monitor.ErrBadTime},
		{"huge epoch", feature(`"a1"`, okPoint, `{"time":9223372036854775807}`), Options{}, "feature 0 (a1)", "properties.time", monitor.ErrBadTime},
		{"year 20000", feature(`"a1"`, okPoint, `{"time":569000000000000}`), Options{}, "feature 0 (a1)", "properties.time", monitor.ErrBadTime},
		{"renamed time missing", feature(`"a1"`, okPoint, okProps), Options{TimeProperty: "when"}, "feature 0 (a1)", "properties.when", monitor.ErrMissing},
		{"object place", feature(`"a1"`, okPoint, `{"time":1,"place":{}}`), Options{}, "feature 0 (a1)", "properties.place", monitor.ErrBadValue},
		{"negative weight", feature(`"a1"`, okPoint, `{"time":1,"mag":-0.4}`), Options{WeightProperty: "mag"}, "feature 0 (a1)", "properties.mag", monitor.ErrBadValue},
		{"text weight", feature(`"a1"`, okPoint, `{"time":1,"mag":"big"}`), Options{WeightProperty: "mag"}, "feature 0 (a1)", "properties.mag", monitor.ErrBadValue},
		{"array properties", feature(`"a1"`, okPoint, `[1,2]`), Options{}, "feature 0", "properties", monitor.ErrBadValue},
		{"not a feature", `{"type":"FeatureCollection","features":[{"type":"Point","coordinates":[1,2]}]}`, Options{}, "feature 0", "type", monitor.ErrBadValue},
		{"untyped", `{"type":"FeatureCollection","features":[{"geometry":null}]}`, Options{}, "feature 0", "type", monitor.ErrMissing},
		{"number for a feature", `{"type":"FeatureCollection","features":[42]}`, Options{}, "feature 0", "feature", monitor.ErrBadValue},
		{"bad second line", feature(`"a1"`, okPoint, okProps) + "\n" + `{"type":"Feature",` + "\n", Options{}, "line 2", "feature", monitor.ErrBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse([]byte(tc.json), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Rejects) != 1 {
				t.Fatalf("rejects = %d (observations %d), want 1", len(b.Rejects), len(b.Observations))
			}
			r := b.Rejects[0]
			if r.Record != tc.record || r.Field != tc.field || !errors.Is(r.Err, tc.err) {
				t.Errorf("reject = %q, %q, %v; want %q, %q, %v", r.Record, r.Field, r.Err, tc.record, tc.field, tc.err)
			}
			if r.Raw == "" || !strings.Contains(tc.json, r.Raw) {
				t.Errorf("Raw = %q, want the record", r.Raw)
			}
		})
	}
}

func TestParseDocumentErrors(t *testing.T) {
	for _, doc := range []string{
		"",
		"  \n",
		"not json",
		"[]",
		"42",
		`{"type":"Point","coordinates":[1,2]}`,
		`{"type":"FeatureCollection","features":{}}`,
		`{"type":"FeatureCollection","features":[`,                   // truncated download
		"{\n  \"type\": \"FeatureCollection\",\n  \"features\": [\n", // truncated, pretty-printed
	} {
		if b, err := Parse([]byte(doc), Options{}); !errors.Is(err, ErrNotGeoJSON) {
			t.Errorf("Parse(%q) = %d obs, %d rejects, %v; want ErrNotGeoJSON", doc, len(b.Observations), len(b.Rejects), err)
		}
	}
}

func TestParseNDJSON(t *testing.T) {
	data, err := os.ReadFile("testdata/usgs-2014-04-solomon-excerpt.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	// Blank lines, a CRLF, an RS prefix (RFC 8142) and a bad line in the middle.
	doc := "\n" + lines[0] + "\n" + strings.TrimSuffix(lines[1], "\n") + "\r\n" + "\x1e" + lines[2] +
		`{"type":"Feature","id":"x","geometry":{"type":"Point","coordinates":[0,100]},"properties":{"time":1}}` + "\n" + lines[3]
	b, err := Parse([]byte(doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Observations) != 4 || len(b.Rejects) != 1 {
		t.Fatalf("got %d observations, %d rejects, want 4, 1", len(b.Observations), len(b.Rejects))
	}
	if r := b.Rejects[0]; r.Record != "line 6 (x)" || r.Field != "geometry.coordinates" {
		t.Errorf("reject %q %q, want line 6 (x), geometry.coordinates", r.Record, r.Field)
	}
	if got := b.Observations[0].ID; got != "usb000pkux" {
		t.Errorf("first id = %q, want usb000pkux", got)
	}
}

func TestParseTimes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		time    string
		seconds bool
		want    time.Time
	}{
		{"epoch ms", `1528967533010`, false, time.Date(2018, 6, 14, 9, 12, 13, 10e6, time.UTC)},
		{"epoch ms fractional", `1528967533010.5`, false, time.Date(2018, 6, 14, 9, 12, 13, 10500000, time.UTC)},
		{"epoch s", `1528967533`, true, time.Date(2018, 6, 14, 9, 12, 13, 0, time.UTC)},
		{"epoch s fractional", `1528967533.25`, true, time.Date(2018, 6, 14, 9, 12, 13, 250e6, time.UTC)},
		{"negative epoch", `-1000`, false, time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"rfc3339 Z", `"2019-04-24T10:15:00Z"`, false, time.Date(2019, 4, 24, 10, 15, 0, 0, time.UTC)},
		{"rfc3339 offset", `"2019-04-24T10:15:00+10:00"`, false, time.Date(2019, 4, 24, 0, 15, 0, 0, time.UTC)},
		{"fraction", `"2020-04-27T19:32:29.850Z"`, false, time.Date(2020, 4, 27, 19, 32, 29, 850e6, time.UTC)},
		{"no zone is UTC", `"2019-04-24T10:15:00"`, false, time.Date(2019, 4, 24, 10, 15, 0, 0, time.UTC)},
		{"no zone fraction", `"2019-04-24T10:15:00.123"`, false, time.Date(2019, 4, 24, 10, 15, 0, 123e6, time.UTC)},
		{"space separator", `"2019-04-24 10:15:00"`, false, time.Date(2019, 4, 24, 10, 15, 0, 0, time.UTC)},
		{"basic offset", `"2019-04-24T10:15:00+1000"`, false, time.Date(2019, 4, 24, 0, 15, 0, 0, time.UTC)},
		{"minutes", `"2019-04-24T10:15"`, false, time.Date(2019, 4, 24, 10, 15, 0, 0, time.UTC)},
		{"date", `"2019-04-24"`, false, time.Date(2019, 4, 24, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse([]byte(feature(`1`, okPoint, `{"time":`+tc.time+`}`)), Options{EpochSeconds: tc.seconds})
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Rejects) > 0 {
				t.Fatalf("reject %s: %v", b.Rejects[0].Field, b.Rejects[0].Err)
			}
			got := b.Observations[0].Time
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("time %s = %v, want %v", tc.time, got, tc.want)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	doc := feature(`"top"`, okPoint, `{"when":"2019-04-24T10:15:00Z","kind":"police_presence","where":"Vladivostok",`+
		`"headline":"Police on Svetlanskaya","link":"https://example.org/1","n":3,"ref":4711}`)
	opt := Options{
		IDProperty:     "ref",
		TimeProperty:   "when",
		KindProperty:   "kind",
		PlaceProperty:  "where",
		TitleProperty:  "headline",
		URLProperty:    "link",
		WeightProperty: "n",
		DepthProperty:  "-",
	}
	b, err := Parse([]byte(doc), opt)
	if err != nil || len(b.Observations) != 1 {
		t.Fatalf("Parse = %+v, %v", b, err)
	}
	o := b.Observations[0]
	if o.ID != "4711" || o.Kind != "police_presence" || o.Place != "Vladivostok" || o.Title != "Police on Svetlanskaya" ||
		o.URL != "https://example.org/1" || o.Weight != 3 {
		t.Errorf("observation = %+v", o)
	}
	if strings.Contains(string(o.Properties), "depth") {
		t.Errorf("Properties = %s, want no depth with DepthProperty -", o.Properties)
	}

	// Without a kind property the default kind applies; without properties at
	// all the depth still goes into Properties.
	b, _ = Parse([]byte(feature(`"a"`, okPoint, `{"time":1}`)), Options{DefaultKind: "quake"})
	if got := b.Observations[0].Kind; got != "quake" {
		t.Errorf("Kind = %q, want the default kind", got)
	}
	b, _ = Parse([]byte(`{"type":"Feature","id":"a","geometry":`+okPoint+`,"properties":{"time":1,"depth":"deep"}}`), Options{})
	if got := string(b.Observations[0].Properties); got != `{"time":1,"depth":"deep"}` {
		t.Errorf("Properties = %s, want the source's depth kept", got)
	}
}

func TestParseGeometries(t *testing.T) {
	// A U-shaped polygon whose centroid falls in the notch, outside it.
	const uShape = `[[[0,0],[3,0],[3,3],[2,3],[2,1],[1,1],[1,3],[0,3],[0,0]]]`
	for _, tc := range []struct {
		name     string
		geometry string
		want     orb.Point
		keep     bool // Observation.Geometry is set
	}{
		{"point", `{"type":"Point","coordinates":[10,20]}`, orb.Point{10, 20}, false},
		{"multipoint nearest the mean", `{"type":"MultiPoint","coordinates":[[0,0],[1,1],[5,5]]}`, orb.Point{1, 1}, true},
		{"line midpoint", `{"type":"LineString","coordinates":[[0,0],[0,1],[0,3]]}`, orb.Point{0, 1.5}, true},
		{"longest line", `{"type":"MultiLineString","coordinates":[[[5,5],[5,6]],[[0,0],[0,4]]]}`, orb.Point{0, 2}, true},
		{"square centroid", `{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]}`, orb.Point{1, 1}, true},
		{"u-shape inside", `{"type":"Polygon","coordinates":` + uShape + `}`, orb.Point{0.5, 1.5}, true},
		{"largest polygon", `{"type":"MultiPolygon","coordinates":[[[[10,10],[11,10],[11,11],[10,11],[10,10]]],[[[0,0],[4,0],[4,4],[0,4],[0,0]]]]}`, orb.Point{2, 2}, true},
		{"collection prefers areas", `{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[50,50]},{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]}]}`, orb.Point{1, 1}, true},
		{"flat polygon", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[2,0],[0,0]]]}`, orb.Point{0, 0}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse([]byte(feature(`"g"`, tc.geometry, `{"time":1}`)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Rejects) > 0 {
				t.Fatalf("reject %s: %v", b.Rejects[0].Field, b.Rejects[0].Err)
			}
			o := b.Observations[0]
			if math.Abs(o.Point[0]-tc.want[0]) > 1e-6 || math.Abs(o.Point[1]-tc.want[1]) > 1e-6 {
				t.Errorf("Point = %v, want %v", o.Point, tc.want)
			}
			if (o.Geometry != nil) != tc.keep {
				t.Errorf("Geometry = %v, want kept: %v", o.Geometry, tc.keep)
			}
		})
	}
}
