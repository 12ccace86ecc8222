package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
)

// csvTestdata holds the csv source's fixtures (see its README.txt).
const csvTestdata = "../../monitor/source/csv/testdata"

// storedRow is an observation as an analyst's sqlite3 reads it.
type storedRow struct {
	id, observedAt, precision string
	lat, lon                  float64
}

// storedRows reads the observations of a source by ext_id, with plain SQL.
func storedRows(t *testing.T, db, source string) map[string]storedRow {
	t.Helper()
	c, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rows, err := c.QueryContext(t.Context(), `SELECT ext_id, observed_at || '', precision, lat, lon FROM observations WHERE source = ?`, source)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]storedRow{}
	for rows.Next() {
		var r storedRow
		if err := rows.Scan(&r.id, &r.observedAt, &r.precision, &r.lat, &r.lon); err != nil {
			t.Fatal(err)
		}
		out[r.id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ingestWithConfig runs `geowatch ingest --config` for source name and checks
// that the run reconciles.
func ingestWithConfig(t *testing.T, cfg, file, name string) monitor.IngestResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"ingest", "--config", cfg, file, "--source", name}, &stdout, &stderr); err != nil {
		t.Fatalf("ingest %s: %v\n%s", name, err, stderr.String())
	}
	var r monitor.IngestResult
	if _, err := fmt.Sscanf(stdout.String(), "seen %d, added %d, updated %d, unchanged %d, rejected %d\n",
		&r.Seen, &r.Added, &r.Updated, &r.Unchanged, &r.Rejected); err != nil {
		t.Fatalf("summary %q: %v", stdout.String(), err)
	}
	if r.Seen != r.Added+r.Updated+r.Unchanged+r.Rejected {
		t.Errorf("%s: seen %d != added+updated+unchanged+rejected in %+v", name, r.Seen, r)
	}
	return r
}

