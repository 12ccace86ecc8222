// Package httpfeed fetches the input of a URL-based source: an http(s) URL or a
// file on disk. Over HTTP it sends geowatch's User-Agent, makes conditional
// requests from the ETag and Last-Modified it remembers per URL, lets the
// transport undo gzip, caps the body, and turns a non-2xx status into a
// *StatusError that keeps Retry-After for backoff.
//
// It imports only the standard library.
package httpfeed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for Options' zero values.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultMaxBytes = 256 << 20
	DefaultVersion  = "dev"
)

// Sentinel errors that Fetch wraps with the URL.
var (
	// ErrNotModified means the input has not changed since the response last
	// passed to Remember: the server answered 304, or the file's size and
	// modification time are the same.
	ErrNotModified = errors.New("not modified")
	// ErrTooLarge means the body, after gzip decoding, exceeds Options.MaxBytes.
	ErrTooLarge = errors.New("body exceeds size limit")
)

// StatusError is a response whose status is not 2xx (nor 304).
type StatusError struct {
	URL        string
	StatusCode int    // 503
	Status     string // "503 Service Unavailable"
	// RetryAfter is the Retry-After header as sent (delay-seconds or an HTTP
	// date), empty if absent; RetryDelay interprets it.
	RetryAfter string
}

func (e *StatusError) Error() string {
	if e.RetryAfter != "" {
		return fmt.Sprintf("status %s (retry after %s)", e.Status, e.RetryAfter)
	}
	return "status " + e.Status
}

// RetryDelay returns how long after now the server asked us to wait before
// retrying, and whether it asked at all. A date in the past gives zero.
func (e *StatusError) RetryDelay(now time.Time) (time.Duration, bool) {
	s := strings.TrimSpace(e.RetryAfter)
	if s == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Cap before multiplying so a silly value cannot overflow the duration.
		return time.Duration(min(secs, int64(365*24*time.Hour/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Options configure a Fetcher; zero values take the defaults.
type Options struct {
	// Timeout bounds one HTTP exchange, body included (default 30 s).
	Timeout time.Duration
	// Version goes into the User-Agent "geowatch/<version> (+https://github.com/geowatch/geowatch)"
	// (default "dev").
	Version string
	// MaxBytes caps a body after gzip decoding (default 256 MiB).
	MaxBytes int64
	// Transport carries the requests (default http.DefaultTransport). A custom
	// one must decode gzip itself as http.Transport does, or the cap applies
	// to the compressed bytes.
	Transport http.RoundTripper
}

// Fetcher reads a source's input. It is safe for concurrent use. It remembers
// validators per target, so two sources reading the same target need a Fetcher
// each, or one would see 304s for what the other fetched; Fetchers cost little,
// and all of them pool connections in http.DefaultTransport unless
// Options.Transport says otherwise.
type Fetcher struct {
	client    *http.Client
	userAgent string
	maxBytes  int64

	mu         sync.Mutex
	validators map[string]validators // by target as passed to Fetch
}

// validators are what makes the next fetch of a target conditional.
type validators struct {
	etag, lastModified string // HTTP headers as the server sent them
	file               string // a file's size and modification time
}

// New returns a Fetcher with opt's settings.
func New(opt Options) *Fetcher {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Version == "" {
		opt.Version = DefaultVersion
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	return &Fetcher{
		// The default transport asks for gzip and decodes it only because we
		// never set Accept-Encoding ourselves; the body cap then applies to the
		// decoded bytes, so a small gzip bomb cannot fill memory.
		client:     &http.Client{Timeout: opt.Timeout, Transport: opt.Transport},
		userAgent:  "geowatch/" + opt.Version + " (+https://github.com/geowatch/geowatch)",
		maxBytes:   opt.MaxBytes,
		validators: make(map[string]validators),
	}
}

// UserAgent returns the User-Agent header the fetcher sends.
func (f *Fetcher) UserAgent() string { return f.userAgent }

// Response is a fetched input.
type Response struct {
	// Target is the URL or path as passed to Fetch.
	Target string
	Body   []byte
	v      validators
}

// Fetch reads target, an http(s) URL, a file:// URL or a file path. It returns
// an error wrapping ErrNotModified when the input is unchanged since the last
// response given to Remember, ErrTooLarge, or a *StatusError; every error names
// target.
func (f *Fetcher) Fetch(ctx context.Context, target string) (*Response, error) {
	var (
		r   *Response
		err error
	)
	switch path, isFile, perr := filePath(target); {
	case perr != nil:
		err = perr
	case isFile:
		r, err = f.fetchFile(ctx, target, path)
	default:
		r, err = f.fetchHTTP(ctx, target)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", target, err)
	}
	return r, nil
}

// Remember records r's validators so that the next Fetch of the same target is
// conditional. Sources call it only once the body has been delivered, so that
// a batch the store failed to take is fetched again rather than skipped as
// not modified.
func (f *Fetcher) Remember(r *Response) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.v == (validators{}) {
		delete(f.validators, r.Target)
		return
	}
	f.validators[r.Target] = r.v
}

func (f *Fetcher) remembered(target string) validators {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.validators[target]
}

// filePath tells a file target from an HTTP one and returns its path.
func filePath(target string) (path string, isFile bool, err error) {
	u, err := url.Parse(target)
	if err != nil {
		// Not a URL, so a path: "a b%zz.geojson" is a fine file name.
		return target, true, nil
	}
	switch strings.ToLower(u.Scheme) {
	case "":
		return target, true, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", false, fmt.Errorf("file URL with remote host %q", u.Host)
		}
		return u.Path, true, nil
	case "http", "https":
		return "", false, nil
	}
	return "", false, fmt.Errorf("unsupported scheme %q (want http, https, file or a path)", u.Scheme)
}

func (f *Fetcher) fetchHTTP(ctx context.Context, target string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.userAgent)
	if v := f.remembered(target); v.etag != "" || v.lastModified != "" {
		if v.etag != "" {
			req.Header.Set("If-None-Match", v.etag)
		}
		if v.lastModified != "" {
			req.Header.Set("If-Modified-Since", v.lastModified)
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return nil, ErrNotModified
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		// Drain a little so the connection can be reused for the next pull.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		return nil, &StatusError{
			URL:        target,
			StatusCode: resp.StatusCode,
			Status:     resp.Status,
			RetryAfter: resp.Header.Get("Retry-After"),
		}
	}
	if resp.ContentLength > f.maxBytes {
		return nil, fmt.Errorf("%w: Content-Length %d > %d", ErrTooLarge, resp.ContentLength, f.maxBytes)
	}
	body, err := f.readCapped(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Target: target, Body: body, v: validators{
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
	}}, nil
}

func (f *Fetcher) fetchFile(ctx context.Context, target, path string) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	if fi.Size() > f.maxBytes {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, fi.Size(), f.maxBytes)
	}
	v := validators{file: fmt.Sprintf("%d@%d", fi.Size(), fi.ModTime().UnixNano())}
	if f.remembered(target) == v {
		return nil, ErrNotModified
	}
	body, err := f.readCapped(fh)
	if err != nil {
		return nil, err
	}
	return &Response{Target: target, Body: body, v: v}, nil
}

// readCapped reads r to the end, failing with ErrTooLarge past the cap.
func (f *Fetcher) readCapped(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, f.maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > f.maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, f.maxBytes)
	}
	return body, nil
}
