package vfs

import (
	"io"
	"strings"
	"syscall"
)

// Fault describes an injected failure of Mem operations.
type Fault struct {
	// Op is the operation that fails; OpAny matches all of them.
	Op Op
	// Path is a substring of the path the operation is applied to (for File
	// methods, the name the file was opened with); "" matches every path.
	Path string
	// Err is the error returned (wrapped in a *fs.PathError). Default
	// syscall.EIO; io.ErrShortWrite when ShortWrite is set.
	Err error
	// Skip lets this many matching operations succeed before the fault
	// starts firing.
	Skip int
	// Times is how many times the fault fires; 0 means forever.
	Times int
	// ShortWrite, for OpWrite (or OpAny on a write), makes the write keep
	// only its first ShortWrite bytes (all of them if the write is shorter)
	// and then return Err. The kept bytes are written, not durable.
	ShortWrite int
}

// FaultID identifies an injected fault for RemoveFault.
type FaultID int

type faultState struct {
	id      FaultID
	f       Fault
	skipped int
	fired   int
}

// faultHit is what a matched fault does to the current operation.
type faultHit struct {
	err   error
	short int // bytes a write keeps; -1 when the operation simply fails
}

// InjectFault adds a fault. Faults are checked in the order they were
// added; the first one that matches and fires decides.
func (m *Mem) InjectFault(f Fault) FaultID {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := FaultID(1)
	if n := len(m.faults); n > 0 {
		id = m.faults[n-1].id + 1
	}
	m.faults = append(m.faults, &faultState{id: id, f: f})
	return id
}

// RemoveFault removes one fault.
func (m *Mem) RemoveFault(id FaultID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, fs := range m.faults {
		if fs.id == id {
			m.faults = append(m.faults[:i], m.faults[i+1:]...)
			return
		}
	}
}

// ClearFaults removes every fault.
func (m *Mem) ClearFaults() {
	m.mu.Lock()
	m.faults = nil
	m.mu.Unlock()
}

// FaultsFired returns how many times the fault has fired.
func (m *Mem) FaultsFired(id FaultID) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, fs := range m.faults {
		if fs.id == id {
			return fs.fired
		}
	}
	return 0
}

// matchFault is called with m.mu held.
func (m *Mem) matchFault(op Op, path string) *faultHit {
	for _, fs := range m.faults {
		f := fs.f
		if f.Op != OpAny && f.Op != op {
			continue
		}
		if f.Path != "" && !strings.Contains(path, f.Path) {
			continue
		}
		if f.Times > 0 && fs.fired >= f.Times {
			continue
		}
		if fs.skipped < f.Skip {
			fs.skipped++
			continue
		}
		fs.fired++
		hit := &faultHit{err: f.Err, short: -1}
		if op == OpWrite && f.ShortWrite > 0 {
			hit.short = f.ShortWrite
			if hit.err == nil {
				hit.err = io.ErrShortWrite
			}
		}
		if hit.err == nil {
			hit.err = syscall.EIO
		}
		return hit
	}
	return nil
}
