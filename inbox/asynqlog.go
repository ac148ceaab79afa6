package inbox

import (
	"context"
	"fmt"
	"log/slog"
)

// asynqLogger writes asynq's own log lines to a slog.Logger.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) log(level slog.Level, args []any) {
	if !a.l.Enabled(context.Background(), level) {
		return
	}
	a.l.Log(context.Background(), level, "asynq: "+fmt.Sprint(args...))
}

func (a asynqLogger) Debug(args ...any) { a.log(slog.LevelDebug, args) }
func (a asynqLogger) Info(args ...any)  { a.log(slog.LevelInfo, args) }
func (a asynqLogger) Warn(args ...any)  { a.log(slog.LevelWarn, args) }
func (a asynqLogger) Error(args ...any) { a.log(slog.LevelError, args) }

// Fatal logs at Error level. asynq itself never calls it; a library does
// not end its host's process.
func (a asynqLogger) Fatal(args ...any) { a.log(slog.LevelError, args) }
