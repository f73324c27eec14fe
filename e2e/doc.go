// Package e2e holds Beacon's end-to-end tests: a real server and a real
// player on loopback ports, and headless Chromium looking at the screen.
package e2e