// TestCSVFeedsReadRight reads real and real-format exports through a config
// written as the README's csv section tells: GDELT rows never geocoded are
// rejected, not stored at 0,0; reports of old events are rejected as stale,
// unless the config dates GDELT by the event; ACLED rows without
// event_id_cnty are keyed by data_id; a catalogue with separate date and
// 12-hour time columns, in a time zone, reads at the right instant.
func TestCSVFeedsReadRight(t *testing.T) {
	if _, err := os.Stat(sharedData); err != nil {
		t.Skipf("real data absent (%v)", err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "geowatch.gpkg")
	gdelt2 := filepath.Join(sharedData, "gdelt/gdelt2_20191024143000.export.CSV")
	catalogue := filepath.Join(dir, "catalogue.csv")
	// A national catalogue's layout: date and local time apart, 12-hour.
	writeFile(t, catalogue, "event,date,time,lat,lon,mag\n"+
		"jma-1,2024-05-01,4:49 AM,35.68,139.77,4.1\n"+
		"jma-2,2024-05-01,12:05 PM,36.10,140.10,3.2\n"+
		"jma-3,2024-05-01,25:00 PM,36.10,140.10,3.2\n")
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
database: %s
sources:
  - name: gdelt
    type: csv
    preset: gdelt2
    url: %s
    schedule: "*/15 * * * *"
%s  - name: gdelt-backfile
    type: csv
    preset: gdelt1
    url: %s/gdelt1-backfile-2013.tsv
    schedule: "@daily"
  - name: acled
    type: csv
    preset: acled
    url: %s/acled-data-id.csv
    schedule: "@daily"
%s`, db, gdelt2, readmeSources(t, 0, "/var/lib/geowatch/gdelt/latest.export.CSV.zip", gdelt2),
		csvTestdata, csvTestdata, readmeSources(t, 1, "/var/lib/geowatch/catalogue.csv", catalogue)))

	t.Run("gdelt2 stale", func(t *testing.T) {
		got := ingestWithConfig(t, cfg, gdelt2, "gdelt")
		if want := (monitor.IngestResult{Seen: 2111, Added: 2022, Rejected: 89}); got != want {
			t.Errorf("ingest = %+v, want %+v", got, want)
		}
		rows := storedRows(t, db, "gdelt")
		if _, ok := rows["881990833"]; ok {
			t.Error("881990833 (an event of 2018-10-24 reported 2019-10-24) is stored, want it rejected as stale")
		}
		if r := rows["881990885"]; r.observedAt != "2019-10-24T14:30:00.000Z" || r.precision != "region" {
			t.Errorf("881990885 = %+v, want observed 2019-10-24T14:30:00.000Z (DATEADDED), region", r)
		}
		var stale []rejectRow
		for _, r := range readRejects(t, db) {
			if r.source == "gdelt" && r.field == "SQLDATE" {
				stale = append(stale, r)
			}
		}
		if len(stale) != 51 || stale[0].record != "line 1 (id 881990832)" ||
			stale[0].reason != "stale: event of 2018-10-24 reported 365.6 days later (max_event_lag 3.0 days)" {
			t.Errorf("%d stale rejects, first %+v; want 51, line 1 (id 881990832) of 2018-10-24", len(stale), stale[0])
		}
	})
	t.Run("gdelt2 by event date", func(t *testing.T) {
		got := ingestWithConfig(t, cfg, gdelt2, "gdelt-by-event")
		if want := (monitor.IngestResult{Seen: 2111, Added: 2073, Rejected: 38}); got != want {
			t.Errorf("ingest = %+v, want %+v", got, want)
		}
		if r := storedRows(t, db, "gdelt-by-event")["881990833"]; r.observedAt != "2018-10-24T00:00:00.000Z" || r.precision != "city" {
			t.Errorf("881990833 = %+v, want observed 2018-10-24 (SQLDATE), city", r)
		}
	})
	t.Run("gdelt1 backfile", func(t *testing.T) {
		file := filepath.Join(csvTestdata, "gdelt1-backfile-2013.tsv")
		got := ingestWithConfig(t, cfg, file, "gdelt-backfile")
		if want := (monitor.IngestResult{Seen: 4, Added: 1, Rejected: 3}); got != want {
			t.Errorf("ingest = %+v, want %+v", got, want)
		}
		rows := storedRows(t, db, "gdelt-backfile")
		if r := rows["190000001"]; len(rows) != 1 || r.observedAt != "2013-02-03T00:00:00.000Z" || r.precision != "city" || r.lat != 44.3667 {
			t.Errorf("stored %+v, want only 190000001 observed 2013-02-03, city, at 44.3667", rows)
		}
		var got3 []string
		for _, r := range readRejects(t, db) {
			if r.source == "gdelt-backfile" {
				got3 = append(got3, r.record+" "+r.field+": "+r.reason)
			}
		}
		want3 := []string{
			"line 2 (id 190000002) SQLDATE: stale: event of 1982-03-15 reported 11283.0 days later (max_event_lag 3.0 days)",
			"line 3 (id 190000003) ActionGeo_Type: not located: empty precision code: the record was not located",
			"line 4 (id 190000004) ActionGeo_Type: not located: precision code \"0\" is not one of the mapped values (1, 2, 3, 4, 5)",
		}
		if !slices.Equal(got3, want3) {
			t.Errorf("rejects\n got %q\nwant %q", got3, want3)
		}
	})
	t.Run("acled data_id", func(t *testing.T) {
		got := ingestWithConfig(t, cfg, filepath.Join(csvTestdata, "acled-data-id.csv"), "acled")
		if want := (monitor.IngestResult{Seen: 3, Added: 2, Rejected: 1}); got != want {
			t.Errorf("ingest = %+v, want %+v", got, want)
		}
		rows := storedRows(t, db, "acled")
		if r, ok := rows["7654322"]; !ok || r.observedAt != "2020-05-12T00:00:00.000Z" || r.precision != "city" {
			t.Errorf("stored %+v, want SYN2001 and 7654322 (keyed by data_id), city", rows)
		}
		if _, ok := rows["SYN2001"]; !ok {
			t.Errorf("stored %+v, want SYN2001 by event_id_cnty", rows)
		}
		for _, r := range readRejects(t, db) {
			if r.source == "acled" && (r.record != "line 4" || r.field != "event_id_cnty" || !strings.Contains(r.reason, "data_id is empty too")) {
				t.Errorf("reject %+v, want line 4 on event_id_cnty naming data_id", r)
			}
		}
	})
	t.Run("date and 12-hour time in a zone", func(t *testing.T) {
		got := ingestWithConfig(t, cfg, catalogue, "jma")
		if want := (monitor.IngestResult{Seen: 3, Added: 2, Rejected: 1}); got != want {
			t.Errorf("ingest = %+v, want %+v", got, want)
		}
		rows := storedRows(t, db, "jma")
		// 04:49 and 12:05 in Tokyo (UTC+9) are 19:49 the day before and 03:05 UTC.
		if rows["jma-1"].observedAt != "2024-04-30T19:49:00.000Z" || rows["jma-2"].observedAt != "2024-05-01T03:05:00.000Z" {
			t.Errorf("stored %+v, want jma-1 at 2024-04-30T19:49:00.000Z, jma-2 at 2024-05-01T03:05:00.000Z", rows)
		}
		for _, r := range readRejects(t, db) {
			if r.source == "jma" && (r.record != "line 4 (id jma-3)" || r.field != "date" || !strings.Contains(r.reason, `"2024-05-01 25:00 PM"`)) {
				t.Errorf("reject %+v, want line 4 (id jma-3) on date, quoting the joined time", r)
			}
		}
	})
}

// readmeSources returns the sources of the n-th YAML block of the README's
// "CSV sources" section, with the path in it replaced by file.
func readmeSources(t *testing.T, n int, path, file string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "#### CSV sources")
	if i < 0 {
		t.Fatal(`README.md has no "#### CSV sources" section`)
	}
	s = s[i:]
	s = s[:strings.Index(s[1:], "\n#")+1]
	blocks := strings.Split(s, "```yaml\n")
	if len(blocks) <= n+1 {
		t.Fatalf("the CSV section has %d yaml blocks, want %d", len(blocks)-1, n+1)
	}
	block := blocks[n+1][:strings.Index(blocks[n+1], "```")]
	block, ok := strings.CutPrefix(block, "sources:\n")
	if !ok || !strings.Contains(block, path) {
		t.Fatalf("README CSV block %d is not a sources list reading %s:\n%s", n, path, block)
	}
	return strings.ReplaceAll(block, path, file)
}

// kilaueaWeek is the real USGS GeoJSON week of 2018-06-07..14.
const kilaueaWeek = sharedData + "/usgs-week-2018-06-kilauea/all_week_2018-06-07_2018-06-14.geojson"

// lastDay writes the features of the week file observed in its last day, byte
// for byte as the week serves them, as USGS's all_day feed would.
func lastDay(t *testing.T, week []byte, path string) int {
	t.Helper()
	var fc struct {
		Metadata struct{ Generated int64 } `json:"metadata"`
		Features []json.RawMessage         `json:"features"`
	}
	if err := json.Unmarshal(week, &fc); err != nil {
		t.Fatal(err)
	}
	var day []string
	for _, f := range fc.Features {
		var p struct{ Properties struct{ Time int64 } }
		if err := json.Unmarshal(f, &p); err != nil {
			t.Fatal(err)
		}
		if p.Properties.Time >= fc.Metadata.Generated-24*3600*1000 {
			day = append(day, string(f))
		}
	}
	writeFile(t, path, `{"type":"FeatureCollection","metadata":{"title":"USGS All Earthquakes, Past Day"},"features":[`+strings.Join(day, ",")+`]}`)
	return len(day)
}

// TestSharedIDNamespace reads the real USGS week and the day within it through
// two sources that declare one id_namespace: each event is stored once, and a
// count over the store counts it once. A source without the namespace stores
// the day again. An older revision of an event never replaces the stored one.
func TestSharedIDNamespace(t *testing.T) {
	week, err := os.ReadFile(kilaueaWeek)
	if err != nil {
		t.Skipf("real data absent (%v)", err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "geowatch.gpkg")
	dayFile := filepath.Join(dir, "all_day.geojson")
	nDay := lastDay(t, week, dayFile)
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
database: %s
sources:
  - name: usgs-week
    type: geojson
    url: %s
    schedule: "@every 5m"
    id_namespace: usgs
  - name: usgs-day
    type: geojson
    url: %s
    schedule: "@every 1m"
    id_namespace: usgs
  - name: usgs-day-alone
    type: geojson
    url: %s
    schedule: "@every 1m"
`, db, kilaueaWeek, dayFile, dayFile))

	if got, want := ingestWithConfig(t, cfg, kilaueaWeek, "usgs-week"), (monitor.IngestResult{Seen: 4711, Added: 4711}); got != want {
		t.Errorf("week: %+v, want %+v", got, want)
	}
	if got, want := ingestWithConfig(t, cfg, dayFile, "usgs-day"), (monitor.IngestResult{Seen: nDay, Unchanged: nDay}); got != want {
		t.Errorf("day in the week's namespace: %+v, want %+v (stored once)", got, want)
	}
	if n := countObservations(t, db); n != 4711 {
		t.Errorf("%d observations after week and day, want 4711", n)
	}
	if got, want := ingestWithConfig(t, cfg, dayFile, "usgs-day-alone"), (monitor.IngestResult{Seen: nDay, Added: nDay}); got != want {
		t.Errorf("day without a namespace: %+v, want %+v (its own ids)", got, want)
	}
	if n := countObservations(t, db); n != int64(4711+nDay) {
		t.Errorf("%d observations, want %d", n, 4711+nDay)
	}

	// us1000epfe (M5.8, updated 1528915943040 in the week): an older revision
	// through the day feed leaves it as stored; a newer one replaces it.
	i := bytes.Index(week, []byte(`"id":"us1000epfe"`))
	start := bytes.LastIndex(week[:i], []byte(`{"type":"Feature"`))
	end := start + bytes.Index(week[start:], []byte(`,"id":"us1000epfe"}`)) + len(`,"id":"us1000epfe"}`)
	feature := string(week[start:end])
	if !strings.Contains(feature, `"mag":5.8,`) || !strings.Contains(feature, `"updated":1528915943040,`) {
		t.Fatalf("us1000epfe is not as expected in the week file: %.300s", feature)
	}
	revision := func(updated, mag string) string {
		f := strings.Replace(feature, `"updated":1528915943040,`, `"updated":`+updated+`,`, 1)
		f = strings.Replace(f, `"mag":5.8,`, `"mag":`+mag+`,`, 1)
		file := filepath.Join(dir, "rev-"+updated+".geojson")
		writeFile(t, file, `{"type":"FeatureCollection","features":[`+f+`]}`)
		return file
	}
	storedMag := func() (mag float64, revised string) {
		c, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.QueryRowContext(t.Context(), `SELECT json_extract(properties, '$.mag'), revised_at || '' FROM observations
			WHERE ext_id = 'us1000epfe' AND source = 'usgs-week'`).Scan(&mag, &revised); err != nil {
			t.Fatal(err)
		}
		return mag, revised
	}
	if got, want := ingestWithConfig(t, cfg, revision("1528900000000", "5.6"), "usgs-day"), (monitor.IngestResult{Seen: 1, Unchanged: 1}); got != want {
		t.Errorf("older revision: %+v, want %+v", got, want)
	}
	if mag, rev := storedMag(); mag != 5.8 || rev != "2018-06-13T18:52:23.040Z" {
		t.Errorf("after an older revision: mag %v revised %s, want 5.8 revised 2018-06-13T18:52:23.040Z", mag, rev)
	}
	newer := revision("1528999999000", "5.9")
	if got, want := ingestWithConfig(t, cfg, newer, "usgs-day"), (monitor.IngestResult{Seen: 1, Updated: 1}); got != want {
		t.Errorf("newer revision: %+v, want %+v", got, want)
	}
	if got, want := ingestWithConfig(t, cfg, newer, "usgs-day"), (monitor.IngestResult{Seen: 1, Unchanged: 1}); got != want {
		t.Errorf("newer revision again: %+v, want %+v", got, want)
	}
	if mag, rev := storedMag(); mag != 5.9 || rev != "2018-06-14T18:13:19.000Z" {
		t.Errorf("after a newer revision: mag %v revised %s, want 5.9 revised 2018-06-14T18:13:19.000Z", mag, rev)
	}
}

// TestUSGSAtomOriginTime runs the daemon on USGS Atom entries (derived from
// the real Kilauea week, see monitor/source/rss/testdata/README.txt) with the
// README's usgs-atom source: each entry is dated by the origin time in its
// summary, not by <updated>, and carries <updated> as its revision. The same
// entries served by a second feed of another title, in the same namespace,
// are stored once and count as unchanged.
func TestUSGSAtomOriginTime(t *testing.T) {
	atom := readFile(t, "../../monitor/source/rss/testdata/usgs-week-2018-06-kilauea-excerpt.atom")
	dir := t.TempDir()
	db := filepath.Join(dir, "geowatch.gpkg")
	week := filepath.Join(dir, "all_week.atom")
	day := filepath.Join(dir, "all_day.atom")
	writeFile(t, week, atom)
	writeFile(t, day, strings.Replace(atom, "USGS All Earthquakes, Past Week", "USGS All Earthquakes, Past Day", 1))
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
database: %s
sources:
%s  - name: usgs-atom-day
    type: rss
    preset: usgs-atom
    id_namespace: usgs-atom
    url: %s
    schedule: "@every 1h"
`, db, readmeRSSSource(t, "https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/all_week.atom", week), day))
	runFor(t, cfg, func(b *syncBuffer) bool { return len(b.find(t, "scheduler started")) > 0 })

	c, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rows, err := c.QueryContext(t.Context(), `SELECT ext_id, observed_at || '', revised_at || '', kind, precision FROM observations ORDER BY ext_id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id, at, rev, kind, prec string
		if err := rows.Scan(&id, &at, &rev, &kind, &prec); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{id, at, rev, kind, prec}, " "))
	}
	rows.Close()
	want := []string{
		// The origin time (GeoJSON time 2018-06-08T01:00:28.530Z, to the
		// second), where <updated> is 5.8 days later.
		"urn:earthquake-usgs-gov:nc:73026976 2018-06-08T01:00:28.000Z 2018-06-13T20:52:46.410Z earthquake exact",
		"urn:earthquake-usgs-gov:nn:00638632 2018-06-07T16:02:42.000Z 2018-06-12T20:40:19.630Z earthquake exact",
		"urn:earthquake-usgs-gov:us:1000epfe 2018-06-12T23:08:28.000Z 2018-06-13T18:52:23.040Z earthquake exact",
		"urn:earthquake-usgs-gov:us:1000epp2 2018-06-13T06:59:01.000Z 2018-06-13T19:00:40.040Z earthquake exact",
		"urn:earthquake-usgs-gov:us:1000er8i 2018-06-14T06:27:39.000Z 2018-06-14T08:33:51.389Z earthquake exact",
	}
	if !slices.Equal(got, want) {
		t.Errorf("stored\n got %q\nwant %q", got, want)
	}
	st, err := sqlite.Open(t.Context(), db, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ss, err := st.Sources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var total monitor.IngestResult
	for _, s := range ss {
		total.Add(s.Total)
	}
	if want := (monitor.IngestResult{Seen: 10, Added: 5, Unchanged: 5}); total != want {
		t.Errorf("both feeds: %+v, want %+v (each entry stored once, unchanged the second time)", total, want)
	}
}

// readmeRSSSource returns the rss source of the README's "RSS times" section,
// reading file instead of url.
func readmeRSSSource(t *testing.T, url, file string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "#### RSS times")
	if i < 0 {
		t.Fatal(`README.md has no "#### RSS times" section`)
	}
	s = s[i:]
	start := strings.Index(s, "```yaml\nsources:\n")
	if start < 0 {
		t.Fatal("no sources yaml block in the RSS times section")
	}
	block := s[start+len("```yaml\nsources:\n"):]
	block = block[:strings.Index(block, "```")]
	if !strings.Contains(block, url) {
		t.Fatalf("README rss block does not read %s:\n%s", url, block)
	}
	return strings.ReplaceAll(block, url, file)
}

