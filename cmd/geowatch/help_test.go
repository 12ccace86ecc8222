package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestHelpDoesNothingElse asks every command and subcommand for its usage the
// three ways a user does (-h, --help, help CMD): each exits 0, prints a usage
// that names the command, and leaves the working directory empty: no daemon
// started, no database written, no benchmark run.
func TestHelpDoesNothingElse(t *testing.T) {
	t.Chdir(t.TempDir())
	var cmds [][]string
	for _, c := range commands() {
		cmds = append(cmds, []string{c.name})
	}
	cmds = append(cmds, []string{"silence", "add"}, []string{"silence", "list"}, []string{"silence", "expire"})
	for _, cmd := range cmds {
		for _, form := range [][]string{
			append(append([]string(nil), cmd...), "-h"),
			append(append([]string(nil), cmd...), "--help"),
			append([]string{"help"}, cmd...),
		} {
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), form, &stdout, &stderr); err != nil {
				t.Errorf("geowatch %s = %v, want success", strings.Join(form, " "), err)
				continue
			}
			out := stdout.String() + stderr.String()
			if !strings.Contains(out, "usage: geowatch "+cmd[0]) {
				t.Errorf("geowatch %s printed %q, want its usage", strings.Join(form, " "), out)
			}
		}
	}
	if ents, _ := os.ReadDir("."); len(ents) > 0 {
		t.Errorf("asking for help wrote %v", ents)
	}
	for _, v := range []string{"--version", "version"} {
		var stdout bytes.Buffer
		if err := run(t.Context(), []string{v}, &stdout, &stdout); err != nil || !strings.HasPrefix(stdout.String(), "geowatch ") {
			t.Errorf("geowatch %s = %q, %v", v, stdout.String(), err)
		}
	}
}
