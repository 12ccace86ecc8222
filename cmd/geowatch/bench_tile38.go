package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/geowatch/geowatch/store/sqlite"
)

// tile38Key is the collection the bench loads into a Tile38 server; it is dropped
// first, so a rerun starts empty.
const tile38Key = "geowatch-bench"

// tile38Runs is how many one-shot processes of each side "Q from outside" times.
const tile38Runs = 20

// tile38Peer is what benchTile38 compares Tile38 with: geowatch's figures from
// the same run and where it found the rows.
type tile38Peer struct {
	addr     string           // host:port of a running tile38-server; empty: no comparison
	workload string           // the workload CSV (empty: generate it into dir)
	dir      string           // scratch directory
	dbPath   string           // the geowatch database holding the workload, for `geowatch query`
	batch    int              // rows per pipelined batch, as geowatch's transactions
	queries  int              // runs of Q
	loadRate float64          // geowatch's load in obs/s (0: not measured in this run)
	qMedian  time.Duration    // geowatch's in-process Q median
	http     *httpQueryClient // Q over HTTP, to geowatch's read API and to Tile38's
}

// benchTile38 loads the workload's rows into the Tile38 server at p.addr with
// pipelined SETs (a FIELD t holds the time in Unix seconds), asks question Q as
// WITHIN … WHERE t … COUNT CIRCLE and checks the answer, times Q as one-shot
// processes of tile38-cli and `geowatch query`, and prints geowatch's figures as
// ratios of Tile38's. It does nothing when p.addr is empty. Tile38's AOF is
// whatever the server runs with; the output says whether it grew.
func benchTile38(ctx context.Context, p tile38Peer, stdout, stderr io.Writer) error {
	if p.addr == "" {
		return nil
	}
	if p.workload == "" {
		var err error
		if p.workload, err = generateWorkload(ctx, p.dir, stderr); err != nil {
			return err
		}
	}
	rows, err := ceilingRows(p.workload)
	if err != nil {
		return err
	}
	c, err := dialRESP(ctx, p.addr)
	if err != nil {
		return fmt.Errorf("bench: tile38: %w", err)
	}
	defer c.Close()
	if _, err := c.do("DROP", tile38Key); err != nil {
		return fmt.Errorf("bench: tile38 %s: %w", p.addr, err)
	}
	aof0, err := tile38AOFSize(c)
	if err != nil {
		return fmt.Errorf("bench: tile38 %s: %w", p.addr, err)
	}

	took, err := tile38Load(c, rows, p.batch)
	if err != nil {
		return fmt.Errorf("bench: tile38 %s: load: %w", p.addr, err)
	}
	aof1, err := tile38AOFSize(c)
	if err != nil {
		return fmt.Errorf("bench: tile38 %s: %w", p.addr, err)
	}
	aof := "AOF off"
	if aof1 > aof0 {
		aof = fmt.Sprintf("AOF on, +%.0f MB", float64(aof1-aof0)/1e6)
	}
	rate := float64(len(rows)) / took.Seconds()
	fmt.Fprintf(stdout, "tile38    load %d observations in %.2f s: %.0f SET/s (pipelined, %d-command batches, %s)\n",
		len(rows), took.Seconds(), rate, p.batch, aof)

	q := tile38Q()
	lat := make([]time.Duration, 0, p.queries)
	for range p.queries {
		start := time.Now()
		v, err := c.do(q...)
		lat = append(lat, time.Since(start))
		if err != nil {
			return fmt.Errorf("bench: tile38 %s: Q: %w", p.addr, err)
		}
		if v.kind != ':' || v.n != 146 {
			return fmt.Errorf("bench: tile38 %s: Q answered %s, want 146", p.addr, v)
		}
	}
	slices.Sort(lat)
	tq := lat[len(lat)/2]
	fmt.Fprintf(stdout, "tile38    query Q 146 observations; median %.3f ms, p99 %.3f ms over %d runs (WITHIN %s WHERE t COUNT CIRCLE, client side)\n",
		ms(tq), ms(lat[len(lat)*99/100]), len(lat), tile38Key)

	if p.loadRate > 0 {
		fmt.Fprintf(stdout, "load      geowatch %.0f obs/s: %.2f× Tile38's SET rate\n", p.loadRate, p.loadRate/rate)
	} else {
		fmt.Fprintln(stdout, "load      geowatch not loaded in this run: no ratio against Tile38")
	}
	fmt.Fprintf(stdout, "query Q   geowatch median %.3f ms: %.2f× Tile38's %.3f ms (lower is faster)\n", ms(p.qMedian), ms(p.qMedian)/ms(tq), ms(tq))
	return tile38Outside(ctx, p, stdout)
}

