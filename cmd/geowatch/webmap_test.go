package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/geowatch/geowatch/configs"
)

// notifyBuffer is a syncBuffer that signals every write, so that a test waits
// for a log line without polling on a timer.
type notifyBuffer struct {
	syncBuffer
	wrote chan struct{}
}

func (b *notifyBuffer) Write(p []byte) (int, error) {
	n, err := b.syncBuffer.Write(p)
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return n, err
}

// mapDaemon is a daemon started the README's way for the map's tests.
type mapDaemon struct {
	base, cfg, db string
	log           *notifyBuffer
}

// defaultScenarioConfig is the embedded default config as a user copies it,
// with its files in dir, the replay without its lead (every event arrives at the
// first pull, instead of over three minutes), a push source, and the README's
// http block for the map; extraHTTP is added to the http block.
func defaultScenarioConfig(t *testing.T, dir, extraHTTP string) string {
	t.Helper()
	cfg := string(configs.DefaultYAML)
	for _, r := range [][2]string{
		{"database: ./geowatch.gpkg", "database: " + filepath.Join(dir, "geowatch.gpkg")},
		{"path: ./alerts.jsonl", "path: " + filepath.Join(dir, "alerts.jsonl")},
		{"lead: 3m", "# lead: 3m"}, // no lead: all at the first pull
		{"sources:\n", "sources:\n  - name: field\n    type: push\n    kind: field_report\n"},
	} {
		if !strings.Contains(cfg, r[0]) {
			t.Fatalf("the default config no longer has %q", r[0])
		}
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	block := readmeBlock(t, "\n### Live map and read API\n", "yaml")
	if !strings.Contains(block, "listen: 127.0.0.1:8080") {
		t.Fatalf("the README's map config no longer listens on 127.0.0.1:8080:\n%s", block)
	}
	return cfg + "\n" + strings.Replace(block, "127.0.0.1:8080", "127.0.0.1:0", 1) + extraHTTP
}

// startMapDaemon runs `geowatch run --config` on cfg until the test ends and
// returns once it listens and both default watches have fired.
func startMapDaemon(t *testing.T, dir, cfg string) *mapDaemon {
	t.Helper()
	d := &mapDaemon{cfg: filepath.Join(dir, "geowatch.yaml"), db: filepath.Join(dir, "geowatch.gpkg"),
		log: &notifyBuffer{wrote: make(chan struct{}, 1)}}
	writeFile(t, d.cfg, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "--config", d.cfg, "--log-format", "json"}, d.log, d.log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for {
		fired := map[string]bool{}
		for _, l := range d.log.find(t, "alert firing") {
			fired[fmt.Sprint(l["watch"])] = true
		}
		if ls := d.log.find(t, "http listening"); len(ls) > 0 && fired["vladivostok"] && fired["khasan-tumangang"] {
			d.base = "http://" + fmt.Sprint(ls[0]["address"])
			return d
		}
		select {
		case <-d.log.wrote:
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("daemon exited early: %v\nlog:\n%s", err, d.log.buf.String())
		case <-deadline.C:
			t.Fatalf("timed out waiting for the daemon to listen and fire; log:\n%s", d.log.buf.String())
		}
	}
}

// waitLog waits until the daemon has logged msg n times.
func (d *mapDaemon) waitLog(t *testing.T, msg string, n int) {
	t.Helper()
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for len(d.log.find(t, msg)) < n {
		select {
		case <-d.log.wrote:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %q; log:\n%s", msg, d.log.buf.String())
		}
	}
}

// get does a GET with header pairs and returns the status, headers and body.
func httpGet(t *testing.T, u string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestMapHTTP reads the map's page and endpoints from a daemon on the default
// scenario: the page's security headers, no inline script, the assets from the
// binary, the watches and their firing alerts as GeoJSON, an alert's
// contributing observations, the timeline, and cross-origin requests refused.
func TestMapHTTP(t *testing.T) {
	dir := t.TempDir()
	d := startMapDaemon(t, dir, defaultScenarioConfig(t, dir, ""))

	code, h, page := httpGet(t, d.base+"/")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", code, h.Get("Content-Type"))
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("Content-Security-Policy %q allows inline code or another origin", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("GET / headers: %v", h)
	}
	scripts := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(scripts) == 0 {
		t.Error("the page has no script")
	}
	for _, s := range scripts {
		if !strings.Contains(s[1], "src=") || strings.TrimSpace(s[2]) != "" {
			t.Errorf("inline script in the page: %s", s[0])
		}
	}
	if m := regexp.MustCompile(`(?i)\son[a-z]+\s*=|style\s*=|<style|https?://`).FindString(page); m != "" {
		t.Errorf("the page has %q (an inline handler, inline style or another origin)", m)
	}
	for _, p := range regexp.MustCompile(`(?:src|href)="(static/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		if code, _, body := httpGet(t, d.base+"/"+p[1]); code != 200 || len(body) < 100 {
			t.Errorf("GET /%s = %d, %d bytes", p[1], code, len(body))
		}
	}
	if code, _, _ := httpGet(t, d.base+"/static/"); code != 404 {
		t.Errorf("GET /static/ = %d, want 404 (no listing)", code)
	}
	code, _, basemap := httpGet(t, d.base+"/static/basemap.geojson")
	if code != 200 || !strings.Contains(basemap, `"name":"Dem. Rep. Korea"`) || !strings.Contains(basemap, `"name":"Russia"`) {
		t.Errorf("GET /static/basemap.geojson = %d, lacks Russia or North Korea", code)
	}

	var watches struct {
		Features []struct {
			ID         string `json:"id"`
			Geometry   struct{ Type string }
			Properties watchPropsJSON
		}
	}
	getJSON(t, d.base+"/v1/watches", &watches)
	names := map[string]watchPropsJSON{}
	for _, f := range watches.Features {
		names[f.ID] = f.Properties
		want := "Polygon"
		if f.Properties.Shape == "corridor" {
			want = "MultiLineString"
		}
		if f.Geometry.Type != want {
			t.Errorf("watch %s (%s) geometry %s, want %s", f.ID, f.Properties.Shape, f.Geometry.Type, want)
		}
	}
	if w := names["khasan-vladivostok-railway"]; w.Shape != "corridor" || w.WidthM != 10000 || w.LengthM < 200e3 || w.LengthM > 300e3 {
		t.Errorf("watch khasan-vladivostok-railway = %+v, want the 10 km-wide corridor of about 250 km", w)
	}
	if w := names["vladivostok"]; w.Shape != "circle" || w.RadiusM != 50000 || len(w.Rules) != 2 {
		t.Errorf("watch vladivostok = %+v", w)
	}
	if w := names["khasan-tumangang"]; w.Shape != "circle" || w.RadiusM != 25000 {
		t.Errorf("watch khasan-tumangang = %+v", w)
	}

	var alerts struct {
		Features []struct {
			ID         int64 `json:"id"`
			Geometry   struct{ Type string }
			Properties alertJSON
		}
	}
	getJSON(t, d.base+"/v1/alerts", &alerts)
	firing := map[string]alertJSON{}
	for _, f := range alerts.Features {
		if f.Properties.State == "firing" {
			firing[f.Properties.Watch+"/"+f.Properties.Rule] = f.Properties
		}
	}
	for _, k := range []string{"vladivostok/police-presence", "vladivostok/gathering", "khasan-tumangang/rail-activity", "khasan-tumangang/crossing-cluster"} {
		if _, ok := firing[k]; !ok {
			t.Errorf("/v1/alerts has no firing %s: %v", k, firing)
		}
	}
	a := firing["khasan-tumangang/rail-activity"]
	var obs struct {
		Features []struct{ Properties featurePropsJSON }
	}
	getJSON(t, fmt.Sprintf("%s/v1/alerts/%d/observations", d.base, a.ID), &obs)
	if len(obs.Features) != a.Count || a.Count < 3 {
		t.Errorf("alert %d's observations: %d, want its count %d (≥ 3)", a.ID, len(obs.Features), a.Count)
	}
	for _, o := range obs.Features {
		if o.Properties.Kind != "rail_activity" || o.Properties.Title == "" || o.Properties.Source != "scenario" {
			t.Errorf("alert %d's observation %+v: want a titled rail_activity from the scenario", a.ID, o.Properties)
		}
	}
	if code, _, body := httpGet(t, d.base+"/v1/alerts/999999/observations"); code != 404 {
		t.Errorf("observations of no alert = %d %s, want 404", code, body)
	}

	var timeline []timelineJSON
	getJSON(t, d.base+"/v1/transitions", &timeline)
	seen := map[string]bool{}
	for _, tr := range timeline {
		if tr.To == "firing" {
			seen[tr.Watch+"/"+tr.Rule] = true
		}
	}
	if len(seen) < 4 {
		t.Errorf("timeline: firing transitions of %v, want the four firing alerts", seen)
	}

	var ch map[string]any
	getJSON(t, d.base+"/v1/changes", &ch)
	if ch["observation"].(float64) < 100 || ch["transition"].(float64) < 4 {
		t.Errorf("/v1/changes = %v", ch)
	}

	// Same origin only: what a browser marks as another site's is refused.
	if code, _, _ := httpGet(t, d.base+"/v1/alerts", "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("cross-site GET = %d, want 403", code)
	}
	if code, _, _ := httpGet(t, d.base+"/v1/alerts", "Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "cors"); code != 403 {
		t.Errorf("same-site (another port) fetch = %d, want 403", code)
	}
	if code, _, _ := httpGet(t, d.base+"/", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"); code != 200 {
		t.Errorf("a link from another site to the map = %d, want 200", code)
	}
	if code, _, _ := httpGet(t, d.base+"/v1/alerts", "Origin", "http://evil.example"); code != 403 {
		t.Errorf("GET with a foreign Origin = %d, want 403", code)
	}
	if code, h, _ := httpGet(t, d.base+"/v1/alerts", "Sec-Fetch-Site", "same-origin"); code != 200 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("same-origin GET = %d, CORS %q", code, h.Get("Access-Control-Allow-Origin"))
	}
}

// TestMapToken: with a token_file, the page and every read need the token, as
// a bearer token (scripts) or a Basic password (a browser's prompt).
func TestMapToken(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "push.token")
	writeFile(t, tokenFile, "s3cret-token\n")
	d := startMapDaemon(t, dir, defaultScenarioConfig(t, dir, "  token_file: "+tokenFile+"\n"))
	for _, path := range []string{"/", "/static/app.js", "/v1/alerts", "/v1/watches", "/v1/observations?near=Vladivostok&radius=5km"} {
		code, h, _ := httpGet(t, d.base+path)
		if code != 401 || !strings.Contains(strings.Join(h.Values("WWW-Authenticate"), ","), "Basic") {
			t.Errorf("GET %s without the token = %d %v, want 401 with a Basic challenge", path, code, h.Values("WWW-Authenticate"))
		}
		if code, _, _ := httpGet(t, d.base+path, "Authorization", "Bearer wrong"); code != 401 {
			t.Errorf("GET %s with a wrong token = %d, want 401", path, code)
		}
		if code, _, _ := httpGet(t, d.base+path, "Authorization", "Bearer s3cret-token"); code != 200 {
			t.Errorf("GET %s with the bearer token = %d, want 200", path, code)
		}
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("anyone:s3cret-token"))
		if code, _, _ := httpGet(t, d.base+path, "Authorization", basic); code != 200 {
			t.Errorf("GET %s with the token as Basic password = %d, want 200", path, code)
		}
	}
	if code, _, _ := httpGet(t, d.base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200 without a token", code)
	}

	// A reload reads the token again and shows the new config's watches.
	d.waitLog(t, "scheduler started", 1) // from then on SIGHUP reaches the daemon
	writeFile(t, tokenFile, "new-token\n")
	writeFile(t, d.cfg, strings.Replace(readFile(t, d.cfg), "\nwatches:\n", `
watches:
  - name: artyom
    lat: 43.35
    lon: 132.19
    radius: 10km
    schedule: "@every 1h"
    rules: [{name: reports, type: count, min: 3, window: 6h}]
`, 1))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "config reloaded", 1)
	if code, _, _ := httpGet(t, d.base+"/v1/watches", "Authorization", "Bearer s3cret-token"); code != 401 {
		t.Errorf("the old token after a reload = %d, want 401", code)
	}
	code, _, body := httpGet(t, d.base+"/v1/watches", "Authorization", "Bearer new-token")
	if code != 200 || !strings.Contains(body, `"id":"artyom"`) {
		t.Errorf("/v1/watches after the reload = %d, lacks artyom:\n%.300s", code, body)
	}
}

// TestHTTPQuery: GET /v1/observations answers what geowatch query prints for
// the same selection and format, and refuses bad parameters with 400 naming
// the parameter.
func TestHTTPQuery(t *testing.T) {
	dir := t.TempDir()
	d := startMapDaemon(t, dir, defaultScenarioConfig(t, dir, ""))
	since := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	polygon := `{"type":"Polygon","coordinates":[[[131.8,43.0],[132.0,43.0],[132.0,43.2],[131.8,43.2],[131.8,43.0]]]}`
	polyFile := filepath.Join(dir, "box.geojson")
	writeFile(t, polyFile, polygon)
	cases := []struct {
		name  string
		query url.Values
		args  []string
		min   int // rows at least, so that a case compares something
	}{
		{"near place", url.Values{"near": {"Vladivostok"}, "radius": {"50km"}},
			[]string{"--near", "Vladivostok", "--radius", "50km", "--format", "geojson"}, 40},
		{"near lat,lon kind csv", url.Values{"near": {"43.1155,131.8855"}, "radius": {"12km"}, "kind": {"police_presence,security_cordon"}, "format": {"csv"}},
			[]string{"--near", "43.1155,131.8855", "--radius", "12km", "--kind", "police_presence,security_cordon", "--format", "csv"}, 10},
		{"since until ndjson", url.Values{"near": {"Vladivostok"}, "radius": {"50km"}, "since": {since}, "until": {"now"}, "format": {"ndjson"}},
			[]string{"--near", "Vladivostok", "--radius", "50km", "--since", since, "--until", "now", "--format", "ndjson"}, 40},
		{"limit source", url.Values{"near": {"Khasan–Tumangang border crossing"}, "radius": {"25km"}, "source": {"scenario"}, "kind": {"rail_activity"}, "limit": {"3"}},
			[]string{"--near", "Khasan–Tumangang border crossing", "--radius", "25km", "--source", "scenario", "--kind", "rail_activity", "--limit", "3", "--format", "geojson"}, 3},
		{"within watch", url.Values{"within": {"khasan-tumangang"}, "format": {"ndjson"}},
			[]string{"--near", "Khasan–Tumangang border crossing", "--radius", "25km", "--format", "ndjson"}, 15},
		{"within geojson", url.Values{"within": {polygon}, "format": {"csv"}},
			[]string{"--within", polyFile, "--format", "csv"}, 20},
	}
	for _, tc := range cases {
		code, h, body := httpGet(t, d.base+"/v1/observations?"+tc.query.Encode())
		if code != 200 {
			t.Errorf("%s: GET = %d %s", tc.name, code, body)
			continue
		}
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), append([]string{"query", "--config", d.cfg}, tc.args...), &stdout, &stderr); err != nil {
			t.Fatalf("%s: geowatch query: %v\n%s", tc.name, err, stderr.String())
		}
		if body != stdout.String() {
			t.Errorf("%s: GET /v1/observations?%s differs from geowatch query %v:\nHTTP:\n%.600s\nCLI:\n%.600s", tc.name, tc.query.Encode(), tc.args, body, stdout.String())
		}
		rows := strings.Count(body, "\n")
		switch tc.query.Get("format") {
		case "csv":
			rows-- // the header
		case "", "geojson":
			rows -= 2 // the collection's head and tail lines
		}
		if rows < tc.min {
			t.Errorf("%s: %d rows, want at least %d", tc.name, rows, tc.min)
		}
		if want := map[string]string{"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}[tc.query.Get("format")]; want != "" && h.Get("Content-Type") != want {
			t.Errorf("%s: Content-Type %q, want %q", tc.name, h.Get("Content-Type"), want)
		}
	}

	// The README's examples, against this daemon.
	block := readmeBlock(t, "\n### Live map and read API\n", "sh")
	urls := regexp.MustCompile(`curl '(http://127\.0\.0\.1:8080/[^']+)'`).FindAllStringSubmatch(block, -1)
	if len(urls) != 3 {
		t.Fatalf("the README's map examples: %d curl commands, want 3:\n%s", len(urls), block)
	}
	for _, u := range urls {
		code, _, body := httpGet(t, strings.Replace(u[1], "http://127.0.0.1:8080", d.base, 1))
		if code != 200 || strings.Count(body, "\n") < 3 {
			t.Errorf("README example %s = %d:\n%.300s", u[1], code, body)
		}
	}

	bad := []struct {
		query, prefix string
	}{
		{"near=Vladivostok", "near needs radius"},
		{"radius=5km", "radius needs near"},
		{"near=Vladivostok&radius=5%20parsecs", "radius: "},
		{"near=Vladivostok&radius=-5km", "radius"},
		{"near=Atlantis&radius=5km", `near "Atlantis": no such place`},
		{"near=95,10&radius=5km", `near "95,10": `},
		{"near=Vladivostok&radius=5km&since=yesterday", "since: "},
		{"near=Vladivostok&radius=5km&until=soon", "until: "},
		{"near=Vladivostok&radius=5km&format=xml", `format "xml"`},
		{"near=Vladivostok&radius=5km&format=table", `format "table"`},
		{"near=Vladivostok&radius=5km&limit=-1", "limit -1"},
		{"near=Vladivostok&radius=5km&limit=20000", "limit 20000"},
		{"near=Vladivostok&radius=5km&limit=many", `limit "many"`},
		{"within=nowhere", `within: "nowhere": no such watch`},
		{"within=%7B%22type%22%3A%22Point%22%7D", "within "},
		{"near=Vladivostok&radius=5km&within=vladivostok", "near and within exclude each other"},
		{"near=Vladivostok&radius=5km&filter=name%3Dx", "filter selects a within feature"},
		{"near=Vladivostok&radius=5km&radius=6km", "radius: given more than once"},
		{"near=Vladivostok&radius=5km&bogus=1", "bogus: unknown parameter"},
		{"", "near: give"},
	}
	for _, tc := range bad {
		code, _, body := httpGet(t, d.base+"/v1/observations?"+tc.query)
		if code != 400 || !strings.HasPrefix(body, tc.prefix) {
			t.Errorf("GET /v1/observations?%s = %d %q, want 400 starting %q", tc.query, code, body, tc.prefix)
		}
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	code, _, body := httpGet(t, u)
	if code != 200 {
		t.Fatalf("GET %s = %d %s", u, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%.500s", u, err, body)
	}
}
