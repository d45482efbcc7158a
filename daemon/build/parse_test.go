package build

import (
	"strings"
	"testing"
)

func TestParseDockerfile(t *testing.T) {
	cases := []struct {
		name, src string
		opts      Options
		steps     int
		stages    int
		err       string
	}{
		{"seed", "FROM python:2.7-slim\nWORKDIR /app\nADD . /app\nRUN pip install -r requirements.txt\nEXPOSE 80\nENV NAME World\nCMD [\"python\", \"app.py\"]\n", Options{}, 7, 1, ""},
		{"multi", "ARG V=1\nFROM a AS one\nRUN x\nFROM scratch\nCOPY --from=one /a /b\n", Options{}, 4, 2, ""},
		{"target", "FROM a AS one\nRUN x\nFROM b AS two\nRUN y\n", Options{Target: "one"}, 2, 1, ""},
		{"labels", "FROM a\n", Options{Labels: map[string]string{"b": "2", "a": "1"}}, 3, 1, ""},
		{"unknown target", "FROM a AS one\n", Options{Target: "nope"}, 0, 0, "failed to reach build target nope"},
		{"unknown instruction", "FROM a\nFOO bar\n", Options{}, 0, 0, "line 2 of Dockerfile: unknown instruction: FOO"},
		{"no from", "RUN x\n", Options{}, 0, 0, "line 1 of Dockerfile"},
		{"empty", "# nothing\n", Options{}, 0, 0, "file with no instructions"},
		{"buildkit only", "FROM a\nRUN --mount=type=cache,target=/x true\n", Options{}, 0, 0, "needs BuildKit"},
		{"copy link", "FROM a\nCOPY --link a b\n", Options{}, 0, 0, "need BuildKit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := parseDockerfile("Dockerfile", []byte(c.src), c.opts)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.steps != c.steps || len(p.stages) != c.stages {
				t.Errorf("steps %d stages %d, want %d %d", p.steps, len(p.stages), c.steps, c.stages)
			}
		})
	}
}

func FuzzParseDockerfile(f *testing.F) {
	for _, s := range []string{
		"FROM a\nRUN x\n", "ARG X=1\nFROM ${X}\nCOPY --from=0 a b\n", "FROM a\nHEALTHCHECK CMD true\nONBUILD RUN x\n",
		"# escape=`\nFROM a\nRUN x `\n y\n", "FROM a\nRUN <<EOF\nx\nEOF\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, _ = parseDockerfile("Dockerfile", []byte(src), Options{Target: "x"})
		_, _ = parseDockerfile("Dockerfile", []byte(src), Options{})
	})
}

func TestStepKey(t *testing.T) {
	a := stepKey("sha256:1", "RUN x", "")
	if a != stepKey("sha256:1", "RUN x", "") {
		t.Fatal("stepKey is not stable")
	}
	for _, other := range []string{stepKey("sha256:2", "RUN x", ""), stepKey("sha256:1", "RUN y", ""), stepKey("sha256:1", "RUN x", "c")} {
		if other == a {
			t.Errorf("keys collide")
		}
	}
}
