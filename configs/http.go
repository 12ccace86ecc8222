package configs

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/geowatch/geowatch/monitor/source/geojson"
)

// HTTPConfig is the http block. Without it geowatch opens no port; with it (even
// `http: {}`) one listener serves /healthz, /readyz, /metrics and, when a source
// of type push is configured, POST /v1/observations.
type HTTPConfig struct {
	// Listen is host:port; default 127.0.0.1:8080. Anything but a loopback
	// address (such as ":8080" or "0.0.0.0:8080") requires token_file when a
	// push source is configured.
	Listen string `yaml:"listen"`
	// TokenFile holds the bearer token push requests must carry, read at start
	// and on reload; surrounding whitespace is trimmed and it must not be empty.
	TokenFile string `yaml:"token_file"`
	// MaxBody caps a push request's body, such as "8MiB" (default) or "512KiB".
	MaxBody string `yaml:"max_body"`
	// Rate is the push requests per second allowed per client IP (default 10;
	// 0 disables the limit) and Burst the bucket size (default 20).
	Rate  *float64 `yaml:"rate"`
	Burst *int     `yaml:"burst"`
	// MaxInFlight caps the push requests being read or stored at once
	// (default 32); past it a request gets 503 with Retry-After at once.
	MaxInFlight int `yaml:"max_in_flight"`
	// BodyTimeout bounds how long a push body may take to arrive (default
	// 30s); a slower sender gets 408.
	BodyTimeout string `yaml:"body_timeout"`
	// WriteWait bounds how long a push waits for the database's writer
	// (default 5s); past it, 503 with Retry-After and nothing stored.
	WriteWait string `yaml:"write_wait"`
	// MetricsAuth is who may read /metrics and /readyz: "none" (anyone) or
	// "token" (the push bearer token). Default: "token" when token_file is set
	// and listen is not a loopback address, else "none".
	MetricsAuth string `yaml:"metrics_auth"`
}

// Defaults of the http block.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultMaxBodyBytes = 8 << 20
	DefaultPushRate     = 10
	DefaultPushBurst    = 20
	DefaultMaxInFlight  = 32
	DefaultBodyTimeout  = 30 * time.Second
	DefaultWriteWait    = 5 * time.Second
)

// ErrNoToken is a push endpoint reachable beyond this host without a token.
var ErrNoToken = errors.New("push endpoint on a non-loopback address needs http.token_file")

// HTTP is the validated http block.
type HTTP struct {
	Listen       string
	Token        string // "" when no token_file: push requests are not authenticated
	MaxBodyBytes int64
	Rate         float64 // requests/s per client; 0: unlimited
	Burst        int
	MaxInFlight  int
	BodyTimeout  time.Duration
	WriteWait    time.Duration
	// MetricsToken, when set, is the bearer token /metrics and /readyz need.
	MetricsToken bool
}

// Push is the validated push source: the name its records are stored under and
// how its features are read.
type Push struct {
	Source  string
	GeoJSON geojson.Options
}

