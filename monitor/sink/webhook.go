package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/geowatch/geowatch/monitor"
)

// Webhook defaults.
const (
	DefaultWebhookTimeout    = 10 * time.Second
	DefaultWebhookMaxRetries = 3
	DefaultWebhookBackoff    = 500 * time.Millisecond
)

// WebhookOptions configures a Webhook. Zero fields take the defaults.
type WebhookOptions struct {
	// Timeout bounds one attempt; default DefaultWebhookTimeout. All attempts of
	// one Notify, with the waits between them, take at most twice this.
	Timeout time.Duration
	// Headers are set on every request, after Content-Type and User-Agent (so
	// they may override them): an Authorization token, say.
	Headers map[string]string
	// MaxRetries is how many times a failed attempt is retried within Notify;
	// default DefaultWebhookMaxRetries, negative for none.
	MaxRetries int
	// Backoff is the wait before the first retry, doubled before each next one;
	// default DefaultWebhookBackoff. A Retry-After header lengthens it.
	Backoff time.Duration
	// UserAgent is the User-Agent header; default "geowatch/<version>".
	UserAgent string
	// Client sends the requests; default a client with no timeout of its own
	// (Timeout applies) that follows no redirects.
	Client *http.Client
}

// Webhook POSTs each alert event to a URL as the JSON object the alerts file
// writes on one line (the keys the package doc lists, with msg, ts, hull and
// fids), with Content-Type application/json.
//
// The engine calls Notify synchronously and retries a failed event on a later
// evaluation, so Notify retries only briefly: a connection error, a timeout, 429
// or a 5xx is retried with backoff up to MaxRetries times, within twice Timeout
// in all; any other status outside 2xx (a redirect too) fails at once. Every
// failure is returned, and the event is delivered again later: receivers should
// deduplicate on transition_id. It is safe for concurrent use.
type Webhook struct {
	url     string
	name    string // the URL without its path, query and user: those may hold secrets
	opt     WebhookOptions
	client  *http.Client
	headers http.Header
}

var _ monitor.Notifier = (*Webhook)(nil)

// NewWebhook returns a sink that posts to rawURL, an http or https URL.
func NewWebhook(rawURL string, opt WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a secret
		}
		return nil, fmt.Errorf("sink: webhook url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sink: webhook url %s: want an http or https URL", redact(u))
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultWebhookTimeout
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = DefaultWebhookMaxRetries
	} else if opt.MaxRetries < 0 {
		opt.MaxRetries = 0
	}
	if opt.Backoff <= 0 {
		opt.Backoff = DefaultWebhookBackoff
	}
	if opt.UserAgent == "" {
		opt.UserAgent = "geowatch/" + monitor.Version()
	}
	client := opt.Client
	if client == nil {
		client = &http.Client{
			// A redirected POST becomes a GET: report it rather than follow it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", opt.UserAgent)
	for k, v := range opt.Headers {
		h.Set(k, v)
	}
	return &Webhook{url: rawURL, name: "webhook:" + redact(u), opt: opt, client: client, headers: h}, nil
}

// redact keeps a URL's scheme and host: a webhook's path or query often is its
// secret (Slack's, Teams'), and Name goes into logs.
func redact(u *url.URL) string { return u.Scheme + "://" + u.Host }

// Name returns "webhook:" and the URL's scheme and host.
func (s *Webhook) Name() string { return s.name }

// StatusError is a webhook's answer outside 2xx.
type StatusError struct {
	Code int
	Body string // the start of the response body, for the log
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("status %d %s", e.Code, http.StatusText(e.Code))
	}
	return fmt.Sprintf("status %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// Temporary reports whether the status is worth retrying: 429 and 5xx.
func (e *StatusError) Temporary() bool {
	return e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// Notify posts ev, retrying as the type's doc says.
func (s *Webhook) Notify(ctx context.Context, ev monitor.Event) error {
	body, err := eventJSON(ev)
	if err != nil {
		return fmt.Errorf("sink: %s: %w", s.name, err)
	}
	deadline := time.Now().Add(2 * s.opt.Timeout)
	wait := s.opt.Backoff
	for attempt := 0; ; attempt++ {
		retryAfter, err := s.post(ctx, body, min(s.opt.Timeout, time.Until(deadline)))
		if err == nil {
			return nil
		}
		var se *StatusError
		retry := !errors.As(err, &se) || se.Temporary()
		if ctx.Err() != nil || !retry || attempt >= s.opt.MaxRetries {
			return fmt.Errorf("sink: %s: transition %d: %w", s.name, ev.Transition.ID, err)
		}
		wait = max(wait, retryAfter)
		if time.Until(deadline) <= wait {
			return fmt.Errorf("sink: %s: transition %d: %w (giving up after %d attempts)", s.name, ev.Transition.ID, err, attempt+1)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sink: %s: transition %d: %w", s.name, ev.Transition.ID, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
}

// maxErrorBody is how much of a refusing response's body goes into the error.
const maxErrorBody = 256

// post makes one attempt. It returns the Retry-After of a 429 or 503, if any.
func (s *Webhook) post(ctx context.Context, body []byte, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = s.headers.Clone()
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = s.name[len("webhook:"):] // it names the full URL otherwise
		}
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Read a little, so that the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) //nolint:errcheck // delivered already
		return 0, nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	se := &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(strings.ToValidUTF8(string(snippet), ""))}
	return retryAfter(resp.Header.Get("Retry-After")), se
}

// retryAfter reads a Retry-After header in seconds; dates and junk count as none.
func retryAfter(h string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
