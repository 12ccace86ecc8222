package csv

import (
	"bufio"
	_ "embed"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/geowatch/geowatch/monitor"
)

// preset is a built-in format: its options, and how it composes the fields
// that no single column holds.
type preset struct {
	opt     Options
	compose composeFunc
}

var presets = map[string]preset{
	// The USGS catalog CSV ("all_month.csv", or fdsnws/event/1/query?format=csv).
	// Kind is USGS's type as written ("earthquake", "quarry blast"), as the
	// geojson source has it, so the same event reads the same from both feeds.
	// Title and URL are composed as in USGS's GeoJSON: "M 1.6 - 2km SSE of Home
	// Gardens, CA" and the event page. Precision is exact.
	"usgs-csv": {
		opt: Options{
			Header: true,
			Fields: Fields{
				ID: "id", Time: "time", TimeLayout: []string{time.RFC3339Nano}, Updated: "updated",
				Lat: "latitude", Lon: "longitude", Kind: "type", Place: "place",
			},
		},
		compose: usgsCompose,
	},
	// GDELT 2.0 event exports: 61 tab-separated columns, no header. The id is
	// GLOBALEVENTID. The point is ActionGeo's, so rows GDELT could not geocode
	// are rejected with the latitude missing, or on ActionGeo_Type when its code
	// is empty or unknown (0,0 is never stored as a place). Kind is the CAMEO
	// event code as written ("042"); weight is NumMentions; precision follows
	// ActionGeo_Type. Time is DATEADDED, when GDELT read the report (to the 15
	// minutes in 2.0; SQLDATE, the event's day, is a date only); a row whose
	// SQLDATE is more than MaxEventLag (3 days) before it reports an old event
	// and is rejected as stale on SQLDATE.
	"gdelt2": {
		opt: Options{
			Delimiter:   '\t',
			LazyQuotes:  true,
			Columns:     gdelt2Columns,
			Fields:      gdeltFields("20060102150405"),
			Precisions:  gdeltGeoTypes,
			MaxEventLag: gdeltMaxEventLag,
		},
		compose: gdeltCompose,
	},
	// GDELT 1.0 event exports (daily files and the historical backfiles): the
	// 2.0 columns without the three *_ADM2Code ones, DATEADDED as a date, and
	// SOURCEURL only from April 2013, so rows of 57 and of 58 columns both read.
	"gdelt1": {
		opt: Options{
			Delimiter:   '\t',
			LazyQuotes:  true,
			Columns:     gdelt1Columns,
			MinColumns:  len(gdelt1Columns) - 1,
			Fields:      gdeltFields("20060102"),
			Precisions:  gdeltGeoTypes,
			MaxEventLag: gdeltMaxEventLag,
		},
		compose: gdeltCompose,
	},
	// ACLED exports with their header. The id is event_id_cnty, or data_id where
	// an export leaves event_id_cnty empty. event_date comes as 2020-05-09 from the API
	// and as "09 May 2020" or "9-May-20" from spreadsheets. Kind is event_type in
	// snake_case ("Violence against civilians" becomes
	// "violence_against_civilians"), the style of geowatch's kinds. Place is
	// "location, admin1, country". Weight stays 1: fatalities (kept in the
	// properties) are often estimates revised later and zero for most events,
	// and a weighted count would then count a deadly clash as many events and a
	// protest as none.
	"acled": {
		opt: Options{
			Header: true,
			Fields: Fields{
				ID: "event_id_cnty", IDFallback: "data_id", Time: "event_date",
				TimeLayout: []string{"2006-01-02", "2 January 2006", "2 Jan 2006", "2-Jan-06", "2-Jan-2006"},
				Lat:        "latitude", Lon: "longitude", Text: "notes", Precision: "geo_precision",
			},
			Precisions: map[string]monitor.Precision{
				"1": monitor.PrecisionExact,  // the town itself
				"2": monitor.PrecisionCity,   // near a town, or a part of a region
				"3": monitor.PrecisionRegion, // only the region is known
			},
		},
		compose: acledCompose,
	},
}

