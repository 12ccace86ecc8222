package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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

// TestReadmeBuild runs the README's build line and the built binary's --help,
// as a new user does before the operator examples.
func TestReadmeBuild(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var build, help string
	for _, l := range strings.Split(string(b), "\n") {
		cmd, _, _ := strings.Cut(l, "#")
		cmd = strings.TrimSpace(cmd)
		switch {
		case build == "" && strings.HasPrefix(cmd, "go build -o geowatch "):
			build = cmd
		case help == "" && strings.HasPrefix(cmd, "./geowatch --help"):
			help = cmd
		}
	}
	if build == "" || help == "" {
		t.Fatalf("README has no build line (%q) or --help line (%q)", build, help)
	}
	dir := t.TempDir()
	args := strings.Fields(build)
	args[3] = filepath.Join(dir, "geowatch") // -o geowatch, in the temp dir
	c := exec.Command(args[0], args[1:]...)
	c.Dir = filepath.Join("..", "..")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, out)
	}
	h := strings.Fields(help)
	c = exec.Command(filepath.Join(dir, "geowatch"), h[1:]...)
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "usage: geowatch COMMAND") {
		t.Fatalf("%s = %v\n%s", help, err, out)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("--help wrote files: %v", ents)
	}
}
