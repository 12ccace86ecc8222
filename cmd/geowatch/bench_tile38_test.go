package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/geowatch/geowatch/store/sqlite"
)

// respServer listens on 127.0.0.1 and answers each command read from the
// connection with reply(args); it returns the address. It is the RESP half of
// a Tile38 server, for the client's encoding and pipelining: the bench itself
// is run against a real Tile38 by .ci/bench.
func respServer(t *testing.T, reply func(args []string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			w.WriteString(reply(args))
			if r.Buffered() == 0 { // the end of what the client pipelined so far
				if w.Flush() != nil {
					return
				}
			}
		}
	}()
	return ln.Addr().String()
}

// readCommand reads one command as clients send it: an array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	readLen := func(prefix byte) (int, error) {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if line[0] != prefix || !strings.HasSuffix(line, "\r\n") {
			return 0, errors.New("bad line " + strconv.Quote(line))
		}
		return strconv.Atoi(line[1 : len(line)-2])
	}
	n, err := readLen('*')
	if err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		m, err := readLen('$')
		if err != nil {
			return nil, err
		}
		b := make([]byte, m+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:m])
	}
	return args, nil
}

func TestRESPReplies(t *testing.T) {
	replies := map[string]string{
		"OK":      "+OK\r\n",
		"COUNT":   ":146\r\n",
		"BULK":    "$12\r\nhello\r\nworld\r\n",
		"EMPTY":   "$0\r\n\r\n",
		"NIL":     "$-1\r\n",
		"SERVER":  "*4\r\n$8\r\naof_size\r\n$3\r\n100\r\n$2\r\nid\r\n*2\r\n:1\r\n$1\r\nx\r\n",
		"BADCMD":  "-ERR unknown command 'BADCMD'\r\n",
		"GARBAGE": "?what\r\n",
	}
	var mu sync.Mutex // the server's goroutine appends, the test reads
	var seen [][]string
	addr := respServer(t, func(args []string) string {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, args)
		return replies[args[0]]
	})
	c, err := dialRESP(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct{ cmd, want string }{
		{"OK", `"OK"`}, {"COUNT", "146"}, {"BULK", `"hello\r\nworld"`}, {"EMPTY", `""`}, {"NIL", "(nil)"},
		{"SERVER", `["aof_size" "100" "id" [1 "x"]]`},
	} {
		v, err := c.do(tc.cmd, "a b", "")
		if err != nil || v.String() != tc.want {
			t.Errorf("%s: got %v, %v; want %s", tc.cmd, v, err, tc.want)
		}
	}
	if n, err := tile38AOFSize(c); err != nil || n != 100 {
		t.Errorf("tile38AOFSize: %d, %v; want 100", n, err)
	}
	if _, err := c.do("BADCMD"); !errors.As(err, new(respError)) || err.Error() != "ERR unknown command 'BADCMD'" {
		t.Errorf("error reply: got %v", err)
	}
	if _, err := c.do("GARBAGE"); err == nil || !strings.Contains(err.Error(), "unknown reply type") {
		t.Errorf("unknown reply type: got %v", err)
	}
	// Arguments arrive as sent, spaces and empty strings included.
	mu.Lock()
	defer mu.Unlock()
	if got := seen[0]; len(got) != 3 || got[1] != "a b" || got[2] != "" {
		t.Errorf("server read %q", got)
	}
}

// TestTile38Load pipelines more SETs than a socket buffer holds and reads every
// reply; an error reply names the row and does not desynchronise the stream.
func TestTile38Load(t *testing.T) {
	rows := make([]sqlite.CeilingRow, 25000)
	for i := range rows {
		rows[i] = sqlite.CeilingRow{ID: "obs-" + strconv.Itoa(i), Time: "2026-11-26T12:00:00Z", Lat: 43.1155, Lon: 131.8855}
	}
	var mu sync.Mutex
	var sets []string
	addr := respServer(t, func(args []string) string {
		mu.Lock()
		defer mu.Unlock()
		if args[0] != "SET" {
			return "+OK\r\n"
		}
		sets = append(sets, strings.Join(args, " "))
		if args[2] == "obs-24999" {
			return "-ERR the last one\r\n"
		}
		return "+OK\r\n"
	})
	c, err := dialRESP(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = tile38Load(c, rows, 10000)
	if err == nil || !strings.Contains(err.Error(), "SET obs-24999: ERR the last one") {
		t.Errorf("tile38Load: %v; want the last row's error", err)
	}
	mu.Lock()
	if len(sets) != len(rows) || sets[7] != "SET "+tile38Key+" obs-7 FIELD t 1795694400 POINT 43.1155 131.8855" {
		t.Errorf("server got %d SETs, the 8th %q", len(sets), sets[7])
	}
	mu.Unlock()
	// The connection is still in step: the next reply is the next command's.
	if v, err := c.do("PING"); err != nil || v.str != "OK" {
		t.Errorf("after the load: %v, %v", v, err)
	}
}
