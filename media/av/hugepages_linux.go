//go:build linux

package av

import (
	"sync"
	"syscall"
)

const prSetTHPDisable = 41 // PR_SET_THP_DISABLE

var hugePagesOnce sync.Once

// noHugePages turns transparent huge pages off for this process (the media
// worker). libx264 marks its large buffers MADV_HUGEPAGE, and the kernel
// then zeroes whole 2 MiB pages when an encoder first touches them: about
// 0.3 s of system time at the start of every 1080p job, on the critical
// path while the pipeline fills. With 4 KiB pages only the memory really
// used is faulted in; encoding speed is unchanged.
func noHugePages() {
	hugePagesOnce.Do(func() {
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTHPDisable, 1, 0)
	})
}
