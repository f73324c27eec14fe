package av

import "runtime"

func numCPU() int { return runtime.NumCPU() }
