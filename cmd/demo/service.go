package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
)

// ServiceError reports a service the demo needs (PostgreSQL, Redis) that it
// could not reach, with the command that starts it.
type ServiceError struct {
	Service string // "PostgreSQL" or "Redis"
	Addr    string
	Hint    string // how to start it
	Err     error
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s is not reachable at %s (%v): %s", e.Service, e.Addr, rootCause(e.Err), e.Hint)
}

func (e *ServiceError) Unwrap() error { return e.Err }

// unreachable reports whether err means nothing answered: refused, no route,
// timeout, unknown host.
func unreachable(err error) bool {
	var ne net.Error
	var de *net.DNSError
	var oe *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.ENOENT) ||
		errors.As(err, &de) || errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout())
}

// rootCause returns the most telling short message of err: the network
// error's (connect: connection refused), else err's first line.
func rootCause(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// postgresHint says how to start PostgreSQL on this machine.
func postgresHint() string {
	if entries, err := os.ReadDir("/etc/postgresql"); err == nil && len(entries) > 0 {
		var versions []string
		for _, e := range entries {
			versions = append(versions, e.Name())
		}
		sort.Strings(versions)
		return fmt.Sprintf("start it with `pg_ctlcluster --skip-systemctl-redirect %s main start` (or point -db / TIDINGS_DEMO_DB at a running server)", versions[len(versions)-1])
	}
	return "start PostgreSQL (for example `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres`), or point -db / TIDINGS_DEMO_DB at a running server"
}

const redisHint = "start it with `redis-server --daemonize yes --bind 127.0.0.1` (or point -redis / TIDINGS_DEMO_REDIS at a running server)"
