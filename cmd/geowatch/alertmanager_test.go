package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store/sqlite"
	"go.uber.org/zap"
)

// alertmanagerBinary returns a Prometheus Alertmanager binary: the one
// $GEOWATCH_ALERTMANAGER names (.ci/run builds it before the tests), else one
// built by .ci/alertmanager into the user's cache dir (a few minutes the first
// time). Outside CI a failed build skips the test, saying why; under CI it
// fails it.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("GEOWATCH_ALERTMANAGER"); bin != "" {
		return bin
	}
	var stderr bytes.Buffer
	cmd := exec.Command("bash", "../../.ci/alertmanager")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	bin := strings.TrimSpace(string(out))
	if err != nil || bin == "" {
		msg := fmt.Sprintf("building Alertmanager with .ci/alertmanager failed: %v\n%s", err, stderr.String())
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + "\n(outside CI this test is skipped; set GEOWATCH_ALERTMANAGER to a built alertmanager)")
	}
	return bin
}

// readmeAlertmanager returns the README's Alertmanager example: the first
// YAML block after "#### Alertmanager".
func readmeAlertmanager(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "#### Alertmanager")
	if i < 0 {
		t.Fatal("README.md has no Alertmanager section")
	}
	s = s[i:]
	s = s[strings.Index(s, "```yaml\n")+len("```yaml\n"):]
	block := s[:strings.Index(s, "```")]
	if !strings.Contains(block, "sink: alertmanager") || !strings.Contains(block, "http://127.0.0.1:9093") {
		t.Fatalf("the README's Alertmanager example changed:\n%s", block)
	}
	return block
}

// alertmanager is a running Alertmanager on 127.0.0.1.
type alertmanager struct {
	url string // http://127.0.0.1:PORT
}

// startAlertmanager runs bin with config (its alertmanager.yml) on a free
// loopback port, without clustering, and waits for /-/ready. It is killed at
// the end of the test.
func startAlertmanager(t *testing.T, bin, config string) *alertmanager {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "am.yml"), config)
	addr := freeAddr(t)
	var logBuf syncBuffer
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--cluster.listen-address=",
		"--storage.path="+filepath.Join(dir, "data"), "--config.file="+filepath.Join(dir, "am.yml"))
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // killed at the end
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // it may have exited
		<-exited
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", logBuf.buf.String())
		}
	})
	am := &alertmanager{url: "http://" + addr}
	client := &http.Client{Timeout: time.Second}
	err := waitFor(60*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		resp, err := client.Get(am.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	select {
	case <-exited:
		t.Fatalf("alertmanager exited at start:\n%s", logBuf.buf.String())
	default:
	}
	if err != nil {
		t.Fatalf("alertmanager not ready: %v\n%s", err, logBuf.buf.String())
	}
	return am
}

// gettableAlert is what Alertmanager's GET /api/v2/alerts lists.
type gettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State      string   `json:"state"`
		SilencedBy []string `json:"silencedBy"`
	} `json:"status"`
}

func (am *alertmanager) alerts(t *testing.T, query string) []gettableAlert {
	t.Helper()
	resp, err := http.Get(am.url + "/api/v2/alerts?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v2/alerts: %d %v", resp.StatusCode, err)
	}
	return out
}

// silence creates a silence in Alertmanager for label=value and returns its id.
func (am *alertmanager) silence(t *testing.T, label, value string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"matchers":  []map[string]any{{"name": label, "value": value, "isRegex": false, "isEqual": true}},
		"startsAt":  time.Now().UTC().Format(time.RFC3339),
		"endsAt":    time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"createdBy": "geowatch test", "comment": "planned exercise",
	})
	resp, err := http.Post(am.url+"/api/v2/silences", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.SilenceID == "" {
		t.Fatalf("POST /api/v2/silences: %d %v %+v", resp.StatusCode, err, out)
	}
	return out.SilenceID
}

func (am *alertmanager) expire(t *testing.T, id string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, am.url+"/api/v2/silence/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE /api/v2/silence/%s: %d", id, resp.StatusCode)
	}
}

// amWebhook is a receiver Alertmanager notifies: what it passed on, firing
// and resolved.
type amWebhook struct {
	mu    sync.Mutex
	notes []amNotification
}

type amNotification struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

