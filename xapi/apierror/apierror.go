// Package apierror is the XenAPI error: a code from xapi's catalogue and its string
// parameters, sent as ErrorDescription [code, params…] in XML-RPC and as the error of a
// JSON-RPC reply. Handlers return these, never Go error strings.
package apierror

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a XenAPI error.
type Error struct {
	Code   string
	Params []string
}

func (e *Error) Error() string {
	if len(e.Params) == 0 {
		return e.Code
	}
	return e.Code + " [" + strings.Join(e.Params, "; ") + "]"
}

// Is makes errors.Is match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Params == nil
}

// New builds an error from a code and its parameters.
func New(code string, params ...string) *Error {
	if params == nil {
		params = []string{}
	}
	return &Error{Code: code, Params: params}
}

// Internal is INTERNAL_ERROR [message], what xapi sends for any exception that is not an
// API error.
func Internal(format string, args ...any) *Error {
	return New(InternalError, fmt.Sprintf(format, args...))
}

// From turns any error into a XenAPI error: API errors pass through, anything else
// becomes INTERNAL_ERROR with its text, as xapi does with an unexpected exception.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return New(InternalError, err.Error())
}

// Codes used across the project. Every other code is a literal from the catalogue.
const (
	InternalError                 = "INTERNAL_ERROR"
	HandleInvalid                 = "HANDLE_INVALID"
	UUIDInvalid                   = "UUID_INVALID"
	SessionInvalid                = "SESSION_INVALID"
	SessionAuthenticationFailed   = "SESSION_AUTHENTICATION_FAILED"
	MessageMethodUnknown          = "MESSAGE_METHOD_UNKNOWN"
	MessageParameterCountMismatch = "MESSAGE_PARAMETER_COUNT_MISMATCH"
	MessageRemoved                = "MESSAGE_REMOVED"
	MapDuplicateKey               = "MAP_DUPLICATE_KEY"
	InvalidValue                  = "INVALID_VALUE"
	NotImplemented                = "NOT_IMPLEMENTED"
	OperationNotAllowed           = "OPERATION_NOT_ALLOWED"
	RBACPermissionDenied          = "RBAC_PERMISSION_DENIED"
	TaskCancelled                 = "TASK_CANCELLED"
	// Fault is not in the catalogue: xapi uses it for Async. on a message without an
	// async form (protocol.md §4.14).
	Fault = "Fault"
)
