package lifecycle

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestParseSecurityOpts(t *testing.T) {
	profile := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`
	tests := []struct {
		opts                []string
		nnp, unconf, custom bool
		err                 string
	}{
		{nil, false, false, false, ""},
		{[]string{"no-new-privileges"}, true, false, false, ""},
		{[]string{"no-new-privileges:true", "no-new-privileges=false"}, false, false, false, ""},
		{[]string{"seccomp=unconfined"}, false, true, false, ""},
		{[]string{"seccomp:unconfined", "seccomp=builtin"}, false, false, false, ""},
		{[]string{"seccomp=" + profile}, false, false, true, ""},
		{[]string{"seccomp=" + profile, "seccomp=unconfined"}, false, true, false, ""},
		{[]string{"apparmor=unconfined", "label=disable"}, false, false, false, ""},
		{[]string{"seccomp={bad"}, false, false, false, "Decoding seccomp profile failed: invalid character 'b'"},
		{[]string{"seccomp=/x.json"}, false, false, false, "Decoding seccomp profile failed"},
		{[]string{`seccomp={"defaultAction":"SCMP_ACT_NOPE"}`}, false, false, false, `unknown defaultAction "SCMP_ACT_NOPE"`},
		{[]string{"nope=1"}, false, false, false, `invalid --security-opt 2: "nope=1"`},
	}
	for _, tt := range tests {
		so, err := parseSecurityOpts(tt.opts)
		if tt.err != "" {
			if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want invalid argument %q", tt.opts, err, tt.err)
			}
			continue
		}
		if err != nil || so.noNewPrivileges != tt.nnp || so.seccompUnconfined != tt.unconf || (so.seccompProfile != nil) != tt.custom {
			t.Errorf("%q = %+v, %v", tt.opts, so, err)
		}
	}
}
