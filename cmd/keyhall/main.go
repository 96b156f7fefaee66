package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGHUP (systemctl reload) must never end the process, which is what
	// it does by default: this channel takes it for the process's whole
	// life, before serve listens for it and after (while it drains).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}

// Exit statuses of run.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad usage or an invalid configuration
)

// app is what a command may use of its process: the standard streams and
// the environment ("NAME=value"). Commands never touch os.Stdout or
// os.Getenv directly, so tests can run them in-process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            []string
}

// run runs the command line args (without the program name) and returns
// the exit status: 0 on success, 1 when the command failed, 2 for bad usage
// or configuration. Every error is printed to stderr as a message, never a
// stack trace.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env []string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, env: env}
	err := rootCommand().execute(ctx, a, nil, args)
	var (
		uerr *usageError
		cerr *configError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "keyhall: %s\nRun '%s --help' for usage.\n", uerr.msg, uerr.command)
		return exitUsage
	case errors.As(err, &cerr):
		fmt.Fprintln(stderr, cerr.Error())
		return exitUsage
	default:
		fmt.Fprintf(stderr, "keyhall: %s\n", err)
		return exitFailure
	}
}

// usageError is a command line that does not make sense; run prints it
// with a pointer to the command's --help and exits with status 2.
type usageError struct {
	command string // "keyhall admin users add"; set by execute
	msg     string
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a *usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}
