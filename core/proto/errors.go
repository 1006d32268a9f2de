package proto

import (
	"errors"
	"fmt"
)

// Code is a ZooKeeper error code (KeeperException.Code) as it appears in
// ReplyHeader.err and in multi results. Codes exist only at the protocol
// edge: inside zoogate errors are the typed values below, and CodeOf maps
// them to codes when a reply is written.
type Code int32

const (
	CodeOK                       Code = 0
	CodeSystemError              Code = -1
	CodeRuntimeInconsistency     Code = -2
	CodeDataInconsistency        Code = -3
	CodeConnectionLoss           Code = -4
	CodeMarshallingError         Code = -5
	CodeUnimplemented            Code = -6
	CodeOperationTimeout         Code = -7
	CodeBadArguments             Code = -8
	CodeUnknownSession           Code = -12
	CodeNewConfigNoQuorum        Code = -13
	CodeReconfigInProgress       Code = -14
	CodeAPIError                 Code = -100
	CodeNoNode                   Code = -101
	CodeNoAuth                   Code = -102
	CodeBadVersion               Code = -103
	CodeNoChildrenForEphemerals  Code = -108
	CodeNodeExists               Code = -110
	CodeNotEmpty                 Code = -111
	CodeSessionExpired           Code = -112
	CodeInvalidCallback          Code = -113
	CodeInvalidACL               Code = -114
	CodeAuthFailed               Code = -115
	CodeSessionMoved             Code = -118
	CodeNotReadOnly              Code = -119
	CodeEphemeralOnLocalSession  Code = -120
	CodeNoWatcher                Code = -121
	CodeRequestTimeout           Code = -122
	CodeReconfigDisabled         Code = -123
	CodeSessionClosedRequireSasl Code = -124
	CodeQuotaExceeded            Code = -125
	CodeThrottledOp              Code = -127
)

// Typed errors. Each maps to exactly one Code.
var (
	ErrSystem                   = errors.New("system error")
	ErrRuntimeInconsistency     = errors.New("runtime inconsistency")
	ErrDataInconsistency        = errors.New("data inconsistency")
	ErrConnectionLoss           = errors.New("connection loss")
	ErrMarshalling              = errors.New("marshalling error")
	ErrUnimplemented            = errors.New("unimplemented")
	ErrOperationTimeout         = errors.New("operation timeout")
	ErrBadArguments             = errors.New("bad arguments")
	ErrUnknownSession           = errors.New("unknown session")
	ErrNewConfigNoQuorum        = errors.New("new config has no quorum")
	ErrReconfigInProgress       = errors.New("reconfig in progress")
	ErrAPI                      = errors.New("api error")
	ErrNoNode                   = errors.New("node does not exist")
	ErrNoAuth                   = errors.New("not authorized")
	ErrBadVersion               = errors.New("bad version")
	ErrNoChildrenForEphemerals  = errors.New("ephemeral nodes may not have children")
	ErrNodeExists               = errors.New("node already exists")
	ErrNotEmpty                 = errors.New("node has children")
	ErrSessionExpired           = errors.New("session expired")
	ErrInvalidCallback          = errors.New("invalid callback")
	ErrInvalidACL               = errors.New("invalid ACL")
	ErrAuthFailed               = errors.New("authentication failed")
	ErrSessionMoved             = errors.New("session moved to another server")
	ErrNotReadOnly              = errors.New("not a read-only call")
	ErrEphemeralOnLocalSession  = errors.New("ephemeral on local session")
	ErrNoWatcher                = errors.New("no such watcher")
	ErrRequestTimeout           = errors.New("request timeout")
	ErrReconfigDisabled         = errors.New("reconfig is disabled")
	ErrSessionClosedRequireSasl = errors.New("session closed: SASL authentication required")
	ErrQuotaExceeded            = errors.New("quota exceeded")
	ErrThrottled                = errors.New("operation throttled")
)

var codeErrs = map[Code]error{
	CodeSystemError: ErrSystem, CodeRuntimeInconsistency: ErrRuntimeInconsistency,
	CodeDataInconsistency: ErrDataInconsistency, CodeConnectionLoss: ErrConnectionLoss,
	CodeMarshallingError: ErrMarshalling, CodeUnimplemented: ErrUnimplemented,
	CodeOperationTimeout: ErrOperationTimeout, CodeBadArguments: ErrBadArguments,
	CodeUnknownSession: ErrUnknownSession, CodeNewConfigNoQuorum: ErrNewConfigNoQuorum,
	CodeReconfigInProgress: ErrReconfigInProgress, CodeAPIError: ErrAPI,
	CodeNoNode: ErrNoNode, CodeNoAuth: ErrNoAuth, CodeBadVersion: ErrBadVersion,
	CodeNoChildrenForEphemerals: ErrNoChildrenForEphemerals, CodeNodeExists: ErrNodeExists,
	CodeNotEmpty: ErrNotEmpty, CodeSessionExpired: ErrSessionExpired,
	CodeInvalidCallback: ErrInvalidCallback, CodeInvalidACL: ErrInvalidACL,
	CodeAuthFailed: ErrAuthFailed, CodeSessionMoved: ErrSessionMoved,
	CodeNotReadOnly: ErrNotReadOnly, CodeEphemeralOnLocalSession: ErrEphemeralOnLocalSession,
	CodeNoWatcher: ErrNoWatcher, CodeRequestTimeout: ErrRequestTimeout,
	CodeReconfigDisabled:         ErrReconfigDisabled,
	CodeSessionClosedRequireSasl: ErrSessionClosedRequireSasl,
	CodeQuotaExceeded:            ErrQuotaExceeded, CodeThrottledOp: ErrThrottled,
}

// CodeOf maps an error to its ZooKeeper code. nil is CodeOK; an error that
// wraps none of the typed errors is a system error.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var ce *CodeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	for c, e := range codeErrs {
		if errors.Is(err, e) {
			return c
		}
	}
	return CodeSystemError
}

// ErrorOf maps a code back to its typed error (nil for CodeOK). Unknown codes
// become a *CodeError that keeps the number.
func ErrorOf(c Code) error {
	if c == CodeOK {
		return nil
	}
	if e, ok := codeErrs[c]; ok {
		return e
	}
	return &CodeError{Code: c}
}

// CodeError carries a code that has no typed error of its own.
type CodeError struct{ Code Code }

func (e *CodeError) Error() string { return fmt.Sprintf("zookeeper error %d", int32(e.Code)) }

// PathError adds the path an operation failed on to a typed error.
type PathError struct {
	Path string
	Err  error
}

func (e *PathError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *PathError) Unwrap() error { return e.Err }