// tile38Load sends SET key id FIELD t UNIX POINT lat lon for every row, batch
// commands at a time: a goroutine writes a batch while this one reads its
// replies, so neither side's socket buffer can fill and stall the other.
func tile38Load(c *respConn, rows []sqlite.CeilingRow, batch int) (time.Duration, error) {
	// Times are parsed before the clock, as the ceilings' rows are staged.
	secs := make([]string, len(rows))
	for i, r := range rows {
		t, err := time.Parse(time.RFC3339, r.Time)
		if err != nil {
			return 0, fmt.Errorf("row %d (%s): time: %w", i+1, r.ID, err)
		}
		secs[i] = strconv.FormatInt(t.Unix(), 10)
	}
	start := time.Now()
	for lo := 0; lo < len(rows); lo += batch {
		part := rows[lo:min(lo+batch, len(rows))]
		done := make(chan error, 1)
		go func() {
			for i, r := range part {
				c.send("SET", tile38Key, r.ID, "FIELD", "t", secs[lo+i], "POINT",
					strconv.FormatFloat(r.Lat, 'f', -1, 64), strconv.FormatFloat(r.Lon, 'f', -1, 64))
			}
			done <- c.w.Flush()
		}()
		var rerr error
		for i := range part {
			if _, err := c.receive(); err != nil && rerr == nil {
				rerr = fmt.Errorf("SET %s: %w", part[i].ID, err)
				if !errors.As(err, new(respError)) {
					c.Close() // out of step with the server: end the writer too
					break
				}
			}
		}
		if err := <-done; err != nil {
			return 0, err
		}
		if rerr != nil {
			return 0, rerr
		}
	}
	return time.Since(start), nil
}

// tile38Q is question Q as Tile38 asks it: within 50 km of Vladivostok, t in
// [2026-11-26, 2026-11-27).
func tile38Q() []string {
	return []string{"WITHIN", tile38Key, "WHERE", "t", strconv.FormatInt(benchSince.Unix(), 10), "(" + strconv.FormatInt(benchUntil.Unix(), 10),
		"COUNT", "CIRCLE", strconv.FormatFloat(benchCenter.Lat(), 'f', -1, 64), strconv.FormatFloat(benchCenter.Lon(), 'f', -1, 64), "50000"}
}

// tile38AOFSize reads aof_size from SERVER's reply (name, value pairs).
func tile38AOFSize(c *respConn) (int64, error) {
	v, err := c.do("SERVER")
	if err != nil {
		return 0, fmt.Errorf("SERVER: %w", err)
	}
	for i := 0; i+1 < len(v.elems); i += 2 {
		if v.elems[i].str == "aof_size" {
			return strconv.ParseInt(v.elems[i+1].str, 10, 64)
		}
	}
	return 0, fmt.Errorf("SERVER: no aof_size in %s", v)
}

// tile38Outside times Q from outside each side. Over HTTP, from one
// keep-alive client, alternating: geowatch's GET /v1/observations (the rows)
// and Tile38's HTTP interface (a count). As whole processes, alternating:
// tile38-cli (from $TILE38_CLI or PATH) against the server, and `geowatch
// query` over the database; skipped, saying so, without a tile38-cli. The
// goal's reference is tile38-cli, and geowatch over HTTP is compared with it
// too.
func tile38Outside(ctx context.Context, p tile38Peer, stdout io.Writer) error {
	var gh, th []time.Duration
	for range p.queries {
		d, err := p.http.tile38(ctx, p.addr)
		if err != nil {
			return err
		}
		th = append(th, d)
		if d, err = p.http.geowatch(ctx); err != nil {
			return err
		}
		gh = append(gh, d)
	}
	slices.Sort(gh)
	slices.Sort(th)
	httpQ := gh[len(gh)/2]
	fmt.Fprintf(stdout, "Q HTTP    geowatch GET /v1/observations %.3f ms (%d rows), Tile38 HTTP %.3f ms (a count) (medians of %d requests each, alternating): %.2f× (lower is faster)\n",
		ms(httpQ), p.http.want, ms(th[len(th)/2]), len(gh), ms(httpQ)/ms(th[len(th)/2]))

	cli := os.Getenv("TILE38_CLI")
	if cli == "" {
		var err error
		if cli, err = exec.LookPath("tile38-cli"); err != nil {
			fmt.Fprintln(stdout, "Q outside skipped: no tile38-cli on PATH or in $TILE38_CLI")
			return nil
		}
	}
	host, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		return fmt.Errorf("bench: --tile38 %q: %w", p.addr, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	t38 := append([]string{"-h", host, "-p", port}, tile38Q()...)
	gw := []string{"query", "--db", p.dbPath, "--format", "ndjson",
		"--near", fmt.Sprintf("%v,%v", benchCenter.Lat(), benchCenter.Lon()), "--radius", "50km",
		"--since", benchSince.Format(time.RFC3339), "--until", benchUntil.Format(time.RFC3339)}
	var tt, gt []time.Duration
	for range tile38Runs {
		d, out, err := timeProcess(ctx, cli, t38...)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", cli, err)
		}
		if !bytes.Contains(out, []byte(`"count":146,`)) {
			return fmt.Errorf("bench: %s answered %q, want a count of 146", cli, bytes.TrimSpace(out))
		}
		tt = append(tt, d)
		d, out, err = timeProcess(ctx, exe, gw...)
		if err != nil {
			return fmt.Errorf("bench: geowatch query: %w", err)
		}
		if n := bytes.Count(out, []byte("\n")); n != 146 {
			return fmt.Errorf("bench: geowatch query printed %d observations, want 146", n)
		}
		gt = append(gt, d)
	}
	slices.Sort(tt)
	slices.Sort(gt)
	g, t := gt[len(gt)/2], tt[len(tt)/2]
	_, err = fmt.Fprintf(stdout, "Q outside geowatch query %.1f ms, tile38-cli %.1f ms (medians of %d processes each): %.2f×; geowatch over HTTP %.3f ms: %.2f× tile38-cli (lower is faster)\n",
		ms(g), ms(t), tile38Runs, ms(g)/ms(t), ms(httpQ), ms(httpQ)/ms(t))
	return err
}