// TestUSGSCSVRevision re-reads a real USGS catalog CSV row (ci39407752, an
// automatic solution updated 2020-04-27T19:36:33.277Z) as an older and as a
// newer revision: the older one leaves it as stored, the newer replaces it.
func TestUSGSCSVRevision(t *testing.T) {
	data := readFile(t, filepath.Join(csvTestdata, "usgs-2020-04-excerpt.csv"))
	lines := strings.SplitN(data, "\n", 3)
	row := lines[1]
	const updated = ",2020-04-27T19:36:33.277Z,"
	if !strings.HasPrefix(row, "2020-04-27T19:32:29.850Z,33.857,-117.5158333,0.59,1.63,") || !strings.Contains(row, updated) {
		t.Fatalf("first row of the excerpt is not ci39407752 as expected: %s", row)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "geowatch.gpkg")
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf("database: %s\nsources:\n  - {name: usgs, type: csv, preset: usgs-csv, url: %s, schedule: \"@hourly\", id_namespace: usgs}\n", db, filepath.Join(dir, "x.csv")))
	revision := func(name, when, mag string) string {
		r := strings.Replace(row, updated, ","+when+",", 1)
		r = strings.Replace(r, ",0.59,1.63,", ",0.59,"+mag+",", 1)
		file := filepath.Join(dir, name+".csv")
		writeFile(t, file, lines[0]+"\n"+r+"\n")
		return file
	}
	mag := func() string {
		c, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var m, rev string
		if err := c.QueryRowContext(t.Context(), `SELECT json_extract(properties, '$.mag'), revised_at || '' FROM observations WHERE ext_id = 'ci39407752'`).Scan(&m, &rev); err != nil {
			t.Fatal(err)
		}
		return m + " " + rev
	}
	steps := []struct {
		file string
		want monitor.IngestResult
		mag  string
	}{
		{revision("as-served", "2020-04-27T19:36:33.277Z", "1.63"), monitor.IngestResult{Seen: 1, Added: 1}, "1.63 2020-04-27T19:36:33.277Z"},
		{revision("older", "2020-04-27T19:34:00.000Z", "1.50"), monitor.IngestResult{Seen: 1, Unchanged: 1}, "1.63 2020-04-27T19:36:33.277Z"},
		{revision("reviewed", "2020-04-28T02:10:00.000Z", "1.71"), monitor.IngestResult{Seen: 1, Updated: 1}, "1.71 2020-04-28T02:10:00.000Z"},
		{revision("reviewed", "2020-04-28T02:10:00.000Z", "1.71"), monitor.IngestResult{Seen: 1, Unchanged: 1}, "1.71 2020-04-28T02:10:00.000Z"},
		{revision("as-served", "2020-04-27T19:36:33.277Z", "1.63"), monitor.IngestResult{Seen: 1, Unchanged: 1}, "1.71 2020-04-28T02:10:00.000Z"},
	}
	for i, s := range steps {
		if got := ingestWithConfig(t, cfg, s.file, "usgs"); got != s.want {
			t.Errorf("step %d (%s): %+v, want %+v", i, filepath.Base(s.file), got, s.want)
		}
		if got := mag(); got != s.mag {
			t.Errorf("step %d (%s): stored mag, revised %s, want %s", i, filepath.Base(s.file), got, s.mag)
		}
	}
}
