package drill

import "syscall"

// childAttr makes a node the drill started die with the drill, even when
// the drill is killed with SIGKILL and cannot clean up.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
