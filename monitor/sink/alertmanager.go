package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"go.uber.org/zap"
)

// Alertmanager defaults.
const (
	// DefaultAlertmanagerTimeout bounds one request to one Alertmanager.
	DefaultAlertmanagerTimeout = 10 * time.Second
	// DefaultAlertmanagerResend is how often every firing alert is sent again,
	// as Prometheus does (its --rules.alert.resend-delay is 1m).
	DefaultAlertmanagerResend = time.Minute
	// AlertmanagerResolvedRetention is how long a resolved alert goes on being
	// re-sent with its endsAt, so that an Alertmanager that was down when it
	// resolved learns of it (Prometheus keeps them 15 minutes too).
	AlertmanagerResolvedRetention = 15 * time.Minute
	// alertmanagerValidFor is how many re-send intervals a firing alert's
	// endsAt lies ahead: an Alertmanager that hears nothing more from geowatch
	// (it stopped) resolves the alert then, as with Prometheus' 4×.
	alertmanagerValidFor = 4
)

// Labels and annotations geowatch sets on every alert it sends to Alertmanager.
const (
	AMLabelAlertname = "alertname" // the rule's name
	AMLabelWatch     = "watch"
	AMLabelSeverity  = "severity"
	AMLabelRuleType  = "rule_type"
	// AMLabelAlertID keeps apart the alerts one rule has open at once (two
	// clusters at one watch): Alertmanager identifies an alert by its labels.
	AMLabelAlertID = "alert_id"
)

// AlertmanagerOptions configures an Alertmanager sink. Zero fields take the
// defaults.
type AlertmanagerOptions struct {
	// Timeout bounds one request to one Alertmanager; default
	// DefaultAlertmanagerTimeout.
	Timeout time.Duration
	// Resend is how often the firing alerts (and those resolved within
	// AlertmanagerResolvedRetention) are sent again; default
	// DefaultAlertmanagerResend. Keep it below Alertmanager's resolve_timeout.
	Resend time.Duration
	// ExternalURL is the base of each alert's generatorURL, the daemon's HTTP
	// listener as users reach it: generatorURL is ExternalURL + "/#alert=<id>",
	// the alert on the map. Empty: no generatorURL.
	ExternalURL string
	// Headers are set on every request (an Authorization header, say).
	Headers map[string]string
	// UserAgent is the User-Agent header; default "geowatch/<version>".
	UserAgent string
	// Client sends the requests; default one that follows no redirects.
	Client *http.Client
	// Log receives the re-sends' failures and recoveries, and the failures of
	// single Alertmanagers that Notify does not return; default none.
	Log *zap.Logger
}

