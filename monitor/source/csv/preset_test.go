package csv

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// sharedData is the project's shared data directory seen from this package.
const sharedData = "../../../../shared/data"

const (
	usgsMonth = "usgs-csv-2020-04/all_month_2020-03-28_2020-04-27.csv"
	gdelt2Day = "gdelt/gdelt2_20191024143000.export.CSV"
)

func readShared(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedData, rel))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("shared data %s not present (expected at the repo's ../shared/data)", rel)
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parsePreset(t *testing.T, preset string, data []byte) monitor.Batch {
	t.Helper()
	b, err := Parse(bytes.NewReader(data), Options{Preset: preset})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range b.Observations {
		if err := o.Validate(); err != nil {
			t.Fatalf("observation %s: %v", o.ID, err)
		}
	}
	return b
}

// wantCounts checks a batch's size and that every reject is for want's
// reasons: the field and the sentinel, keyed "field: sentinel".
func wantCounts(t *testing.T, b monitor.Batch, stored int, rejects map[string]int, reasons map[string]error) {
	t.Helper()
	if len(b.Observations) != stored {
		t.Errorf("%d observations, want %d", len(b.Observations), stored)
	}
	got := make(map[string]int)
	for _, r := range b.Rejects {
		key := r.Field + ": " + r.Err.Error()
		for k, err := range reasons {
			if strings.HasPrefix(k, r.Field+":") && errors.Is(r.Err, err) {
				key = k
			}
		}
		got[key]++
	}
	if len(got) != len(rejects) {
		t.Errorf("rejects by reason %v, want %v", got, rejects)
	}
	for k, n := range rejects {
		if got[k] != n {
			t.Errorf("rejects by reason %v, want %v", got, rejects)
			break
		}
	}
}

func TestUSGSMonth(t *testing.T) {
	b := parsePreset(t, "usgs-csv", readShared(t, usgsMonth))
	// 15,410 rows, all well-formed.
	wantCounts(t, b, 15410, nil, nil)
	kinds := make(map[string]int)
	unknownMag := 0
	for _, o := range b.Observations {
		kinds[o.Kind]++
		if strings.HasPrefix(o.Title, "M ? - ") {
			unknownMag++
		}
		if o.Precision != monitor.PrecisionExact || o.Weight != 1 {
			t.Fatalf("%s: precision %v, weight %v; want exact, 1", o.ID, o.Precision, o.Weight)
		}
	}
	wantKinds := map[string]int{"earthquake": 15236, "explosion": 72, "quarry blast": 54, "ice quake": 46, "other event": 2}
	if len(kinds) != len(wantKinds) {
		t.Errorf("kinds %v, want %v", kinds, wantKinds)
	}
	for k, n := range wantKinds {
		if kinds[k] != n {
			t.Errorf("kinds %v, want %v", kinds, wantKinds)
			break
		}
	}
	if unknownMag != 7 {
		t.Errorf("%d titles without a magnitude, want 7", unknownMag)
	}
	// The first row: 2020-04-27T19:32:29.850Z,33.857,-117.5158333,0.59,1.63,…,ci39407752,…,"2km SSE of Home Gardens, CA",quarry blast,…
	got := b.Observations[0]
	want := monitor.Observation{
		ID: "ci39407752", Time: time.Date(2020, 4, 27, 19, 32, 29, 850e6, time.UTC), Point: orb.Point{-117.5158333, 33.857},
		Place: "2km SSE of Home Gardens, CA", Kind: "quarry blast", Title: "M 1.6 Quarry Blast - 2km SSE of Home Gardens, CA",
		URL: "https://earthquake.usgs.gov/earthquakes/eventpage/ci39407752", Weight: 1,
	}
	got.Properties = nil
	if !equalObs(got, want) {
		t.Errorf("first row\n got %+v\nwant %+v", got, want)
	}
	// The columns no field holds as read; the composed title's mag is kept.
	if !bytes.HasPrefix(b.Observations[0].Properties, []byte(`{"depth":"0.59","mag":"1.63","magType":"ml",`)) ||
		bytes.Contains(b.Observations[0].Properties, []byte(`"latitude"`)) {
		t.Errorf("properties = %s", b.Observations[0].Properties)
	}
}

func TestUSGSTitles(t *testing.T) {
	// Titles as USGS's GeoJSON writes them, from the excerpt's rows.
	b := parsePreset(t, "usgs-csv", readTestdata(t, "usgs-2020-04-excerpt.csv"))
	wantCounts(t, b, 12, nil, nil)
	want := []string{
		"M 1.6 Quarry Blast - 2km SSE of Home Gardens, CA",
		"M 1.4 Quarry Blast - 4km SSE of Home Gardens, CA",
		"M 2.0 - 5km SSE of Pahala, Hawaii",
		"M 1.5 - 6km N of Wildomar, CA", // 1.45 rounds half away from zero
		"M 0.2 - 20km ESE of Little Lake, CA",
		"M 2.2 Ice Quake - 98km W of Haines, Alaska",
		"M 1.4 Ice Quake - 72km WNW of Valdez, Alaska",
		"M 1.8 Explosion - 10km SW of Elgin, Oregon",
		"M 1.3 Explosion - 8km N of Waitsburg, Washington",
		"M 1.5 Other Event - 93km WSW of Haines Junction, Canada",
		"M ? - 30km SE of Bodie, CA",
		"M ? - 4km W of Cobb, CA",
	}
	for i, o := range b.Observations {
		if o.Title != want[i] {
			t.Errorf("row %d title = %q, want %q", i+1, o.Title, want[i])
		}
	}
}