func (h *amWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var n amNotification
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.notes = append(h.notes, n)
	h.mu.Unlock()
}

// statuses lists the status of each notification about watch, in order.
func (h *amWebhook) statuses(watch string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, n := range h.notes {
		for _, a := range n.Alerts {
			if a.Labels["watch"] == watch {
				out = append(out, a.Status)
			}
		}
	}
	return out
}

// TestAlertmanagerRoundTrip runs geowatch with an alertmanager subscriber, as
// the README's Alertmanager section configures it, against a real Alertmanager
// on 127.0.0.1: the firing alert is listed by Alertmanager's API with its
// labels, annotations and generatorURL; a silence for watch=vladivostok made
// in Alertmanager suppresses it there (geowatch still stores and sends it);
// when the reports move away it resolves, Alertmanager stops listing it, and
// its receiver is told firing, then resolved.
func TestAlertmanagerRoundTrip(t *testing.T) {
	bin := alertmanagerBinary(t)
	hook := &amWebhook{}
	hookSrv := httptest.NewServer(hook) // on 127.0.0.1
	defer hookSrv.Close()
	am := startAlertmanager(t, bin, fmt.Sprintf(`
route:
  receiver: duty
  group_by: [alertname, watch]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: duty
    webhook_configs:
      - url: %s/notify
        send_resolved: true
`, hookSrv.URL))

	// The feed: six reports near Vladivostok; in phase 2 the same records,
	// updated, are far away, and the rule no longer holds.
	now := time.Now()
	var phase atomic.Int32
	feedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := feed(now, 6)
		if phase.Load() == 2 {
			body = bytes.ReplaceAll(body, []byte("[131."), []byte("[100.")) // every report near Vladivostok moves 3,000 km west
		}
		w.Header().Set("Content-Type", "application/geo+json")
		w.Write(body) //nolint:errcheck // the test reads the outcome elsewhere
	}))
	defer feedSrv.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
database: %s
sources:
  - name: feed
    type: geojson
    url: %s/all_hour.geojson
    schedule: "@every 1s"
watches:
  - name: vladivostok
    place: Vladivostok
    radius: 50km
    schedule: "@every 1s"
    rules:
      - name: police-presence
        type: count
        severity: critical
        kinds: [police_presence]
        min: 5
        window: 6h
        labels: {team: east}
        summary: "{{.Count}} reports near Vladivostok"
%s    resend: 2s
    external_url: http://geowatch.example.org:8080
