//go:build !linux

package av

func noHugePages() {}