func TestGDELT2Export(t *testing.T) {
	b := parsePreset(t, "gdelt2", readShared(t, gdelt2Day))
	// 2,111 rows; 38 have no ActionGeo coordinates (37 of ActionGeo_Type 0, one
	// of type 1 for country YI, which GDELT did not place): awk -F'\t' '$57==""'.
	// Of the rest, 51 report events more than 3 days before DATEADDED
	// (2019-10-24 14:30): SQLDATE 20181024 (24), 20190924 (20), 20191017 (7).
	wantCounts(t, b, 2022, map[string]int{
		"ActionGeo_Lat: missing": 38,
		"SQLDATE: stale: event of 2018-10-24 reported 365.6 days later (max_event_lag 3.0 days)": 24,
		"SQLDATE: stale: event of 2019-09-24 reported 30.6 days later (max_event_lag 3.0 days)":  20,
		"SQLDATE: stale: event of 2019-10-17 reported 7.6 days later (max_event_lag 3.0 days)":   7,
	}, map[string]error{"ActionGeo_Lat: missing": monitor.ErrMissing})
	precisions := make(map[monitor.Precision]int)
	for _, o := range b.Observations {
		precisions[o.Precision]++
	}
	// ActionGeo_Type of the located rows: 1 549 (country), 2 283 + 5 62
	// (region), 3 368 + 4 811 (city); of the current ones 532, 342, 1148.
	wantPrec := map[monitor.Precision]int{monitor.PrecisionCountry: 532, monitor.PrecisionRegion: 342, monitor.PrecisionCity: 1148}
	for p, n := range wantPrec {
		if precisions[p] != n {
			t.Errorf("precisions %v, want %v", precisions, wantPrec)
		}
	}
	if r := b.Rejects[0]; r.Record != "line 1 (id 881990832)" || !strings.HasPrefix(r.Raw, "881990832\t20181024\t") {
		t.Errorf("first reject = %q, raw %.40q", r.Record, r.Raw)
	}
	// Line 2: …THE EU…040…Minsk, Belarus (general), Belarus…53.9, 27.5667…20191024143000, belsat.eu URL:
	// an article on the tenth anniversary of the Eastern Partnership, SQLDATE
	// 20181024, a year before: stale. With the check off it is stored.
	if r := b.Rejects[1]; r.Record != "line 2 (id 881990833)" || r.Field != "SQLDATE" || !errors.Is(r.Err, monitor.ErrStale) {
		t.Errorf("second reject = %q %q %v, want line 2 (id 881990833) SQLDATE stale", r.Record, r.Field, r.Err)
	}
	all, err := Parse(bytes.NewReader(readShared(t, gdelt2Day)), Options{Preset: "gdelt2", MaxEventLag: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Observations) != 2073 || len(all.Rejects) != 38 {
		t.Errorf("max_event_lag off: %d stored, %d rejected; want 2073, 38", len(all.Observations), len(all.Rejects))
	}
	got := all.Observations[1]
	want := monitor.Observation{
		ID: "881990833", Time: time.Date(2019, 10, 24, 14, 30, 0, 0, time.UTC), Point: orb.Point{27.5667, 53.9},
		Place: "Minsk, Belarus (general), Belarus", Kind: "040", Title: "Consult, not specified below (040) – THE EU",
		URL:    "https://belsat.eu/en/news/10-years-of-belarus-participating-in-eastern-partnership-what-is-to-come/",
		Weight: 10, Precision: monitor.PrecisionCity,
	}
	got.Properties = nil
	if !equalObs(got, want) {
		t.Errorf("line 2\n got %+v\nwant %+v", got, want)
	}
}

func TestGDELT1(t *testing.T) {
	tests := []struct {
		file              string
		stored, noCoords  int
		withURL, withoutU int // stored rows of 58 and of 57 columns
	}{
		// Derived from the 2.0 file: see testdata/README.txt. Parsed with
		// max_event_lag off: the staleness of 1.0 rows is TestGDELT1Backfile's.
		{"gdelt1-20191024-daily.tsv", 17, 3, 17, 0},
		{"gdelt1-mixed-57-58.tsv", 26, 4, 18, 8},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := Parse(bytes.NewReader(readTestdata(t, tc.file)), Options{Preset: "gdelt1", MaxEventLag: -1})
			if err != nil {
				t.Fatal(err)
			}
			wantCounts(t, b, tc.stored, map[string]int{"ActionGeo_Lat: missing": tc.noCoords}, map[string]error{"ActionGeo_Lat: missing": monitor.ErrMissing})
			var withURL, without int
			for _, o := range b.Observations {
				if !o.Time.Equal(time.Date(2019, 10, 24, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("%s: time %v, want 2019-10-24", o.ID, o.Time)
				}
				if o.URL != "" {
					withURL++
				} else if bytes.Contains(o.Properties, []byte(`"SOURCEURL"`)) {
					t.Errorf("%s: no URL but SOURCEURL in properties", o.ID)
				} else {
					without++
				}
			}
			if withURL != tc.withURL || without != tc.withoutU {
				t.Errorf("stored with URL %d, without %d; want %d, %d", withURL, without, tc.withURL, tc.withoutU)
			}
		})
	}
}