// PresetNames returns the names of the built-in formats, sorted.
func PresetNames() []string { return slices.Sorted(maps.Keys(presets)) }

// Preset returns the options of a built-in format, with Preset set to name, to
// inspect or to adjust.
func Preset(name string) (Options, error) {
	p, ok := presets[name]
	if !ok {
		return Options{}, fmt.Errorf("csv: preset %q: unknown (want one of %s)", name, strings.Join(PresetNames(), ", "))
	}
	o := p.opt
	o.Preset = name
	o.Columns = slices.Clone(o.Columns)
	o.Fields.TimeLayout = slices.Clone(o.Fields.TimeLayout)
	o.Fields.TimeColumns = slices.Clone(o.Fields.TimeColumns)
	o.Fields.EventTimeLayout = slices.Clone(o.Fields.EventTimeLayout)
	o.Precisions = maps.Clone(o.Precisions)
	return o, nil
}

// usgsCompose titles an event as USGS's GeoJSON does: "M 1.6 - 2km SSE of Home
// Gardens, CA", the type after the magnitude unless an earthquake ("M 1.8 Quarry
// Blast - …"), and "M ?" without a magnitude.
func usgsCompose(o *monitor.Observation, r row) {
	mag := "?"
	if v, err := strconv.ParseFloat(r.get("mag"), 64); err == nil {
		// Rounded half away from zero, as USGS does: 2.65 is "M 2.7".
		mag = strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
	}
	var b strings.Builder
	b.WriteString("M " + mag)
	if t := r.get("type"); t != "" && t != "earthquake" {
		b.WriteString(" " + titleCase(t))
	}
	if place := r.get("place"); place != "" {
		b.WriteString(" - " + place)
	}
	o.Title = b.String()
	if id := r.get("id"); id != "" {
		o.URL = "https://earthquake.usgs.gov/earthquakes/eventpage/" + id
	}
}

// titleCase capitalises each word: "quarry blast" is "Quarry Blast".
func titleCase(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] >= 'a' && b[i] <= 'z' && (i == 0 || b[i-1] == ' ') {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// gdeltMaxEventLag is how long after the event a GDELT report still counts as
// activity: SQLDATE is a day, and most rows of a 2.0 file date from that day or
// the day before (of 2,111 in 20191024143000.export.CSV, 2,051 and 9); the rest
// are a week, a month or a year old, anniversaries and retrospectives.
const gdeltMaxEventLag = 3 * 24 * time.Hour

// gdeltFields maps the GDELT columns both versions share.
func gdeltFields(dateAdded string) Fields {
	return Fields{
		ID: "GLOBALEVENTID", Time: "DATEADDED", TimeLayout: []string{dateAdded},
		EventTime: "SQLDATE", EventTimeLayout: []string{"20060102"},
		Lat: "ActionGeo_Lat", Lon: "ActionGeo_Long", Kind: "EventCode", Place: "ActionGeo_FullName",
		URL: "SOURCEURL", Weight: "NumMentions", Precision: "ActionGeo_Type",
	}
}

// gdeltGeoTypes map GDELT's geographic resolution codes onto precisions.
var gdeltGeoTypes = map[string]monitor.Precision{
	"1": monitor.PrecisionCountry, // COUNTRY
	"2": monitor.PrecisionRegion,  // USSTATE
	"3": monitor.PrecisionCity,    // USCITY
	"4": monitor.PrecisionCity,    // WORLDCITY
	"5": monitor.PrecisionRegion,  // WORLDSTATE
}

// gdeltCompose titles an event "Actor1 – verb (code) – Actor2", with the
// CAMEO description of the event code, leaving out actors GDELT did not name:
// "THE EU – Consult, not specified below (040)".
func gdeltCompose(o *monitor.Observation, r row) {
	code := r.get("EventCode")
	verb := code
	if d, ok := cameo()[code]; ok {
		verb = d + " (" + code + ")"
	}
	parts := make([]string, 0, 3)
	for _, s := range [...]string{r.get("Actor1Name"), verb, r.get("Actor2Name")} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	o.Title = strings.Join(parts, " – ")
}

// cameoTable is GDELT's CAMEO code table (cameoCodeTable.tsv: code,
// description, Goldstein scale, code), from the GDELT documentation as
// gdeltPyR ships it.
//
//go:embed cameo.tsv
var cameoTable string

// cameo returns the CAMEO event descriptions by code.
var cameo = sync.OnceValue(func() map[string]string {
	m := make(map[string]string, 300)
	sc := bufio.NewScanner(strings.NewReader(cameoTable))
	sc.Scan() // the header
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) >= 2 {
			m[f[0]] = strings.TrimSpace(f[1])
		}
	}
	return m
})

