package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
)

type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func badRequest(msg string) error { return &statusError{http.StatusBadRequest, msg} }

// statusCode maps an error to the HTTP status Docker would use.
func statusCode(err error) int {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.code
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsInvalidArgument(err):
		return http.StatusBadRequest
	case errdefs.IsConflict(err), errdefs.IsAlreadyExists(err), errdefs.IsFailedPrecondition(err):
		return http.StatusConflict
	case errdefs.IsNotModified(err):
		return http.StatusNotModified
	case errdefs.IsUnauthorized(err):
		return http.StatusUnauthorized
	case errdefs.IsPermissionDenied(err):
		return http.StatusForbidden
	case errdefs.IsUnavailable(err):
		return http.StatusServiceUnavailable
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

// writeError sends {"message": ...} with the mapped status.
func writeError(w http.ResponseWriter, err error) {
	code := statusCode(err)
	if code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": errMessage(err)})
}

// errMessage is the text Docker clients show after "Error response from
// daemon: ".
// A trailing ": not found" (or another errdefs class name) left by wrapping
// with %w is dropped, so "No such container: x: not found" reads as Docker's.
func errMessage(err error) string {
	msg := err.Error()
	for _, class := range errClasses {
		if suffix := ": " + class.Error(); strings.HasSuffix(msg, suffix) && errors.Is(err, class) {
			return strings.TrimSuffix(msg, suffix)
		}
	}
	return msg
}

var errClasses = []error{
	errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrConflict, errdefs.ErrAlreadyExists,
	errdefs.ErrFailedPrecondition, errdefs.ErrNotModified, errdefs.ErrUnauthenticated, errdefs.ErrPermissionDenied,
	errdefs.ErrUnavailable, errdefs.ErrNotImplemented, errdefs.ErrInternal, errdefs.ErrUnknown,
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
