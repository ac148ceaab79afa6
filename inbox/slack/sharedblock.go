package slack

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// sharedBlocks shares a channel's 429 between the processes that post to
// one workspace, through Redis: one key per (workspace, channel name)
// whose time to live is what is left of the longest Retry-After seen, so
// clocks of different hosts do not matter. A channel is written under the
// name posted to and its ID when known, and read under its ID and every
// name known for it.
type sharedBlocks struct {
	rdb    redis.UniversalClient
	prefix string        // "tidings:slack:block:" + the workspace (Poster.Sink) + ":"
	extend *redis.Script // sets the key's time to live to ARGV[1] ms unless it has longer
}

func newSharedBlocks(rdb redis.UniversalClient, sink string) *sharedBlocks {
	return &sharedBlocks{rdb: rdb, prefix: "tidings:slack:block:" + sink + ":", extend: redis.NewScript(`local t = redis.call('PTTL', KEYS[1])
if t < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1`)}
}

// block records that the channel, under each of its names, is blocked
// for d.
func (s *sharedBlocks) block(ctx context.Context, names []string, d time.Duration) error {
	// EVAL, not Script.Run: in a pipeline Run sends EVALSHA alone and
	// cannot fall back to EVAL, so a Redis that never saw the script (a
	// fresh or restarted one) answers NOSCRIPT and the block is lost.
	pipe := s.rdb.Pipeline()
	for _, name := range names {
		s.extend.Eval(ctx, pipe, []string{s.prefix + name}, d.Milliseconds())
	}
	_, err := pipe.Exec(ctx)
	return err
}

// blocked returns how long the channel, known by names, is still blocked
// (0 when it is not).
func (s *sharedBlocks) blocked(ctx context.Context, names []string) (time.Duration, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.DurationCmd, len(names))
	for i, name := range names {
		cmds[i] = pipe.PTTL(ctx, s.prefix+name)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var d time.Duration
	for _, c := range cmds {
		d = max(d, c.Val())
	}
	return d, nil
}
