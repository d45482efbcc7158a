package sshdriver

import (
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/certs"
	"github.com/berth-project/berth/machine"
)

// What the driver installs on the host. Everything but the systemd unit
// is under /var/lib/berth (the daemon's data root) and /run/berth (its
// exec root): the daemon's data stays when the machine is removed.
const (
	remoteRoot    = "/var/lib/berth"
	remoteBin     = remoteRoot + "/bin"
	remoteCerts   = remoteRoot + "/certs"
	remoteCtl     = remoteRoot + "/machine.sh" // start, stop, status, log, run
	remoteMarker  = remoteRoot + "/machine.id" // which machine owns the install
	remoteLog     = remoteRoot + "/daemon.log" // without systemd
	remotePIDFile = "/run/berth/machine.pid"   // without systemd
	remoteSocket  = "/run/berth/berth.sock"    // the daemon's unix socket
	unitName      = "berth-machine.service"    // with systemd
	unitFile      = "/etc/systemd/system/" + unitName
	remotePATH    = remoteBin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// daemonArgs is the host's `berth daemon` command line after "daemon".
func daemonArgs(m *machine.Machine) []string {
	args := []string{
		"-H", "unix://" + remoteSocket, "-H", fmt.Sprintf("tcp://0.0.0.0:%d", m.Port),
		"--tlsverify",
		"--tlscacert", remoteCerts + "/" + certs.CAFile,
		"--tlscert", remoteCerts + "/" + certs.ServerFile,
		"--tlskey", remoteCerts + "/" + certs.ServerKeyFile,
	}
	return append(args, m.EngineArgs...)
}

// ctlScript is /var/lib/berth/machine.sh: it starts and stops the daemon,
// through systemd when the host runs it, else as a process of its own
// session with a PID file.
func ctlScript(m *machine.Machine) string {
	words := make([]string, 0, len(daemonArgs(m)))
	for _, a := range daemonArgs(m) {
		words = append(words, quote(a))
	}
	return fmt.Sprintf(`#!/bin/sh
# Installed by berth machine (machine %[1]s): the berth daemon of this host.
# Usage: machine.sh start|stop|status|log|run
PIDFILE=%[2]s
LOG=%[3]s
UNIT=%[4]s
systemd() { [ -d /run/systemd/system ] && [ -f %[5]s ]; }
running() {
	[ -f "$PIDFILE" ] || return 1
	pid=$(cat "$PIDFILE" 2>/dev/null)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q berth "/proc/$pid/cmdline" 2>/dev/null
}
case "$1" in
run)
	export PATH=%[6]s
	exec %[7]s/berth daemon %[8]s
	;;
start)
	if systemd; then exec systemctl start "$UNIT"; fi
	running && exit 0
	mkdir -p /run/berth
	setsid sh -c 'echo $$ > "$1"; exec "$2" run' sh "$PIDFILE" "$0" >>"$LOG" 2>&1 </dev/null &
	;;
stop)
	if systemd; then exec systemctl stop "$UNIT"; fi
	running || { rm -f "$PIDFILE"; exit 0; }
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done
	kill -KILL "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -f "$PIDFILE"
	;;
status)
	if systemd; then exec systemctl is-active --quiet "$UNIT"; fi
	running
	;;
log)
	if systemd; then exec journalctl -u "$UNIT" -n 20 --no-pager; fi
	tail -n 20 "$LOG"
	;;
*)
	echo "usage: $0 start|stop|status|log|run" >&2
	exit 2
	;;
esac
`, m.Name, remotePIDFile, remoteLog, unitName, unitFile, remotePATH, remoteBin, strings.Join(words, " "))
}

// unit is the systemd service of the daemon. KillMode=process: the
// containers' shims outlive a stop, as under dockerd's live restore.
func unit(m *machine.Machine) string {
	return fmt.Sprintf(`# Installed by berth machine (machine %s).
[Unit]
Description=berth daemon (berth machine %s)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=%s run
KillMode=process
Restart=on-failure
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target
`, m.Name, m.Name, remoteCtl)
}

// probeScript prints the host's kernel, architecture, distribution, init
// and whether berth is installed: "Linux x86_64 debian systemd|none
// installed-by|-".
const probeScript = `k=$(uname -s); a=$(uname -m); id=unknown
if [ -r /etc/os-release ]; then id=$(. /etc/os-release; echo "${ID:-unknown}"); fi
init=none; [ -d /run/systemd/system ] && init=systemd
owner=-; [ -f ` + remoteMarker + ` ] && owner=$(head -n1 ` + remoteMarker + ` | tr -s ' \t' '__')
echo "$k $a $id $init $owner"`

// uninstallScript stops the daemon and its containers and removes what
// the driver installed; the daemon's data (images, volumes, containers'
// files) in /var/lib/berth stays.
const uninstallScript = `C=` + remoteCtl + `
if [ -x "$C" ] && "$C" status; then
	DOCKER_HOST=unix://` + remoteSocket + ` ` + remoteBin + `/berth ps -q 2>/dev/null | xargs -r ` + remoteBin + `/berth kill >/dev/null 2>&1
fi
[ -x "$C" ] && "$C" stop
if [ -f ` + unitFile + ` ]; then
	systemctl disable --quiet ` + unitName + ` 2>/dev/null
	rm -f ` + unitFile + `
	systemctl daemon-reload 2>/dev/null
fi
rm -f "$C" ` + remoteMarker + ` ` + remoteLog + ` ` + remotePIDFile + ` ` + remoteBin + `/berth ` + remoteBin + `/berth-shim ` + remoteBin + `/docker ` +
	remoteCerts + `/ca.pem ` + remoteCerts + `/server.pem ` + remoteCerts + `/server-key.pem ` + remoteBin + `/*.berth-tmp ` + remoteCerts + `/*.berth-tmp
rmdir ` + remoteBin + ` ` + remoteCerts + ` 2>/dev/null
true`
