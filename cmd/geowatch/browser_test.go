package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's Chromium; outside CI a missing browser skips the
// test, under CI it fails it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found under CI (apt-get install chromium)")
	}
	t.Skip("chromium not found; skipping the browser test (apt-get install chromium)")
	return ""
}

// TestMapInBrowser opens the live map of a daemon on the default scenario in
// headless Chromium: the page loads without a console error, both watches and
// their firing alerts are on the map and in the list, an alert made by records
// pushed during the test appears without a reload, and a click on it lists its
// observations. The screenshot's path is printed (GEOWATCH_MAP_SCREENSHOT
// copies it, for the README's cmd/geowatch/web/map.png).
func TestMapInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	dir := t.TempDir()
	d := startMapDaemon(t, dir, defaultScenarioConfig(t, dir, ""))

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "chromium")),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// Every console error or warning, uncaught exception and browser log
	// error (a CSP violation, a failed request) is a failure.
	var (
		mu       sync.Mutex
		problems []string
	)
	messages := chromedp.Console(bctx) // starts the browser and subscribes
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s (%s %s:%d)", m, m.Source, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(bctx, chromedp.Navigate(d.base+"/")); err != nil {
		t.Fatalf("open the map: %v", err)
	}
	// Generous: the machine is shared; each wait ends as soon as the page shows
	// what it waits for.
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	fail := func(what string, err error) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s: %v\nbrowser problems: %v\ndaemon log:\n%.4000s", what, err, problems, d.log.buf.String())
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			fail(what, err)
		}
	}
	eval := func(expr string) string { // a JavaScript expression's value as text
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			fail(expr, err)
		}
		return v
	}

	// The three watches (two circles and the railway corridor), drawn and listed, and
	// their firing alerts, drawn and listed.
	var sels []string
	for _, w := range []string{"vladivostok", "khasan-tumangang", "khasan-vladivostok-railway"} {
		sels = append(sels,
			fmt.Sprintf(`#watches li[data-watch=%q]`, w),
			fmt.Sprintf(`path.watch-shape[data-watch=%q]`, w),
			fmt.Sprintf(`#alerts li[data-watch=%q][data-state="firing"]`, w),
			fmt.Sprintf(`path.alert-shape[data-watch=%q][data-state="firing"]`, w))
	}
	for _, s := range sels {
		do("wait for "+s, chromedp.WaitReady(chromedp.CSS(s)))
	}
	// The scenario's observations, clustered at the zoom that fits both watches.
	do("wait for observation clusters", chromedp.WaitReady(chromedp.CSS(`.leaflet-marker-icon.cluster`)))
	labels := eval(`[...document.querySelectorAll('.watch-label')].map(e => e.textContent).join(',')`)
	clusters := eval(`String(document.querySelectorAll('.leaflet-marker-icon.cluster, path.obs').length)`)
	status := eval(`document.getElementById('status').textContent`)
	if !strings.Contains(labels, "vladivostok") || !strings.Contains(labels, "khasan-tumangang") {
		t.Errorf("watch labels on the map: %q", labels)
	}
	if !strings.HasPrefix(status, "live") {
		t.Errorf("status %q, want live", status)
	}
	t.Logf("map shows %s observation markers and clusters", clusters)

	// Records pushed now form a new cluster in the Vladivostok watch, at Artyom
	// 35 km from the centre where the scenario has no cluster: the page shows
	// its new alert without a reload.
	eval(`window.notReloaded = true, 'marked'`)
	before := strings.Fields(eval(`[...document.querySelectorAll('#alerts li[data-alert-id]')].map(e => e.dataset.alertId).join(' ')`))
	now := time.Now().UTC()
	var fs []string
	for i := range 5 {
		fs = append(fs, fmt.Sprintf(`{"type":"Feature","id":"artyom-%d","geometry":{"type":"Point","coordinates":[%v,%v]},"properties":{"time":%q,"kind":"police_presence","title":"Crowd gathering at Artyom station (%d)","url":"https://example.org/artyom/%d"}}`,
			i, 132.19+0.002*float64(i), 43.35+0.001*float64(i), now.Add(-time.Duration(i+1)*time.Minute).Format(time.RFC3339), i, i))
	}
	resp, err := http.Post(d.base+"/v1/observations", "application/geo+json", strings.NewReader(`{"type":"FeatureCollection","features":[`+strings.Join(fs, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push = %d", resp.StatusCode)
	}
	newAlert := `#alerts li[data-watch="vladivostok"][data-rule="gathering"][data-state="firing"]`
	for _, id := range before {
		newAlert += fmt.Sprintf(`:not([data-alert-id=%q])`, id)
	}
	do("wait for the new alert", chromedp.WaitReady(chromedp.CSS(newAlert)))
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(newAlert), "data-alert-id"))
	if err != nil {
		fail("read the new alert's id", err)
	}
	id := attr.Value
	if eval(`String(window.notReloaded === true)`) != "true" {
		t.Error("the page reloaded to show the new alert")
	}
	do("show the new alert on the map and its observations",
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`path.alert-shape[data-alert-id=%q]`, id))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#alerts li[data-alert-id=%q]`, id))),
		chromedp.WaitReady(chromedp.CSS(`#detail-obs li[data-fid]`)),
	)
	titles := eval(`[...document.querySelectorAll('#detail-obs li[data-fid]')].map(e => e.textContent).join('\n')`)
	for i := range 5 {
		if want := fmt.Sprintf("Crowd gathering at Artyom station (%d)", i); !strings.Contains(titles, want) {
			t.Errorf("the new alert's observations lack %q:\n%s", want, titles)
		}
	}
	if !strings.Contains(titles, "field") {
		t.Errorf("the observations do not name their source (field):\n%s", titles)
	}

	do("the new alert in the timeline", chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#timeline li[data-alert-id=%q]`, id))))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		fail("screenshot", err)
	}
	// Zoomed in past the clustering threshold, every observation is its own dot.
	zoom, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Number(document.getElementById('map').dataset.zoom)`))
	if err != nil || !(zoom >= 3 && zoom < 11) {
		fail(fmt.Sprintf("the fitted zoom (%v)", zoom), err)
	}
	for ; zoom < 11; zoom++ { // one click at a time: Leaflet drops a zoom asked for during another's animation
		do("zoom in", chromedp.Click(chromedp.CSS(`.leaflet-control-zoom-in`)),
			chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#map[data-zoom="%v"]`, zoom+1))))
	}
	do("zoomed in: no clusters", chromedp.WaitNotPresent(chromedp.CSS(`.leaflet-marker-icon.cluster`)),
		chromedp.WaitReady(chromedp.CSS(`path.obs`)))
	// An Alertmanager generatorURL (base/#alert=ID) opens the map on that alert:
	// selected in the list, its observations listed.
	rail := `#alerts li[data-watch="khasan-vladivostok-railway"][data-state="firing"]`
	railAttr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(rail), "data-alert-id"))
	if err != nil {
		fail("read the railway alert's id", err)
	}
	do("open the map at #alert="+railAttr.Value, chromedp.Navigate(d.base+"/#alert="+railAttr.Value),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#alerts li.selected[data-alert-id=%q]`, railAttr.Value))),
		chromedp.WaitReady(chromedp.CSS(`#detail-obs li[data-fid]`)))
	if title := eval(`document.getElementById('detail-title').textContent`); !strings.HasPrefix(title, "khasan-vladivostok-railway/") {
		t.Errorf("#alert=%s opened %q, want the railway alert", railAttr.Value, title)
	}
	// The progression's steps and speed are in its list entry.
	if prog := eval(`document.querySelector('` + rail + ` .progression')?.textContent ?? ''`); !strings.HasPrefix(prog, "7 steps along the route at ") || !strings.Contains(prog, "km/h, last Vladivostok") {
		t.Errorf("the railway alert's progression reads %q, want its 7 steps, speed and last station", prog)
	}

	shot := filepath.Join(t.TempDir(), "map.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("map screenshot: %s\n", shot)
	t.Logf("map screenshot: %s", shot)
	if p := os.Getenv("GEOWATCH_MAP_SCREENSHOT"); p != "" {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	cancelBrowser()
	<-consoleDone
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
}