// acledCompose makes the kind and the place of an ACLED event.
func acledCompose(o *monitor.Observation, r row) {
	o.Kind = snakeCase(r.get("event_type"))
	var parts []string
	for _, s := range [...]string{r.get("location"), r.get("admin1"), r.get("country")} {
		// "Lagos, Lagos, Nigeria" says Lagos once.
		if s = strings.TrimSpace(s); s != "" && (len(parts) == 0 || parts[len(parts)-1] != s) {
			parts = append(parts, s)
		}
	}
	o.Place = strings.Join(parts, ", ")
}

// snakeCase lowercases s and joins its words with underscores:
// "Explosions/Remote violence" is "explosions_remote_violence".
func snakeCase(s string) string {
	var b strings.Builder
	sep := false
	for _, c := range s {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			sep = b.Len() > 0
			continue
		}
		if sep {
			b.WriteByte('_')
			sep = false
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// gdelt2Columns are GDELT 2.0's event columns, in order (GDELT 2.0 Event
// Database codebook; GDELT_2.0_Events_Column_Labels_Header_Row_Sep2016.csv).
var gdelt2Columns = []string{
	"GLOBALEVENTID", "SQLDATE", "MonthYear", "Year", "FractionDate",
	"Actor1Code", "Actor1Name", "Actor1CountryCode", "Actor1KnownGroupCode", "Actor1EthnicCode",
	"Actor1Religion1Code", "Actor1Religion2Code", "Actor1Type1Code", "Actor1Type2Code", "Actor1Type3Code",
	"Actor2Code", "Actor2Name", "Actor2CountryCode", "Actor2KnownGroupCode", "Actor2EthnicCode",
	"Actor2Religion1Code", "Actor2Religion2Code", "Actor2Type1Code", "Actor2Type2Code", "Actor2Type3Code",
	"IsRootEvent", "EventCode", "EventBaseCode", "EventRootCode", "QuadClass",
	"GoldsteinScale", "NumMentions", "NumSources", "NumArticles", "AvgTone",
	"Actor1Geo_Type", "Actor1Geo_FullName", "Actor1Geo_CountryCode", "Actor1Geo_ADM1Code", "Actor1Geo_ADM2Code",
	"Actor1Geo_Lat", "Actor1Geo_Long", "Actor1Geo_FeatureID",
	"Actor2Geo_Type", "Actor2Geo_FullName", "Actor2Geo_CountryCode", "Actor2Geo_ADM1Code", "Actor2Geo_ADM2Code",
	"Actor2Geo_Lat", "Actor2Geo_Long", "Actor2Geo_FeatureID",
	"ActionGeo_Type", "ActionGeo_FullName", "ActionGeo_CountryCode", "ActionGeo_ADM1Code", "ActionGeo_ADM2Code",
	"ActionGeo_Lat", "ActionGeo_Long", "ActionGeo_FeatureID",
	"DATEADDED", "SOURCEURL",
}

// gdelt1Columns are GDELT 1.0's: 2.0's without the *_ADM2Code columns, which
// 2.0 added.
var gdelt1Columns = slices.DeleteFunc(slices.Clone(gdelt2Columns), func(c string) bool {
	return strings.HasSuffix(c, "_ADM2Code")
})
