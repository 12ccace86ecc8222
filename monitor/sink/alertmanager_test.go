package sink_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/sink"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// amRecorder stands in for Alertmanager's POST /api/v2/alerts, keeping each
// request's alerts.
type amRecorder struct {
	mu     sync.Mutex
	status int
	posts  [][]sink.AMAlert
	paths  []string
}

func (r *amRecorder) serveHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var alerts []sink.AMAlert
	err := json.Unmarshal(body, &alerts)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.posts = append(r.posts, alerts)
	r.paths = append(r.paths, req.URL.Path)
	if r.status != 0 {
		w.WriteHeader(r.status)
	}
}

func (r *amRecorder) setStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

func (r *amRecorder) got() [][]sink.AMAlert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]sink.AMAlert(nil), r.posts...)
}

// noKeepAlive is a client whose connections close after each request, so that
// no connection goroutine outlives it inside a synctest bubble (a goroutine
// reading a socket is not durably blocked, and would stop the bubble's clock).
func noKeepAlive() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func TestAlertmanagerPayload(t *testing.T) {
	rec := &amRecorder{}
	srv := newServer(t, rec.serveHTTP)
	synctest.Test(t, func(t *testing.T) {
		am, err := sink.NewAlertmanager([]string{srv.URL + "/am/"}, sink.AlertmanagerOptions{
			Client: noKeepAlive(), Resend: time.Minute, ExternalURL: "http://geowatch.example.org:8080/",
		})
		if err != nil {
			t.Fatal(err)
		}
		defer am.Close()
		ev := firing()
		ev.Alert.Labels = map[string]string{"team": "east", "watch": "not-this"}
		ev.Alert.Summary = "3 reports near Vladivostok"
		ev.Alert.Finding.Stats = map[string]float64{"p": 0.001, "ratio": 4.5}
		now := time.Now()
		if err := am.Notify(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		posts := rec.got()
		if len(posts) != 1 || len(posts[0]) != 1 {
			t.Fatalf("posts = %+v, want one alert", posts)
		}
		if rec.paths[0] != "/am/api/v2/alerts" {
			t.Errorf("path %s, want /am/api/v2/alerts", rec.paths[0])
		}
		got := posts[0][0]
		want := sink.AMAlert{
			Labels: map[string]string{"alertname": "fires", "watch": "vladivostok", "severity": "warning",
				"rule_type": "count", "alert_id": "42", "team": "east"},
			Annotations: map[string]string{"summary": "3 reports near Vladivostok", "count": "3", "weight": "3.5",
				"lat": "43.11550", "lon": "131.88550", "radius_m": "25000", "window": "6h0m0s",
				"first_seen": "2026-11-26T13:00:00Z", "last_seen": "2026-11-26T17:00:00Z", "p": "0.001", "ratio": "4.5"},
			StartsAt:     "2026-11-26T18:00:00.000Z",
			EndsAt:       now.Add(4 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			GeneratorURL: "http://geowatch.example.org:8080/#alert=42",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("alert\n got %+v\nwant %+v", got, want)
		}
		if err := am.Notify(t.Context(), resolved()); err != nil {
			t.Fatal(err)
		}
		posts = rec.got()
		if r := posts[len(posts)-1][0]; r.EndsAt != "2026-11-26T21:00:00.000Z" || !strings.Contains(r.Annotations["summary"], "(resolved)") {
			t.Errorf("resolved alert = %+v, want endsAt 2026-11-26T21:00:00.000Z", r)
		}
	})
}

// TestAlertmanagerResend drives the re-sends on synctest's clock: every firing
// alert goes again each interval with its endsAt moved on, a resolved one goes
// with its endsAt for AlertmanagerResolvedRetention, then no more.
func TestAlertmanagerResend(t *testing.T) {
	rec := &amRecorder{}
	srv := newServer(t, rec.serveHTTP)
	synctest.Test(t, func(t *testing.T) {
		am, err := sink.NewAlertmanager([]string{srv.URL}, sink.AlertmanagerOptions{Client: noKeepAlive(), Resend: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer am.Close()
		if err := am.Notify(t.Context(), firing()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for i := 1; i <= 3; i++ {
			time.Sleep(time.Minute)
			synctest.Wait()
			posts := rec.got()
			if len(posts) != 1+i {
				t.Fatalf("after %d intervals: %d posts, want %d", i, len(posts), 1+i)
			}
			last := posts[len(posts)-1]
			wantEnd := start.Add(time.Duration(i)*time.Minute + 4*time.Minute).UTC().Format("2006-01-02T15:04:05.000Z07:00")
			if len(last) != 1 || last[0].Labels["alert_id"] != "42" || last[0].EndsAt != wantEnd {
				t.Fatalf("re-send %d = %+v, want alert 42 ending %s", i, last, wantEnd)
			}
		}
		// A resolved alert: sent at once, then re-sent with its endsAt while
		// Alertmanager may still need it.
		ev := resolved()
		ev.Alert.EndsAt = time.Now()
		if err := am.Notify(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		n := len(rec.got())
		time.Sleep(time.Minute)
		synctest.Wait()
		posts := rec.got()
		if len(posts) != n+1 || posts[n][0].EndsAt != ev.Alert.EndsAt.UTC().Format("2006-01-02T15:04:05.000Z07:00") {
			t.Fatalf("re-send after resolve = %+v, want the resolved alert", posts[n:])
		}
		time.Sleep(sink.AlertmanagerResolvedRetention)
		synctest.Wait()
		n = len(rec.got())
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if got := len(rec.got()); got != n {
			t.Errorf("%d re-sends after the retention, want none", got-n)
		}
	})
}

// TestAlertmanagerSeveral: one Alertmanager down does not fail the event nor
// hold up the other; all of them down fails it, for the courier to retry. A
// seeded alert (firing before a restart) is sent without waiting for a
// transition, and the instance that was down has everything with the next
// re-send.
func TestAlertmanagerSeveral(t *testing.T) {
	up, down := &amRecorder{}, &amRecorder{status: http.StatusServiceUnavailable}
	upSrv, downSrv := newServer(t, up.serveHTTP), newServer(t, down.serveHTTP)
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.DebugLevel)
		am, err := sink.NewAlertmanager([]string{upSrv.URL, downSrv.URL}, sink.AlertmanagerOptions{
			Client: noKeepAlive(), Resend: time.Minute, Log: zap.New(core)})
		if err != nil {
			t.Fatal(err)
		}
		defer am.Close()
		if err := am.Notify(t.Context(), firing()); err != nil {
			t.Errorf("Notify with one of two Alertmanagers up = %v, want nil", err)
		}
		if len(up.got()) != 1 {
			t.Errorf("the Alertmanager that is up got %d posts, want 1", len(up.got()))
		}
		if logs.FilterMessageSnippet("did not take the alert").Len() != 1 {
			t.Errorf("want one warning for the Alertmanager that is down; logs: %v", logs.All())
		}
		up.setStatus(http.StatusInternalServerError)
		err = am.Notify(t.Context(), resolved())
		if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "500") {
			t.Errorf("Notify with every Alertmanager failing = %v, want both statuses", err)
		}
		up.setStatus(0)
		down.setStatus(0)
		seeded := firing().Alert
		seeded.ID = 7
		am.Seed([]monitor.Alert{seeded})
		synctest.Wait()
		for name, r := range map[string]*amRecorder{"up": up, "was down": down} {
			posts := r.got()
			last := posts[len(posts)-1]
			ids := []string{}
			for _, a := range last {
				ids = append(ids, a.Labels["alert_id"])
			}
			if !reflect.DeepEqual(ids, []string{"7", "42"}) {
				t.Errorf("%s: re-send after the seed has alerts %v, want 7 (seeded) and 42 (resolved)", name, ids)
			}
		}
	})
}

// TestAlertmanagerBounded: an Alertmanager that never answers costs Notify one
// Timeout, and Close does not wait for it longer.
func TestAlertmanagerBounded(t *testing.T) {
	hang := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	defer close(hang)
	am, err := sink.NewAlertmanager([]string{srv.URL}, sink.AlertmanagerOptions{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer am.Close()
	if err := am.Notify(t.Context(), firing()); err == nil {
		t.Error("Notify to an Alertmanager that never answers = nil, want a timeout")
	}
}

func TestNewAlertmanagerURL(t *testing.T) {
	for _, u := range []string{"ftp://127.0.0.1/x", "http://", "http://127.0.0.1:9093/?x=1", "::"} {
		if am, err := sink.NewAlertmanager([]string{u}, sink.AlertmanagerOptions{}); err == nil {
			am.Close()
			t.Errorf("NewAlertmanager(%q) = nil error", u)
		}
	}
	if _, err := sink.NewAlertmanager(nil, sink.AlertmanagerOptions{}); err == nil {
		t.Error("NewAlertmanager(no urls) = nil error")
	}
	if _, err := sink.NewAlertmanager([]string{"http://127.0.0.1:9093"}, sink.AlertmanagerOptions{ExternalURL: "geowatch:8080"}); err == nil {
		t.Error("external_url without a scheme = nil error")
	}
}

// TestAlertmanagerResendInFlight: a re-send stuck on a slow Alertmanager does
// not hold up Notify, and when the alert resolves while that re-send (carrying
// it as firing) is in flight, the resolved state is sent again after it, so
// that the stale firing state is not what Alertmanager keeps.
func TestAlertmanagerResendInFlight(t *testing.T) {
	release := make(chan struct{})
	resendSeen := make(chan struct{})
	var mu sync.Mutex
	var posts [][]sink.AMAlert
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		var alerts []sink.AMAlert
		if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		posts = append(posts, alerts)
		n := len(posts)
		mu.Unlock()
		if n == 2 { // the re-send the seed set off: held until released
			close(resendSeen)
			<-release
		}
	})
	// No re-send of its own within the test: only the seed's, and the one
	// after it that a change in flight calls for.
	am, err := sink.NewAlertmanager([]string{srv.URL}, sink.AlertmanagerOptions{Resend: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer am.Close()
	if err := am.Notify(t.Context(), firing()); err != nil {
		t.Fatal(err)
	}
	seeded := firing().Alert
	seeded.ID = 7
	am.Seed([]monitor.Alert{seeded})
	<-resendSeen
	if err := am.Notify(t.Context(), resolved()); err != nil {
		t.Fatal(err) // returned while the re-send is stuck
	}
	close(release)
	resolvedEnd := "2026-11-26T21:00:00.000Z"
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(posts)
		var last []sink.AMAlert
		if n > 3 {
			last = posts[n-1]
		}
		mu.Unlock()
		if len(last) == 1 && last[0].Labels["alert_id"] == "42" && last[0].EndsAt == resolvedEnd {
			return
		}
		if len(last) > 0 || time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("after the stuck re-send: posts %+v, want alert 42 resolved sent again last", posts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