// timeProcess runs name with args to completion and returns how long it took and
// its standard output.
func timeProcess(ctx context.Context, name string, args ...string) (time.Duration, []byte, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s", err, bytes.TrimSpace(errOut.Bytes()))
	}
	return took, out.Bytes(), nil
}

// respConn is a client connection speaking RESP (the Redis protocol, which
// Tile38 serves): commands go out as arrays of bulk strings, and replies are
// read one at a time, so that commands can be pipelined.
type respConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func dialRESP(ctx context.Context, addr string) (*respConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &respConn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), w: bufio.NewWriterSize(conn, 64<<10)}, nil
}

func (c *respConn) Close() error { return c.conn.Close() }

// send buffers one command; a write error is kept by the writer and returned by
// its Flush.
func (c *respConn) send(args ...string) {
	c.w.WriteByte('*')
	c.w.WriteString(strconv.Itoa(len(args)))
	c.w.WriteString("\r\n")
	for _, a := range args {
		c.w.WriteByte('$')
		c.w.WriteString(strconv.Itoa(len(a)))
		c.w.WriteString("\r\n")
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
}

// do sends one command and reads its reply.
func (c *respConn) do(args ...string) (respValue, error) {
	c.send(args...)
	if err := c.w.Flush(); err != nil {
		return respValue{}, err
	}
	return c.receive()
}

// respValue is one RESP reply: a simple string (+), integer (:), bulk string ($,
// null when null is set) or array (*). Error replies (-) are returned as
// respError instead.
type respValue struct {
	kind  byte
	str   string
	n     int64
	null  bool
	elems []respValue
}

func (v respValue) String() string {
	switch {
	case v.null:
		return "(nil)"
	case v.kind == ':':
		return strconv.FormatInt(v.n, 10)
	case v.kind == '*':
		s := make([]string, len(v.elems))
		for i, e := range v.elems {
			s[i] = e.String()
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	return strconv.Quote(v.str)
}

// respError is an error reply from the server, such as "ERR unknown command".
type respError string

func (e respError) Error() string { return string(e) }

// receive reads one reply.
func (c *respConn) receive() (respValue, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return respValue{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return respValue{}, fmt.Errorf("resp: malformed reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return respValue{kind: kind, str: body}, nil
	case '-':
		return respValue{}, respError(body)
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return respValue{}, fmt.Errorf("resp: integer %q: %w", body, err)
		}
		return respValue{kind: kind, n: n}, nil
	case '$', '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return respValue{}, fmt.Errorf("resp: length %q", line[:len(line)-2])
		}
		v := respValue{kind: kind, null: n < 0}
		if kind == '$' {
			if n >= 0 {
				b := make([]byte, n+2)
				if _, err := io.ReadFull(c.r, b); err != nil {
					return respValue{}, fmt.Errorf("resp: bulk string: %w", err)
				}
				if string(b[n:]) != "\r\n" {
					return respValue{}, errors.New("resp: bulk string not ended by CRLF")
				}
				v.str = string(b[:n])
			}
			return v, nil
		}
		for range max(n, 0) {
			e, err := c.receive()
			if err != nil {
				return respValue{}, err
			}
			v.elems = append(v.elems, e)
		}
		return v, nil
	}
	return respValue{}, fmt.Errorf("resp: unknown reply type %q", kind)
}
