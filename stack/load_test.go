package stack

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, namespace, file string
		want                  string // a regexp
	}{
		{"syntax error with line and column", "s", "services:\n  web:\n    image: busybox\n   ports: [80\n", `line \d+, column \d+`},
		{"unknown key", "s", "services:\n  web:\n    image: busybox\n    imagez: x\n", `services\.web Additional property imagez is not allowed`},
		{"undefined network", "s", "services:\n  web:\n    image: busybox\n    networks: [nope]\n", `service "web" refers to undefined network nope`},
		{"undefined secret", "s", "services:\n  web:\n    image: busybox\n    secrets: [nope]\n", `service "web" refers to undefined secret nope`},
		{"no image", "s", "services:\n  web:\n    build: .\n", `service web: no image`},
		{"empty stack name", "", "services:\n  web:\n    image: busybox\n", `^invalid stack name: ""$`},
		{"invalid stack name", "my.stack", "services:\n  web:\n    image: busybox\n", `^invalid stack name: "my\.stack": a stack name must consist of`},
		{"global with replicas", "s", "services:\n  web:\n    image: busybox\n    deploy: {mode: global, replicas: 2}\n", `replicas can only be used with replicated or replicated-job mode`},
		{"secret file missing", "s", "services:\n  web:\n    image: busybox\n    secrets: [pw]\nsecrets:\n  pw:\n    file: ./nope\n", `secret pw: .*no such file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.namespace, nil, [2]string{"docker-compose.yml", tc.file})
			if err == nil || !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
		})
	}
}

// Several -c files merge in order, extends and .env work.
func TestLoadMergeExtendsDotEnv(t *testing.T) {
	st := mustLoad(t, "MyStack", nil,
		[2]string{"a.yml", "services:\n  base:\n    image: busybox\n    environment: {A: a}\n  web:\n    extends: base\n    image: busybox:${TAG}\n    deploy: {replicas: 5}\n"},
		[2]string{"b.yml", "services:\n  web:\n    deploy: {replicas: 3}\n"},
		[2]string{".env", "TAG=1.36\n"})
	if len(st.Services) != 2 {
		t.Fatalf("services %+v", st.Services)
	}
	web := st.Services[1]
	if web.Name != "MyStack_web" || web.TaskTemplate.ContainerSpec.Image != "busybox:1.36" ||
		*web.Mode.Replicated.Replicas != 3 || strings.Join(web.TaskTemplate.ContainerSpec.Env, ",") != "A=a" {
		t.Errorf("web %s %s %d %v", web.Name, web.TaskTemplate.ContainerSpec.Image, *web.Mode.Replicated.Replicas, web.TaskTemplate.ContainerSpec.Env)
	}
	if st.Networks[0].Name != "MyStack_default" {
		t.Errorf("networks %+v", st.Networks)
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{"getstartedlab": true, "My-Stack_2": true, "a": true, "": false, " ": false, "-a": false, "a-": false, "a.b": false, "a b": false} {
		if err := ValidateName(name); (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
	}
}

// FuzzLoad: no compose file makes the loader or the conversion panic.
func FuzzLoad(f *testing.F) {
	f.Add(guideService)
	f.Add(guideStack)
	f.Add("services:\n  a:\n    image: x\n    ports: ['1-2:3-4/udp']\n    volumes: [v:/v]\nvolumes: {v: {}}\n")
	dir := f.TempDir()
	file := filepath.Join(dir, "docker-compose.yml")
	f.Fuzz(func(t *testing.T, content string) {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = Load(context.Background(), "s", LoadOptions{Files: []string{file}})
	})
}
