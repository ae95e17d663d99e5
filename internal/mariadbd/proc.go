package mariadbd

import (
	"os/exec"
	"runtime"
	"sync"
)

// Pdeathsig fires when the *thread* that forked the child exits, not the process. The Go
// runtime may retire a thread (when a goroutine exits while locked to it), so all servers are
// forked from one dedicated goroutine that locks its OS thread and never returns.
var forker struct {
	once sync.Once
	reqs chan forkReq
}

type forkReq struct {
	cmd *exec.Cmd
	res chan error
}

func startProcess(cmd *exec.Cmd) error {
	forker.once.Do(func() {
		forker.reqs = make(chan forkReq)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for r := range forker.reqs {
				r.res <- r.cmd.Start()
			}
		}()
	})
	res := make(chan error, 1)
	forker.reqs <- forkReq{cmd, res}
	return <-res
}
