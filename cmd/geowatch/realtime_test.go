package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/configs"
)

// realtimeConfig is a push source and watches scheduled hourly, each a 5 km
// circle with a count rule of min, evaluated within 1 s of new data.
func realtimeConfig(t *testing.T, addr string, places [][2]float64, min int, realtime string) string {
	t.Helper()
	var ws strings.Builder
	for i, p := range places {
		fmt.Fprintf(&ws, "  - {name: w%d, lat: %v, lon: %v, radius: 5km, schedule: \"@every 1h\", realtime: %s, rules: [{name: reports, type: count, min: %d, window: 1h}]}\n",
			i, p[0], p[1], realtime, min)
	}
	cfgPath := filepath.Join(t.TempDir(), "geowatch.yaml")
	writeFile(t, cfgPath, `database: `+filepath.Join(t.TempDir(), "geowatch.gpkg")+`
http:
  listen: `+addr+`
  rate: 0
sources:
  - name: field
    type: push
    kind: field_report
watches:
`+ws.String())
	return cfgPath
}

func realtimeBody(prefix string, n int, lat, lon float64) string {
	now := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	fs := make([]string, n)
	for i := range fs {
		fs[i] = fmt.Sprintf(`{"type":"Feature","id":"%s-%d","geometry":{"type":"Point","coordinates":[%v,%v]},"properties":{"time":%q}}`,
			prefix, i, lon, lat, now)
	}
	return `{"type":"FeatureCollection","features":[` + strings.Join(fs, ",") + `]}`
}

// evaluations scrapes /metrics for how many times each watch's rule was evaluated.
func evaluations(t *testing.T, base string) map[string]int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]int{}
	re := regexp.MustCompile(`(?m)^geowatch_evaluation_duration_seconds_count\{rule="reports",watch="(\w+)"\} (\d+)$`)
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	return out
}

// TestRealtimePush: the README's way. A watch scheduled hourly fires on a push
// into its area, without waiting for its schedule: the daemon evaluates it
// within its realtime of the POST. Only that watch is evaluated again, once;
// the other, and a push outside every area, trigger nothing. (The exact
// timing, bursts and reloads are TestRealtimeEvaluation's, in virtual time.)
func TestRealtimePush(t *testing.T) {
	addr := freeAddr(t)
	cfg := realtimeConfig(t, addr, [][2]float64{{43.1, 131.9}, {42.4, 130.6}}, 2, "1s")
	out := &syncBuffer{}
	r := runInProcess(t, cfg, out)
	base := "http://" + addr
	r.waitFor(t, "readiness", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	before := evaluations(t, base)
	if before["w0"] != 1 || before["w1"] != 1 {
		t.Fatalf("evaluations after the first pass: %v, want one each", before)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if a := postPush(t, client, base, realtimeBody("away", 3, 10, 100)); a.code != 200 {
		t.Fatalf("POST outside: %d %s", a.code, a.body)
	}
	if a := postPush(t, client, base, realtimeBody("port", 2, 43.11, 131.88)); a.code != 200 {
		t.Fatalf("POST inside: %d %s", a.code, a.body)
	}
	r.waitFor(t, "alert firing", func() bool { return len(out.find(t, "alert firing")) > 0 })
	firing := out.find(t, "alert firing")
	if len(firing) != 1 || firing[0]["watch"] != "w0" {
		t.Fatalf("alert firing lines: %v, want one of w0", firing)
	}
	after := evaluations(t, base)
	if after["w0"] != 2 || after["w1"] != 1 {
		t.Errorf("evaluations after the pushes: %v, want w0 twice (first pass, push), w1 once", after)
	}
	r.stop(t)
}

// TestRealtimeLatency measures push → "alert firing" log line over 50 pushes,
// each into its own watch, on loopback, with the daemon in-process and the
// default realtime, or the duration GEOWATCH_RT_LATENCY gives. It asserts no timing
// (the machine is shared) and runs only with GEOWATCH_RT_LATENCY set:
//
//	GEOWATCH_RT_LATENCY=1 go test -run TestRealtimeLatency -v ./cmd/geowatch/
//	GEOWATCH_RT_LATENCY=1s go test -run TestRealtimeLatency -v ./cmd/geowatch/
func TestRealtimeLatency(t *testing.T) {
	if os.Getenv("GEOWATCH_RT_LATENCY") == "" {
		t.Skip("set GEOWATCH_RT_LATENCY=1 to measure push → alert latency")
	}
	const n = 50
	realtime := os.Getenv("GEOWATCH_RT_LATENCY")
	if _, err := time.ParseDuration(realtime); err != nil {
		realtime = configs.DefaultRealtime.String()
	}
	places := make([][2]float64, n)
	for i := range places {
		places[i] = [2]float64{40 + float64(i)*0.2, 130}
	}
	addr := freeAddr(t)
	out := &syncBuffer{}
	r := runInProcess(t, realtimeConfig(t, addr, places, 1, realtime), out)
	base := "http://" + addr
	r.waitFor(t, "readiness", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	client := &http.Client{Timeout: 30 * time.Second}
	lat := make([]time.Duration, 0, n)
	for i, p := range places {
		start := time.Now()
		if a := postPush(t, client, base, realtimeBody(fmt.Sprint("p", i), 1, p[0], p[1])); a.code != 200 {
			t.Fatalf("POST %d: %d %s", i, a.code, a.body)
		}
		watch := fmt.Sprint("w", i)
		var at time.Time
		r.waitFor(t, "alert of "+watch, func() bool {
			for _, l := range out.find(t, "alert firing") {
				if l["watch"] == watch {
					at, _ = time.Parse(time.RFC3339Nano, fmt.Sprint(l["ts"]))
					return true
				}
			}
			return false
		})
		lat = append(lat, at.Sub(start))
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("push → alert firing over %d pushes (realtime %s): min %v p50 %v p99 %v max %v",
		n, realtime, lat[0], pct(0.50), pct(0.99), lat[len(lat)-1])
	r.stop(t)
}