`, filepath.Join(dir, "geowatch.gpkg"), feedSrv.URL, strings.ReplaceAll(readmeAlertmanager(t), "http://127.0.0.1:9093", am.url)))

	out := &syncBuffer{}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { done <- run(ctx, []string{"run", "--config", cfg}, out, out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if t.Failed() {
			t.Logf("geowatch log:\n%s", out.buf.String())
		}
	}()

	var firing []gettableAlert
	if err := waitFor(60*time.Second, func() bool {
		firing = am.alerts(t, "filter="+url.QueryEscape(`watch="vladivostok"`))
		return len(firing) == 1
	}); err != nil {
		t.Fatalf("Alertmanager never listed the alert: %v", err)
	}
	a := firing[0]
	wantLabels := map[string]string{"alertname": "police-presence", "watch": "vladivostok", "severity": "critical",
		"rule_type": "count", "alert_id": "1", "team": "east"}
	for k, v := range wantLabels {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if len(a.Labels) != len(wantLabels) {
		t.Errorf("labels %v, want %v", a.Labels, wantLabels)
	}
	if a.Annotations["summary"] != "6 reports near Vladivostok" || a.Annotations["count"] != "6" {
		t.Errorf("annotations %v, want summary and count 6", a.Annotations)
	}
	if a.GeneratorURL != "http://geowatch.example.org:8080/#alert=1" {
		t.Errorf("generatorURL %q", a.GeneratorURL)
	}
	if a.Status.State != "active" || !a.EndsAt.After(time.Now()) {
		t.Errorf("status %+v, endsAt %v: want active, ending in the future", a.Status, a.EndsAt)
	}
	if err := waitFor(30*time.Second, func() bool { return len(hook.statuses("vladivostok")) > 0 }); err != nil {
		t.Fatalf("Alertmanager's receiver was never notified: %v", err)
	}

	// A silence in Alertmanager mutes it there: listed as suppressed, by it.
	id := am.silence(t, "watch", "vladivostok")
	if err := waitFor(30*time.Second, func() bool {
		as := am.alerts(t, "filter="+url.QueryEscape(`watch="vladivostok"`))
		return len(as) == 1 && as[0].Status.State == "suppressed" && len(as[0].Status.SilencedBy) == 1 && as[0].Status.SilencedBy[0] == id
	}); err != nil {
		t.Errorf("the alert is not suppressed by silence %s: %v; alerts %+v", id, err, am.alerts(t, ""))
	}
	if as := am.alerts(t, "silenced=false&filter="+url.QueryEscape(`watch="vladivostok"`)); len(as) != 0 {
		t.Errorf("silenced=false lists %+v", as)
	}
	am.expire(t, id)

	// The reports move away: geowatch resolves the alert, Alertmanager stops
	// listing it and tells its receiver it resolved.
	phase.Store(2)
	if err := waitFor(60*time.Second, func() bool {
		return len(am.alerts(t, "filter="+url.QueryEscape(`watch="vladivostok"`))) == 0
	}); err != nil {
		t.Errorf("Alertmanager still lists the alert after it resolved: %+v", am.alerts(t, ""))
	}
	if err := waitFor(30*time.Second, func() bool {
		s := hook.statuses("vladivostok")
		return len(s) > 0 && s[len(s)-1] == "resolved"
	}); err != nil {
		t.Errorf("receiver notifications %v, want firing then resolved", hook.statuses("vladivostok"))
	}
	if s := hook.statuses("vladivostok"); len(s) == 0 || s[0] != "firing" {
		t.Errorf("receiver notifications %v, want firing first", s)
	}
}

// TestAlertmanagerSeed: a daemon that starts with alerts firing sends them to
// its Alertmanager subscribers at once, through each one's filter, but not an
// alert whose firing a geowatch silence muted (Alertmanager never had it).
func TestAlertmanagerSeed(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "geowatch.gpkg"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Now().Add(-time.Hour).UTC()
	announced := lifecycleAlert("vladivostok", "reports", at)
	saveAlert(t, st, &announced, time.Time{})
	other := lifecycleAlert("khasan", "reports", at)
	saveAlert(t, st, &other, time.Time{})
	sil := monitor.Silence{Watch: "vladivostok", Rule: "muted", StartsAt: at.Add(-time.Minute), EndsAt: at.Add(time.Hour), Comment: "exercise"}
	if err := st.AddSilence(t.Context(), &sil); err != nil {
		t.Fatal(err)
	}
	muted := lifecycleAlert("vladivostok", "muted", at)
	mutedOpen := monitor.Transition{At: at, To: monitor.StateFiring, SilenceID: sil.ID}
	if err := st.SaveAlerts(t.Context(), []monitor.Change{{Alert: &muted, Transition: &mutedOpen}}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var alerts []gettableAlert
		json.NewDecoder(r.Body).Decode(&alerts) //nolint:errcheck // an empty list fails the test
		mu.Lock()
		defer mu.Unlock()
		for _, a := range alerts {
			got = append(got, a.Labels["watch"]+"/"+a.Labels["alertname"])
		}
	}))
	defer srv.Close()
	c, err := configs.Parse([]byte(fmt.Sprintf(`database: x.gpkg
watches:
  - {name: vladivostok, lat: 43.1, lon: 131.9, radius: 50km, rules: [{name: reports, type: count, min: 3, window: 6h}, {name: muted, type: count, min: 3, window: 6h}]}
  - {name: khasan, lat: 42.4, lon: 130.6, radius: 50km, rules: [{name: reports, type: count, min: 3, window: 6h}]}
subscribers:
  - {name: am, sink: alertmanager, url: %s, watches: [vladivostok]}
`, srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	subs, err := openSubscribers(plan.Subscribers, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	subs.seed(t.Context(), st, zap.NewNop())
	if err := waitFor(30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) > 0 }); err != nil {
		t.Fatalf("nothing sent after the seed: %v", err)
	}
	subs.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "vladivostok/reports" {
		t.Errorf("seeded alerts sent: %v, want only vladivostok/reports (khasan is filtered out, vladivostok/muted was silenced)", got)
	}
}