// TestGDELT1Derivation checks that the 1.0 columns are the 1.0 header file's.
func TestGDELT1Derivation(t *testing.T) {
	sc := bufio.NewScanner(bytes.NewReader(readShared(t, "gdelt/GDELT_1.0_event_Column_Labels_Header_Row_Sep2016.tsv")))
	var want []string
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" && s != "tableId" {
			want = append(want, s)
		}
	}
	if !slices.Equal(gdelt1Columns, want) {
		t.Errorf("gdelt1 columns\n got %v\nwant %v", gdelt1Columns, want)
	}
	data := readShared(t, "gdelt/GDELT_2.0_Events_Column_Labels_Header_Row_Sep2016.csv")
	want = want[:0]
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if i > 0 {
			want = append(want, strings.SplitN(line, ",", 2)[0])
		}
	}
	if !slices.Equal(gdelt2Columns, want) {
		t.Errorf("gdelt2 columns\n got %v\nwant %v", gdelt2Columns, want)
	}
}

func TestACLED(t *testing.T) {
	b := parsePreset(t, "acled", readTestdata(t, "acled-synthetic.csv"))
	wantCounts(t, b, 18,
		map[string]int{"event_date: bad": 1, "latitude: missing": 1},
		map[string]error{"event_date: bad": monitor.ErrBadTime, "latitude: missing": monitor.ErrMissing})
	// SYN1010's notes span two lines, so the bad rows start on lines 21 and 22.
	for i, want := range []string{"line 21 (id SYN1019)", "line 22 (id SYN1020)"} {
		if got := b.Rejects[i].Record; got != want {
			t.Errorf("reject %d record = %q, want %q", i, got, want)
		}
	}
	day := func(d int) time.Time { return time.Date(2020, 5, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		i                  int
		id                 string
		time               time.Time
		kind, place, title string
		precision          monitor.Precision
	}{
		{0, "SYN1001", day(9), "protests", "Port Sample, Northland, Examplia", "On 9 May 2020, traders protested market fees in Port Sample.", monitor.PrecisionExact},
		{1, "SYN1002", day(9), "riots", "Port Sample, Northland, Examplia", `On 9 May 2020, youths clashed with police over a curfew; "several" arrests.`, monitor.PrecisionExact},
		{2, "SYN1003", day(9), "battles", "Hill Camp, Eastland, Examplia", "On 9 May 2020, soldiers clashed with gunmen near Hill Camp.", monitor.PrecisionCity},
		{3, "SYN1004", day(9), "violence_against_civilians", "Ridge, Eastland, Examplia", "On 9 May 2020, gunmen attacked a village in Ridge district. Location coded to the district.", monitor.PrecisionRegion},
		{4, "SYN1005", day(10), "explosions_remote_violence", "Lake Town, Eastland, Examplia", "On 10 May 2020, an IED exploded on the Lake Town road.", monitor.PrecisionExact},
		{5, "SYN1006", day(10), "strategic_developments", "Lake Town, Eastland, Examplia", "On 10 May 2020, shops were looted in Lake Town.", monitor.PrecisionExact},
		{7, "SYN1008", day(11), "protests", "Capital, Samplestan", "", monitor.PrecisionCity},
		{9, "SYN1010", day(11), "riots", "Delta Port, South, Samplestan", "Multi-line note: line one.\nLine two.", monitor.PrecisionExact},
	}
	for _, tc := range tests {
		o := b.Observations[tc.i]
		if o.ID != tc.id || !o.Time.Equal(tc.time) || o.Kind != tc.kind || o.Place != tc.place || o.Title != tc.title || o.Precision != tc.precision || o.Weight != 1 {
			t.Errorf("observation %d = %s %v %q %q %q %v %v\nwant %s %v %q %q %q %v 1", tc.i, o.ID, o.Time, o.Kind, o.Place, o.Title, o.Precision, o.Weight,
				tc.id, tc.time, tc.kind, tc.place, tc.title, tc.precision)
		}
	}
	if !bytes.Contains(b.Observations[8].Properties, []byte(`"fatalities":"12"`)) {
		t.Errorf("SYN1009 properties lack its fatalities: %s", b.Observations[8].Properties)
	}
}
