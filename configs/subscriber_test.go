package configs

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/sink"
)

const subscriberBase = `database: x.db
watches:
  - name: vlad
    lat: 43.1
    lon: 131.9
    radius: 50km
    rules:
      - type: count
        min: 3
        window: 6h
subscribers:
`

func TestSubscribers(t *testing.T) {
	src := subscriberBase + `  - name: hook
    sink: webhook
    url: https://hooks.example.org/T000/B000/s3cret
    timeout: 5s
    headers:
      Authorization: Bearer t0ken
    labels:
      team: east
  - name: file
    sink: file
    path: /var/lib/geowatch/alerts.jsonl
    max_size: 100
    max_backups: 5
    max_age: 30d
    compress: true
    min_severity: critical
  - name: plain
    sink: file
    path: alerts.jsonl
`
	c, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Subscribers) != 3 {
		t.Fatalf("%d subscribers, want 3", len(plan.Subscribers))
	}
	hook, file, plain := plan.Subscribers[0], plan.Subscribers[1], plan.Subscribers[2]
	wantHook := sink.WebhookOptions{Timeout: 5 * time.Second, Headers: map[string]string{"Authorization": "Bearer t0ken"}}
	if hook.Sink != "webhook" || hook.URL != "https://hooks.example.org/T000/B000/s3cret" || !reflect.DeepEqual(hook.Webhook, wantHook) {
		t.Errorf("webhook subscriber = %+v, want options %+v", hook, wantHook)
	}
	if !reflect.DeepEqual(hook.Filter.Labels, map[string]string{"team": "east"}) {
		t.Errorf("webhook filter labels = %v", hook.Filter.Labels)
	}
	wantRot := sink.Rotation{MaxSizeMB: 100, MaxBackups: 5, MaxAge: 30 * 24 * time.Hour, Compress: true}
	if file.Rotation != wantRot {
		t.Errorf("rotation = %+v, want %+v", file.Rotation, wantRot)
	}
	if plain.Rotation != (sink.Rotation{}) || plain.Filter.Labels != nil {
		t.Errorf("plain file subscriber = %+v, want no rotation and no labels", plain)
	}
}

func TestSubscriberErrors(t *testing.T) {
	tests := []struct {
		name      string
		sub       string
		wantField string
		wantLine  int
		wantErr   error
	}{
		{"webhook without url", "  - name: h\n    sink: webhook\n", "subscribers[0].url", 0, ErrRequired},
		{"webhook bad scheme", "  - name: h\n    sink: webhook\n    url: ftp://example.org/x\n", "subscribers[0].url", 14, nil},
		{"webhook bad timeout", "  - name: h\n    sink: webhook\n    url: http://127.0.0.1/x\n    timeout: 0s\n", "subscribers[0].timeout", 15, ErrNotPositive},
		{"webhook bad header", "  - name: h\n    sink: webhook\n    url: http://127.0.0.1/x\n    headers:\n      \"Bad Header\": x\n", "subscribers[0].headers", 16, nil},
		{"path on a webhook", "  - name: h\n    sink: webhook\n    url: http://127.0.0.1/x\n    path: a.jsonl\n", "subscribers[0].path", 15, ErrNotApplied},
		{"url on a file", "  - name: f\n    sink: file\n    path: a.jsonl\n    url: http://127.0.0.1/x\n", "subscribers[0].url", 15, ErrNotApplied},
		{"max_backups without max_size", "  - name: f\n    sink: file\n    path: a.jsonl\n    max_backups: 3\n", "subscribers[0].max_backups", 15, ErrNotApplied},
		{"negative max_size", "  - name: f\n    sink: file\n    path: a.jsonl\n    max_size: -1\n", "subscribers[0].max_size", 15, ErrNotPositive},
		{"bad max_age", "  - name: f\n    sink: file\n    path: a.jsonl\n    max_size: 10\n    max_age: forever\n", "subscribers[0].max_age", 16, nil},
		{"rotation on log", "  - name: l\n    sink: log\n    compress: true\n", "subscribers[0].compress", 14, ErrNotApplied},
		{"unknown sink", "  - name: x\n    sink: email\n", "subscribers[0].sink", 13, ErrUnknown},
		{"webhook with two urls", "  - name: h\n    sink: webhook\n    url: [http://127.0.0.1/a, http://127.0.0.1/b]\n", "subscribers[0].url", 14, nil},
		{"resend on a webhook", "  - name: h\n    sink: webhook\n    url: http://127.0.0.1/x\n    resend: 1m\n", "subscribers[0].resend", 15, ErrNotApplied},
		{"alertmanager without url", "  - name: am\n    sink: alertmanager\n", "subscribers[0].url", 0, ErrRequired},
		{"alertmanager bad second url", "  - name: am\n    sink: alertmanager\n    url:\n      - http://127.0.0.1:9093\n      - ftp://127.0.0.1:9094/s3cret\n", "subscribers[0].url[1]", 0, nil},
		{"alertmanager url twice", "  - name: am\n    sink: alertmanager\n    url: [http://127.0.0.1:9093, http://127.0.0.1:9093]\n", "subscribers[0].url[1]", 0, nil},
		{"alertmanager bad resend", "  - name: am\n    sink: alertmanager\n    url: http://127.0.0.1:9093\n    resend: 0s\n", "subscribers[0].resend", 15, ErrNotPositive},
		{"alertmanager bad external_url", "  - name: am\n    sink: alertmanager\n    url: http://127.0.0.1:9093\n    external_url: geowatch:8080\n", "subscribers[0].external_url", 15, nil},
		{"path on an alertmanager", "  - name: am\n    sink: alertmanager\n    url: http://127.0.0.1:9093\n    path: a.jsonl\n", "subscribers[0].path", 15, ErrNotApplied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(subscriberBase + tc.sub))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want a *FieldError", err)
			}
			if fe.Field != tc.wantField {
				t.Errorf("field = %q, want %q (error %v)", fe.Field, tc.wantField, err)
			}
			if tc.wantLine > 0 && fe.Line != tc.wantLine {
				t.Errorf("line = %d, want %d (error %v)", fe.Line, tc.wantLine, err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %v shows a secret", err)
			}
		})
	}
}

