package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
)

// httpQueryClient asks question Q over HTTP, from one client that keeps its
// connection open, as a dashboard or a script polling the daemon would: of
// geowatch's GET /v1/observations, served by the daemon's own read handler on
// a loopback listener of this process over a read-only handle on the bench's
// database, and of a Tile38 server's HTTP interface.
type httpQueryClient struct {
	st     *sqlite.DB
	srv    *http.Server
	url    string // geowatch's Q, ndjson
	client *http.Client
	want   int // Q's answer in the store
	buf    bytes.Buffer
}

// startHTTPQuery serves the daemon's read API for the database at dbPath on
// 127.0.0.1 and returns a client for it, which checks that each answer to Q
// has want rows; Close stops both.
func startHTTPQuery(ctx context.Context, dbPath string, want int) (*httpQueryClient, error) {
	cfg, err := configs.Parse(fmt.Appendf(nil, "database: %q\n", dbPath))
	if err != nil {
		return nil, err
	}
	plan, err := cfg.Build()
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, dbPath, store.ReadOnly())
	if err != nil {
		return nil, err
	}
	engine, err := monitor.NewEngine(ctx, st, zap.NewNop())
	if err != nil {
		st.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		return nil, err
	}
	h := &httpQueryClient{
		st:  st,
		srv: &http.Server{Handler: newMapAPI(plan, st, engine, zap.NewNop()).handler(), ReadHeaderTimeout: readTimeout},
		url: "http://" + ln.Addr().String() + "/v1/observations?" + url.Values{
			"near":   {fmt.Sprintf("%v,%v", benchCenter.Lat(), benchCenter.Lon())},
			"radius": {"50km"},
			"since":  {benchSince.Format(time.RFC3339)},
			"until":  {benchUntil.Format(time.RFC3339)},
			"format": {"ndjson"},
		}.Encode(),
		client: &http.Client{Timeout: readTimeout},
		want:   want,
	}
	go h.srv.Serve(ln) //nolint:errcheck // ends with Close
	return h, nil
}

func (h *httpQueryClient) Close() error {
	h.client.CloseIdleConnections()
	return errors.Join(h.srv.Close(), h.st.Close())
}

// get times one GET of u and returns the body, read to its end.
func (h *httpQueryClient) get(ctx context.Context, u string) (time.Duration, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	h.buf.Reset()
	_, err = h.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(h.buf.Bytes()))
	}
	return took, h.buf.Bytes(), err
}

// geowatch times Q over geowatch's endpoint and checks its row count.
func (h *httpQueryClient) geowatch(ctx context.Context) (time.Duration, error) {
	d, body, err := h.get(ctx, h.url)
	if err != nil {
		return 0, fmt.Errorf("bench: GET /v1/observations: %w", err)
	}
	if n := bytes.Count(body, []byte("\n")); n != h.want {
		return 0, fmt.Errorf("bench: GET /v1/observations answered %d observations, want %d", n, h.want)
	}
	return d, nil
}

// tile38 times Q over the HTTP interface of the Tile38 server at addr, whose
// path is the command's arguments joined by '+', and checks its count.
func (h *httpQueryClient) tile38(ctx context.Context, addr string) (time.Duration, error) {
	args := tile38Q()
	for i, a := range args {
		args[i] = url.PathEscape(a)
	}
	d, body, err := h.get(ctx, "http://"+addr+"/"+strings.Join(args, "+"))
	if err != nil {
		return 0, fmt.Errorf("bench: tile38 %s over HTTP: %w", addr, err)
	}
	if !bytes.Contains(body, fmt.Appendf(nil, `"count":%d,`, h.want)) {
		return 0, fmt.Errorf("bench: tile38 %s over HTTP answered %q, want a count of %d", addr, bytes.TrimSpace(body), h.want)
	}
	return d, nil
}

// benchHTTPQuery times Q over geowatch's endpoint n times and prints the
// median and p99, client side; it returns the median.
func benchHTTPQuery(ctx context.Context, h *httpQueryClient, n int, stdout io.Writer) (time.Duration, error) {
	lat := make([]time.Duration, 0, n)
	for range n {
		d, err := h.geowatch(ctx)
		if err != nil {
			return 0, err
		}
		lat = append(lat, d)
	}
	slices.Sort(lat)
	_, err := fmt.Fprintf(stdout, "query Q   over HTTP: GET /v1/observations %d rows as ndjson; median %.3f ms, p99 %.3f ms over %d requests (one keep-alive client, client side)\n",
		h.want, ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), len(lat))
	return lat[len(lat)/2], err
}
