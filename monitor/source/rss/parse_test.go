package rss

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo/gazetteer"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/httpfeed"
	"github.com/paulmach/orb"
)

var now = time.Date(2023, 9, 11, 0, 0, 0, 0, time.UTC)

func parseFile(t *testing.T, name string) monitor.Batch {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(data, gazetteer.Default(), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range b.Observations {
		if err := o.Validate(); err != nil {
			t.Errorf("observation %s: %v", o.ID, err)
		}
	}
	return b
}

// obs is what the tests check of an observation.
type obs struct {
	id        string
	point     orb.Point
	place     string
	precision monitor.Precision
	time      time.Time
}

func summarise(b monitor.Batch) []obs {
	var got []obs
	for _, o := range b.Observations {
		got = append(got, obs{o.ID, o.Point, o.Place, o.Precision, o.Time})
	}
	return got
}

func TestParseFixtures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string
		want    []obs
		rejects []string // "record field"
	}{
		{
			name:    "RSS georss:point",
			file:    "georss-point.rss",
			want:    []obs{{"report-101", orb.Point{131.8822, 43.1112}, "", monitor.PrecisionExact, time.Date(2023, 9, 10, 20, 30, 0, 0, time.UTC)}},
			rejects: []string{"item 1 (report-102) georss:point"},
		},
		{
			name: "Atom geo:lat/long, georss:where and text",
			file: "w3c-geo.atom",
			want: []obs{
				{"urn:example:border-watch:1", orb.Point{130.6460, 42.4180}, "", monitor.PrecisionExact, time.Date(2023, 9, 11, 7, 45, 0, 0, time.UTC)},
				{"urn:example:border-watch:2", orb.Point{132.9, 42.8}, "", monitor.PrecisionExact, time.Date(2023, 9, 11, 7, 50, 0, 0, time.UTC)},
				{"urn:example:border-watch:3#khasan-tumangang_rail_bridge", orb.Point{130.6460, 42.4180}, "Khasan–Tumangang rail bridge", monitor.PrecisionExact, time.Date(2023, 9, 10, 20, 0, 0, 0, time.UTC)},
			},
		},
		{
			name: "RSS plain text",
			file: "plain.rss",
			want: []obs{
				{"https://example.org/wire/7#geonames:2013348", orb.Point{131.8855, 43.1155}, "Vladivostok", monitor.PrecisionCity, time.Date(2023, 9, 10, 23, 0, 0, 0, time.UTC)},
				{"https://example.org/wire/7#khasan-tumangang_border_crossing", orb.Point{130.6400, 42.4250}, "Khasan–Tumangang border crossing", monitor.PrecisionExact, time.Date(2023, 9, 10, 23, 0, 0, 0, time.UTC)},
				{"sha256:" + hashID("Владивосток готовится к форуму\n") + "#geonames:2013348", orb.Point{131.8855, 43.1155}, "Vladivostok", monitor.PrecisionCity, now},
			},
			rejects: []string{"item 1 (https://example.org/wire/8) text"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := parseFile(t, tc.file)
			got := summarise(b)
			if len(got) != len(tc.want) {
				t.Fatalf("observations = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("observation %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			var rejects []string
			for _, r := range b.Rejects {
				rejects = append(rejects, r.Record+" "+r.Field)
			}
			if strings.Join(rejects, "; ") != strings.Join(tc.rejects, "; ") {
				t.Errorf("rejects = %q, want %q", rejects, tc.rejects)
			}
		})
	}
}

func TestParseProperties(t *testing.T) {
	b := parseFile(t, "plain.rss")
	var p struct {
		Confidence float64 `json:"confidence"`
		Matched    string  `json:"matched"`
		Mentions   int     `json:"mentions"`
		ItemTitle  string  `json:"item_title"`
		Link       string  `json:"link"`
	}
	o := b.Observations[0]
	if err := json.Unmarshal(o.Properties, &p); err != nil {
		t.Fatal(err)
	}
	if p.Confidence != 0.95 || p.Matched != "Vladivostok" || p.Mentions != 2 || p.ItemTitle != o.Title ||
		p.Link != "https://example.org/wire/7" || o.Kind != "news" {
		t.Errorf("properties = %s, kind %q", o.Properties, o.Kind)
	}
	// Only the item's own values: the feed's title would make the same entry
	// read from another feed (USGS's day and week) count as updated.
	if bytes.Contains(o.Properties, []byte("feed_title")) || bytes.Contains(o.Properties, []byte("Pacific Coast Wire")) {
		t.Errorf("properties hold the feed's title: %s", o.Properties)
	}
	if !errors.Is(b.Rejects[0].Err, ErrNoPlace) {
		t.Errorf("reject error = %v, want ErrNoPlace", b.Rejects[0].Err)
	}
}

func TestParseOptions(t *testing.T) {
	data, err := os.ReadFile("testdata/plain.rss")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(data, gazetteer.Default(), Options{Kind: "police_presence", MaxPlacesPerItem: 1, MinConfidence: 0.9, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range b.Observations {
		if o.Kind != "police_presence" {
			t.Errorf("%s: kind %q, want police_presence", o.ID, o.Kind)
		}
		ids = append(ids, o.ID)
	}
	// One place per item, the most confident: Vladivostok (0.95) before the crossing (0.95, named later).
	if want := 2; len(ids) != want {
		t.Errorf("observations %q, want %d", ids, want)
	}
}

func TestParseBadDocuments(t *testing.T) {
	valid, err := os.ReadFile("testdata/plain.rss")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, doc string }{
		{"empty", ""},
		{"not XML", "hello, world"},
		{"malformed XML", `<rss version="2.0"><channel><title>x</title><item><title>a</item></channel></rss>`},
		{"truncated feed", string(valid[:len(valid)/2])},
		{"HTML page", "<!DOCTYPE html><html><body><p>Vladivostok</p></body></html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse([]byte(tc.doc), gazetteer.Default(), Options{Now: now})
			if !errors.Is(err, ErrNotFeed) {
				t.Errorf("Parse error = %v, want ErrNotFeed", err)
			}
			if len(b.Observations)+len(b.Rejects) != 0 {
				t.Errorf("Parse gave %d observations, %d rejects with the error", len(b.Observations), len(b.Rejects))
			}
		})
	}
}

func TestPlainText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Vladivostok &amp; Khasan", "Vladivostok & Khasan"},
		{"<p>Police in<br>Vladivostok</p><script>var Khasan;</script>", "Police in Vladivostok"},
		{"no markup", "no markup"},
	} {
		if got := strings.Join(strings.Fields(plainText(tc.in)), " "); got != tc.want {
			t.Errorf("plainText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSourceArticle serves the reference article as an RSS item from a
// loopback server and pulls it.
func TestSourceArticle(t *testing.T) {
	text, err := os.ReadFile("../../../../shared/scenario/article.txt")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("reference article absent (expected at ../shared/scenario/article.txt from the repository root)")
	}
	if err != nil {
		t.Fatal(err)
	}
	var esc strings.Builder
	if err := xml.EscapeText(&esc, text); err != nil {
		t.Fatal(err)
	}
	feed := `<?xml version="1.0"?><rss version="2.0"><channel><title>Scenario</title>` +
		`<item><title>Kim visit rumoured</title><guid>scenario-1</guid>` +
		`<description>` + esc.String() + `</description></item></channel></rss>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte(feed))
	}))
	defer srv.Close()

	src := New(srv.URL, httpfeed.New(httpfeed.Options{}), gazetteer.Default(), Options{})
	var batches []monitor.Batch
	emit := func(_ context.Context, b monitor.Batch) error { batches = append(batches, b); return nil }
	for range 2 { // the second pull is not modified
		if err := src.Pull(t.Context(), now, emit); err != nil {
			t.Fatal(err)
		}
	}
	if len(batches) != 1 {
		t.Fatalf("%d batches, want 1", len(batches))
	}
	places := make(map[string]monitor.Observation)
	for _, o := range batches[0].Observations {
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", o.ID, err)
		}
		if !o.Time.Equal(now) {
			t.Errorf("%s: time %v, want the pull's %v", o.ID, o.Time, now)
		}
		places[o.Place] = o
	}
	v, ok := places["Vladivostok"]
	if !ok || v.Point != (orb.Point{131.8855, 43.1155}) || v.ID != "scenario-1#geonames:2013348" || v.Precision != monitor.PrecisionCity {
		t.Errorf("Vladivostok observation = %+v, want scenario-1#geonames:2013348 at the scenario's point", v)
	}
	if b, ok := places["Russia–North Korea border"]; !ok || b.Precision != monitor.PrecisionCity {
		t.Errorf("border observation = %+v", b)
	}
	// The default cap keeps 5 of the 7 places the article names; not Vladimir (0.425).
	if _, ok := places["Vladimir"]; ok || len(places) != DefaultMaxPlacesPerItem {
		t.Errorf("places = %v, want %d without Vladimir", keys(places), DefaultMaxPlacesPerItem)
	}
}

func keys(m map[string]monitor.Observation) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestItemTime reads USGS Atom entries (derived from the real Kilauea week)
// by each time an entry may carry: without <published>, the default falls back
// to <updated>, days after the origin; the usgs-atom preset reads the origin
// from the summary; a pattern that matches nothing rejects on summary.
func TestItemTime(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "usgs-week-2018-06-kilauea-excerpt.atom"))
	if err != nil {
		t.Fatal(err)
	}
	usgs, err := Preset("usgs-atom")
	if err != nil {
		t.Fatal(err)
	}
	const id = "urn:earthquake-usgs-gov:nc:73026976"
	tests := []struct {
		name string
		opt  Options
		want string // nc73026976's time, or the reject's field
	}{
		{"default", Options{}, "2018-06-13T20:52:46.41Z"},
		{"updated", Options{Time: TimeUpdated}, "2018-06-13T20:52:46.41Z"},
		{"usgs-atom", usgs, "2018-06-08T01:00:28Z"},
		{"no match", Options{Time: TimeSummary, TimePattern: regexp.MustCompile(`<dt>Origin</dt><dd>([^<]+)</dd>`)}, "reject summary"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.opt.Validate(); err != nil {
				t.Fatal(err)
			}
			b, err := Parse(data, gazetteer.Default(), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, o := range b.Observations {
				if o.ID == id {
					got = o.Time.Format(time.RFC3339Nano)
					if want := "2018-06-13T20:52:46.41Z"; o.Revised.Format(time.RFC3339Nano) != want {
						t.Errorf("revised %v, want %s", o.Revised, want)
					}
				}
			}
			for _, r := range b.Rejects {
				if strings.Contains(r.Record, id) {
					got = "reject " + r.Field
				}
			}
			if got != tc.want {
				t.Errorf("%s: %s, want %s", id, got, tc.want)
			}
		})
	}
	for _, bad := range []Options{{Time: "origin"}, {Time: TimeSummary}, {TimePattern: regexp.MustCompile("x")}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
}