func TestAlertmanagerSubscriber(t *testing.T) {
	src := subscriberBase + `  - name: am
    sink: alertmanager
    url:
      - http://127.0.0.1:9093
      - http://127.0.0.1:9094/alertmanager/
    resend: 30s
    timeout: 5s
    external_url: https://geowatch.example.org/
    min_severity: warning
  - name: am-default
    sink: alertmanager
    url: http://127.0.0.1:9093
http:
  listen: 127.0.0.1:8181
`
	c, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	am, def := plan.Subscribers[0], plan.Subscribers[1]
	if am.Sink != "alertmanager" || !reflect.DeepEqual(am.URLs, []string{"http://127.0.0.1:9093", "http://127.0.0.1:9094/alertmanager/"}) {
		t.Errorf("alertmanager subscriber = %+v", am)
	}
	want := sink.AlertmanagerOptions{Timeout: 5 * time.Second, Resend: 30 * time.Second, ExternalURL: "https://geowatch.example.org/"}
	if !reflect.DeepEqual(am.Alertmanager, want) {
		t.Errorf("options = %+v, want %+v", am.Alertmanager, want)
	}
	if am.Filter.MinSeverity != monitor.SeverityWarning {
		t.Errorf("filter = %+v", am.Filter)
	}
	// The defaults, with generatorURL on the http block's listener.
	wantDef := sink.AlertmanagerOptions{Timeout: sink.DefaultAlertmanagerTimeout, Resend: sink.DefaultAlertmanagerResend, ExternalURL: "http://127.0.0.1:8181"}
	if !reflect.DeepEqual(def.URLs, []string{"http://127.0.0.1:9093"}) || !reflect.DeepEqual(def.Alertmanager, wantDef) {
		t.Errorf("default alertmanager subscriber = %+v, want options %+v", def, wantDef)
	}
}

func TestLogSink(t *testing.T) {
	for src, want := range map[string]string{"": "auto", "log: {sink: journal}\n": "journal", "log: {sink: stdout}\n": "stdout"} {
		c, err := Parse([]byte(src + "database: x.db\n"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Build()
		if err != nil {
			t.Fatal(err)
		}
		if p.LogSink != want {
			t.Errorf("%q: log sink %q, want %q", src, p.LogSink, want)
		}
	}
	_, err := Parse([]byte("database: x.db\nlog: {sink: syslog}\n"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "log.sink" || !errors.Is(err, ErrUnknown) {
		t.Errorf("log.sink syslog = %v, want an ErrUnknown at log.sink", err)
	}
}