// Alertmanager sends alert events to one or more Prometheus Alertmanagers
// through their API (POST /api/v2/alerts), as Prometheus does: each alert has
// the labels alertname (the rule), watch, severity, rule_type, alert_id and the
// rule's labels; annotations summary (the rule's summary, or the log line's
// text) and the finding's statistics; startsAt; endsAt, which for a firing
// alert lies 4 re-send intervals ahead and for a resolved one is when it
// resolved; and generatorURL, the alert on the map.
//
// Every firing alert is sent again every Resend by a goroutine of its own, with
// the alerts resolved in the last AlertmanagerResolvedRetention, so the courier
// that calls Notify never waits for it. Each request to each Alertmanager is
// bounded by Timeout, and the Alertmanagers are sent to concurrently.
//
// Notify succeeds when at least one Alertmanager took the event (Prometheus'
// rule too: the instances of a cluster share what they get); a failure of the
// others is logged, and they have the alert with the next re-send. It fails
// when none did, and the courier retries it. Close stops the re-sends.
type Alertmanager struct {
	name    string
	targets []amTarget
	opt     AlertmanagerOptions
	client  *http.Client
	headers http.Header
	log     *zap.Logger

	mu     sync.Mutex
	alerts map[int64]*amEntry // by alert id: the firing ones and the recently resolved
	gen    uint64
	// failing marks the targets whose last re-send failed, for one log line
	// per failure streak.
	failing map[string]bool

	kick     chan struct{} // capacity 1: re-send now
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

type amTarget struct {
	endpoint string // .../api/v2/alerts
	name     string // scheme and host, for logs and errors
}

// amEntry is the last state of one alert as sent.
type amEntry struct {
	ev  monitor.Event
	gen uint64 // bumped by every Notify of the alert
}

// AMAlert is an alert as Alertmanager's API takes it (its postableAlert).
type AMAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

var _ monitor.Notifier = (*Alertmanager)(nil)

// NewAlertmanager returns a sink for the Alertmanagers at urls, each a base URL
// such as http://127.0.0.1:9093 (with a path prefix if Alertmanager is served
// under one), and starts its re-send goroutine.
func NewAlertmanager(urls []string, opt AlertmanagerOptions) (*Alertmanager, error) {
	if len(urls) == 0 {
		return nil, errors.New("sink: alertmanager: no url")
	}
	var targets []amTarget
	var names []string
	for _, raw := range urls {
		t, err := amURL(raw)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
		names = append(names, t.name)
	}
	if opt.ExternalURL != "" {
		if err := CheckExternalURL(opt.ExternalURL); err != nil {
			return nil, err
		}
		opt.ExternalURL = strings.TrimSuffix(opt.ExternalURL, "/")
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultAlertmanagerTimeout
	}
	if opt.Resend <= 0 {
		opt.Resend = DefaultAlertmanagerResend
	}
	if opt.UserAgent == "" {
		opt.UserAgent = "geowatch/" + monitor.Version()
	}
	client := opt.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	log := opt.Log
	if log == nil {
		log = zap.NewNop()
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", opt.UserAgent)
	for k, v := range opt.Headers {
		h.Set(k, v)
	}
	s := &Alertmanager{
		name: "alertmanager:" + strings.Join(names, ","), targets: targets, opt: opt, client: client, headers: h, log: log,
		alerts: map[int64]*amEntry{}, failing: map[string]bool{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go s.loop()
	return s, nil
}

// CheckAlertmanagerURL reports whether raw is an Alertmanager's base URL as
// NewAlertmanager takes it; the error names only its scheme and host.
func CheckAlertmanagerURL(raw string) error {
	_, err := amURL(raw)
	return err
}

// CheckExternalURL reports whether raw is an http or https URL to prefix
// generatorURL with.
func CheckExternalURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("sink: alertmanager external_url %q: want an http or https URL without query or fragment", raw)
	}
	return nil
}

func amURL(raw string) (amTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return amTarget{}, fmt.Errorf("sink: alertmanager url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return amTarget{}, fmt.Errorf("sink: alertmanager url %s: want an http or https URL", redact(u))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return amTarget{}, fmt.Errorf("sink: alertmanager url %s: want a base URL without query or fragment", redact(u))
	}
	e := *u
	e.Path = strings.TrimSuffix(u.Path, "/") + "/api/v2/alerts"
	e.RawPath = ""
	return amTarget{endpoint: e.String(), name: redact(u)}, nil
}

// Name returns "alertmanager:" and the Alertmanagers' schemes and hosts.
func (s *Alertmanager) Name() string { return s.name }

// Seed gives the sink alerts that are firing already, which a new sink (after
// a restart or a reload) would otherwise not re-send until their next
// transition: Alertmanager would resolve them meanwhile. They are sent at once
// by the re-send goroutine, not by the caller.
func (s *Alertmanager) Seed(firing []monitor.Alert) {
	s.mu.Lock()
	for _, a := range firing {
		if a.State != monitor.StateFiring {
			continue
		}
		if _, ok := s.alerts[a.ID]; ok {
			continue // Notify knows better
		}
		s.gen++
		s.alerts[a.ID] = &amEntry{ev: monitor.Event{Alert: a, Transition: monitor.Transition{AlertID: a.ID, To: monitor.StateFiring}}, gen: s.gen}
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Notify sends ev to every Alertmanager at once and records it for the
// re-sends; it succeeds when one of them took it.
func (s *Alertmanager) Notify(ctx context.Context, ev monitor.Event) error {
	if _, err := Message(ev); err != nil {
		return fmt.Errorf("sink: %s: %w", s.name, err)
	}
	s.mu.Lock()
	s.gen++
	s.alerts[ev.Alert.ID] = &amEntry{ev: ev, gen: s.gen}
	s.mu.Unlock()
	body, err := json.Marshal([]AMAlert{s.payload(ev, time.Now())})
	if err != nil {
		return fmt.Errorf("sink: %s: transition %d: %w", s.name, ev.Transition.ID, err)
	}
	errs := s.postAll(ctx, body)
	var failed []error
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", s.targets[i].name, err))
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(failed) < len(s.targets):
		s.log.Warn("alertmanager did not take the alert; it gets it with the next re-send",
			zap.String("sink", s.name), zap.Int64(KeyAlertID, ev.Alert.ID), zap.Int64(KeyTransitionID, ev.Transition.ID),
			zap.Error(errors.Join(failed...)), zap.Duration("resend", s.opt.Resend))
		return nil
	}
	return fmt.Errorf("sink: %s: transition %d: %w", s.name, ev.Transition.ID, errors.Join(failed...))
}

// Close stops the re-sends and waits for the one in flight, if any, to end.
func (s *Alertmanager) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// loop re-sends every Resend, and at once when kicked.
func (s *Alertmanager) loop() {
	defer close(s.done)
	t := time.NewTicker(s.opt.Resend)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		s.resend()
	}
}

// resend sends the firing alerts and the recently resolved ones to every
// Alertmanager, in one request each. An alert that Notify changed while the
// request was in flight is sent again as it is now, so that the re-send's
// older state is not what Alertmanager keeps.
func (s *Alertmanager) resend() {
	now := time.Now()
	s.mu.Lock()
	var evs []monitor.Event
	gens := map[int64]uint64{}
	for id, e := range s.alerts {
		if e.ev.Transition.To == monitor.StateResolved && now.Sub(e.ev.Alert.EndsAt) > AlertmanagerResolvedRetention {
			delete(s.alerts, id)
			continue
		}
		evs = append(evs, e.ev)
		gens[id] = e.gen
	}
	s.mu.Unlock()
	if len(evs) == 0 {
		return
	}
	s.send(evs, now)
	s.mu.Lock()
	var changed []monitor.Event
	for id, g := range gens {
		if e, ok := s.alerts[id]; ok && e.gen != g {
			changed = append(changed, e.ev)
		}
	}
	s.mu.Unlock()
	if len(changed) > 0 {
		s.send(changed, time.Now())
	}
}

// send posts evs to every Alertmanager, logging failures once per streak.
func (s *Alertmanager) send(evs []monitor.Event, now time.Time) {
	slices.SortFunc(evs, func(a, b monitor.Event) int { return int(a.Alert.ID - b.Alert.ID) })
	alerts := make([]AMAlert, len(evs))
	for i, ev := range evs {
		alerts[i] = s.payload(ev, now)
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		s.log.Error("alertmanager re-send", zap.String("sink", s.name), zap.Error(err))
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	errs := s.postAll(ctx, body)
	for i, err := range errs {
		name := s.targets[i].name
		s.mu.Lock()
		was := s.failing[name]
		s.failing[name] = err != nil
		s.mu.Unlock()
		switch {
		case err != nil && !was:
			s.log.Error("alertmanager re-send failed; trying again every resend", zap.String("sink", s.name),
				zap.String("alertmanager", name), zap.Int("alerts", len(alerts)), zap.Duration("resend", s.opt.Resend), zap.Error(err))
		case err != nil:
			s.log.Debug("alertmanager re-send failed", zap.String("sink", s.name), zap.String("alertmanager", name), zap.Error(err))
		case was:
			s.log.Info("alertmanager re-send recovered", zap.String("sink", s.name), zap.String("alertmanager", name), zap.Int("alerts", len(alerts)))
		}
	}
}

// postAll posts body to every Alertmanager concurrently, each request within
// Timeout, and returns their errors by target.
func (s *Alertmanager) postAll(ctx context.Context, body []byte) []error {
	errs := make([]error, len(s.targets))
	var wg sync.WaitGroup
	for i, t := range s.targets {
		wg.Go(func() { errs[i] = s.post(ctx, t, body) })
	}
	wg.Wait()
	return errs
}

func (s *Alertmanager) post(ctx context.Context, t amTarget, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = s.headers.Clone()
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = t.name // without the path, which may hold a secret
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) //nolint:errcheck // delivered already
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(strings.ToValidUTF8(string(snippet), ""))}
}

// payload is ev as Alertmanager's postableAlert at now.
func (s *Alertmanager) payload(ev monitor.Event, now time.Time) AMAlert {
	return AlertmanagerAlert(ev, now, s.opt.Resend, s.opt.ExternalURL)
}

// AlertmanagerAlert returns the labels, annotations, times and generator URL
// the sink sends for ev at now; see Alertmanager. It is exported for the
// tests that compare what Alertmanager shows.
func AlertmanagerAlert(ev monitor.Event, now time.Time, resend time.Duration, externalURL string) AMAlert {
	a, f := ev.Alert, ev.Alert.Finding
	labels := maps.Clone(a.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	// geowatch's own labels win over a rule label of the same name.
	labels[AMLabelAlertname] = a.Rule
	labels[AMLabelWatch] = a.Watch
	labels[AMLabelSeverity] = a.Severity.String()
	labels[AMLabelRuleType] = a.RuleType
	labels[AMLabelAlertID] = strconv.FormatInt(a.ID, 10)
	ann := map[string]string{}
	for k, v := range f.Stats {
		ann[k] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	ann[KeySummary] = a.Summary
	if a.Summary == "" {
		ann[KeySummary] = Text(ev)
	}
	ann[KeyCount] = strconv.Itoa(f.Count)
	ann[KeyWeight] = strconv.FormatFloat(f.Weight, 'g', -1, 64)
	ann[KeyLat] = strconv.FormatFloat(f.Center.Lat(), 'f', 5, 64)
	ann[KeyLon] = strconv.FormatFloat(f.Center.Lon(), 'f', 5, 64)
	if a.RadiusMeters > 0 {
		ann[KeyRadius] = strconv.FormatFloat(a.RadiusMeters, 'g', -1, 64)
	}
	if a.Window > 0 {
		ann[KeyWindow] = a.Window.String()
	}
	if t := timestamp(f.FirstSeen); t != "" {
		ann[KeyFirstSeen] = t
	}
	if t := timestamp(f.LastSeen); t != "" {
		ann[KeyLastSeen] = t
	}
	out := AMAlert{Labels: labels, Annotations: ann, StartsAt: amTime(a.StartsAt)}
	if ev.Transition.To == monitor.StateResolved {
		out.EndsAt = amTime(a.EndsAt)
	} else {
		out.EndsAt = amTime(now.Add(alertmanagerValidFor * resend))
	}
	if externalURL != "" {
		out.GeneratorURL = externalURL + "/#alert=" + strconv.FormatInt(a.ID, 10)
	}
	return out
}

func amTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
