package command

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/client"
)

// StatusError carries a command's exit status (a container's exit code for
// run, start -a and exec) and what to print, if anything.
type StatusError struct {
	Status string
	Code   int
}

func (e *StatusError) Error() string { return e.Status }

// DaemonMessage is an error's text as the user should read it, without a
// leading "Error: ".
func DaemonMessage(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(DaemonError(err), "Error: ")
}

// DaemonError phrases an API error as the docker CLI does. A failed TLS
// handshake keeps the client's explanation (which side refused which
// certificate), as the docker CLI shows it.
func DaemonError(err error) string {
	if client.IsErrConnectionFailed(err) && !isTLSError(err) {
		host := ""
		if _, after, ok := strings.Cut(err.Error(), " at "); ok {
			host, _, _ = strings.Cut(after, ";")
			host, _, _ = strings.Cut(host, ". ")
		}
		if host != "" {
			return fmt.Sprintf("Cannot connect to the berth daemon at %s. Is the berth daemon running?", host)
		}
		return "Cannot connect to the berth daemon. Is the berth daemon running on this host?"
	}
	msg := strings.NewReplacer("the Docker daemon", "the berth daemon", "docker daemon", "berth daemon").Replace(err.Error())
	if strings.HasPrefix(msg, "Error") || strings.HasPrefix(msg, "Cannot connect") || strings.Contains(msg, "\n") {
		return msg
	}
	return "Error: " + msg
}

// isTLSError says whether err is a failed TLS handshake or certificate
// check (the alerts a peer sends have no exported type: their text says).
func isTLSError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	if errors.As(err, &verify) || errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &record) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "tls: ") || strings.Contains(msg, "TLS-enabled daemon")
}
