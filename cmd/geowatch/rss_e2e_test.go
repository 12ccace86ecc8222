package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
)

// scenarioArticle is the shared scenario's news article (../shared/scenario).
const scenarioArticle = "../../../shared/scenario/article.txt"

// TestDaemonRSSEndToEnd serves an RSS item whose description is the scenario
// article on 127.0.0.1, runs the daemon with it as an rss source and a watch on
// Vladivostok, and expects the geotagged observation there and the watch's alert.
func TestDaemonRSSEndToEnd(t *testing.T) {
	article, err := os.ReadFile(scenarioArticle)
	if err != nil {
		t.Skipf("scenario article absent (%v): the shared scenario ../shared/scenario is not checked out here", err)
	}
	now := time.Now()
	var desc bytes.Buffer
	if err := xml.EscapeText(&desc, article); err != nil {
		t.Fatal(err)
	}
	feed := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>Far East wire</title><link>http://127.0.0.1/</link><description>test feed</description>
<item>
  <title>Rumours of a visit by Kim Jong Un</title>
  <link>http://127.0.0.1/news/kim-visit</link>
  <guid>kim-visit-1</guid>
  <pubDate>%s</pubDate>
  <description>%s</description>
</item>
</channel></rss>`, now.Add(-time.Hour).Format(time.RFC1123Z), desc.String())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write([]byte(feed))
	}))
	defer srv.Close()

	dir := t.TempDir()
	db := filepath.Join(dir, "geowatch.gpkg")
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
database: %s
sources:
  - name: wire
    type: rss
    url: %s/feed.xml
    schedule: "@every 1h"
watches:
  - name: vladivostok
    place: Vladivostok
    radius: 50km
    schedule: "@every 1h"
    rules:
      - name: news
        type: count
        min: 1
        window: 24h
        kinds: [news]
`, db, srv.URL))

	out := runFor(t, cfg, func(b *syncBuffer) bool { return len(b.find(t, "alert firing")) > 0 })

	firing := out.find(t, "alert firing")
	if len(firing) != 1 || firing[0]["watch"] != "vladivostok" || firing[0]["rule"] != "news" {
		t.Fatalf("alert firing lines = %v, want one on vladivostok, rule news; log:\n%s", firing, out.buf.String())
	}
	if c, _ := firing[0]["count"].(float64); c < 1 {
		t.Errorf("alert firing count = %v, want at least 1", firing[0]["count"])
	}

	st, err := sqlite.Open(t.Context(), db, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	vladivostok := orb.Point{131.8855, 43.1155}
	obs, err := st.Observations(t.Context(), monitor.Query{
		Area:  geo.Circle{Center: vladivostok, RadiusMeters: 50_000},
		Since: now.Add(-24 * time.Hour), Until: now.Add(time.Minute), Detail: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var near []monitor.Observation
	for _, o := range obs {
		if o.Source == "wire" && o.Kind == "news" {
			near = append(near, o)
		}
	}
	if len(near) == 0 {
		t.Fatalf("no news observation from wire within 50 km of Vladivostok; got %+v", obs)
	}
	for _, o := range near {
		if !strings.HasPrefix(o.ID, "kim-visit-1#") || !strings.Contains(strings.ToLower(o.Place), "vladivostok") {
			t.Errorf("observation %q at %q, want id kim-visit-1#<place> at Vladivostok", o.ID, o.Place)
		}
		if d := now.Add(-time.Hour).Sub(o.Time); d < -time.Second || d > time.Second {
			t.Errorf("observation %s time %v, want the item's pubDate %v", o.ID, o.Time, now.Add(-time.Hour))
		}
	}
	alerts, err := st.Alerts(t.Context(), store.AlertFilter{})
	if err != nil || len(alerts) != 1 || alerts[0].Watch != "vladivostok" || alerts[0].State != monitor.StateFiring {
		t.Errorf("alerts = %+v (%v), want one firing on vladivostok", alerts, err)
	}
}
