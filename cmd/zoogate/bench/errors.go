package bench

import "errors"

// Sentinel errors. Callers match them with errors.Is; the wrapped text names
// the detail (the field, the server, the trial).
var (
	// ErrInvalidConfig wraps every option or configuration problem.
	ErrInvalidConfig = errors.New("bench: invalid configuration")
	// ErrUsage is returned for an unknown subcommand or stray arguments.
	ErrUsage = errors.New("bench: usage")
	// ErrConnect means sessions could not be established in time.
	ErrConnect = errors.New("bench: cannot establish sessions")
	// ErrPrepare means the znodes a workload needs could not be created.
	ErrPrepare = errors.New("bench: cannot prepare znodes")
	// ErrNotReady means servers did not serve requests before the deadline.
	ErrNotReady = errors.New("bench: servers not ready")
	// ErrCommand means a --kill-cmd or --restart-cmd failed.
	ErrCommand = errors.New("bench: external command failed")
	// ErrNoRecovery means writes did not resume within the trial timeout.
	ErrNoRecovery = errors.New("bench: writes did not resume")
	// ErrWatchTimeout means a watcher did not get its notification in time.
	ErrWatchTimeout = errors.New("bench: watch notification timed out")
)