func (b *builder) http(c *HTTPConfig) {
	if c == nil {
		return
	}
	h := &HTTP{Listen: c.Listen, MaxBodyBytes: DefaultMaxBodyBytes, Rate: DefaultPushRate, Burst: DefaultPushBurst,
		MaxInFlight: DefaultMaxInFlight}
	if h.Listen == "" {
		h.Listen = DefaultListen
	}
	if _, port, err := net.SplitHostPort(h.Listen); err != nil {
		b.fail("http.listen", h.Listen, err)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		b.fail("http.listen", h.Listen, fmt.Errorf("port %q: want a number from 0 to 65535", port))
	}
	if c.TokenFile != "" {
		data, err := os.ReadFile(c.TokenFile)
		switch tok := strings.TrimSpace(string(data)); {
		case err != nil:
			b.fail("http.token_file", nil, err)
		case tok == "":
			b.fail("http.token_file", c.TokenFile, errors.New("empty token"))
		default:
			h.Token = tok
		}
	}
	if c.MaxBody != "" {
		n, err := ParseSize(c.MaxBody)
		switch {
		case err != nil:
			b.fail("http.max_body", nil, err)
		case n <= 0:
			b.fail("http.max_body", c.MaxBody, ErrNotPositive)
		default:
			h.MaxBodyBytes = n
		}
	}
	if c.Rate != nil {
		if r := *c.Rate; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			b.fail("http.rate", r, errors.New("must be a finite number of requests per second, 0 or more"))
		}
		h.Rate = *c.Rate
	}
	if c.Burst != nil {
		if *c.Burst <= 0 {
			b.fail("http.burst", *c.Burst, ErrNotPositive)
		}
		h.Burst = *c.Burst
	}
	if c.MaxInFlight < 0 {
		b.fail("http.max_in_flight", c.MaxInFlight, ErrNotPositive)
	} else if c.MaxInFlight > 0 {
		h.MaxInFlight = c.MaxInFlight
	}
	h.BodyTimeout = b.duration("http.body_timeout", c.BodyTimeout, DefaultBodyTimeout)
	h.WriteWait = b.duration("http.write_wait", c.WriteWait, DefaultWriteWait)
	switch c.MetricsAuth {
	case "":
		h.MetricsToken = h.Token != "" && !loopback(h.Listen)
	case "none":
	case "token":
		if h.Token == "" {
			b.fail("http.metrics_auth", c.MetricsAuth, errors.New("needs http.token_file"))
		}
		h.MetricsToken = true
	default:
		b.fail("http.metrics_auth", c.MetricsAuth, errors.New(`want "none" or "token"`))
	}
	b.plan.HTTP = h
}

// pushSource records the push source at path; it has no schedule, no timeout
// and no location, only a name and the GeoJSON mapping.
func (b *builder) pushSource(path string, s SourceConfig) {
	for field, set := range map[string]bool{
		"schedule": s.Schedule != "", "timeout": s.Timeout != "", "url": s.URL != "",
		"dir": s.Dir != "", "file": s.File != "", "lead": s.Lead != "",
		"min_confidence": s.MinConfidence != nil, "max_places": s.MaxPlaces != nil,
		"preset": s.Preset != "", "delimiter": s.Delimiter != "", "header": s.Header != nil,
		"columns": s.Columns != nil, "min_columns": s.MinColumns != 0, "lazy_quotes": s.LazyQuotes,
		"precisions": s.Precisions != nil, "keep_row": s.KeepRow,
	} {
		if set {
			b.fail(path+"."+field, nil, fmt.Errorf("%w (push: records arrive by POST)", ErrNotApplied))
		}
	}
	opt := b.geojsonOptions(path, s)
	if b.pushPath != "" {
		b.fail(path+".type", s.Type, fmt.Errorf("%w: only one push source (also at %s)", ErrDuplicate, b.pushPath))
		return
	}
	b.pushPath = path
	b.plan.Push = &Push{Source: s.Name, GeoJSON: opt}
}

// checkPush checks what the push source needs of the http block, once both
// are read.
func (b *builder) checkPush() {
	if b.plan.Push == nil {
		return
	}
	h := b.plan.HTTP
	if h == nil {
		b.fail(b.pushPath+".type", "push", fmt.Errorf("%w: a push source needs the http block", ErrRequired))
		b.plan.Push = nil
		return
	}
	if h.Token == "" && !loopback(h.Listen) {
		b.fail("http.listen", h.Listen, ErrNoToken)
	}
}

// loopback reports whether addr (host:port) listens on this host only. An empty
// host or an unspecified address listens everywhere, and a name other than
// localhost may resolve anywhere, so those are not.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// ParseSize reads a byte size: a number with an optional unit, B, KB, MB, GB
// (powers of 1000) or KiB, MiB, GiB (powers of 1024), such as "8MiB" or "512 KiB".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("size %q: want a number and a unit such as 8MiB", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
	}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (want B, KB, MB, GB, KiB, MiB or GiB)", s, unit)
	}
	v := f * mult
	if v >= 1<<62 {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return int64(v), nil
}
