package batch_test

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

func TestAsynqSchedulerOneTaskPerWindow(t *testing.T) {
	ctx := t.Context()
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	clk := &clock{t: time.Now().Add(time.Hour).Truncate(time.Second)}
	rec := &recorder{}
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("sched"), Deliver: rec.deliver, Now: clk.Now,
		Scheduler: &batch.AsynqScheduler{Client: client}, MaxItems: 5})
	joined := add(t, b, "bob", "", inbox.FixedWindow(time.Minute), nil, events(5, "12")...)
	b.Scheduled(ctx, joined...)
	b.Scheduled(ctx, joined...) // again: the stable IDs dedupe

	info, err := insp.GetTaskInfo(batch.DefaultQueue, batch.TaskID(b.Inbox(), joined[0].Window, false))
	if err != nil {
		t.Fatalf("no scheduled flush: %v", err)
	}
	if !info.NextProcessAt.Equal(joined[0].DueAt) && info.State != asynq.TaskStatePending {
		t.Errorf("task at %v (%s), want %v", info.NextProcessAt, info.State, joined[0].DueAt)
	}
	if _, err := insp.GetTaskInfo(batch.DefaultQueue, batch.TaskID(b.Inbox(), joined[0].Window, true)); err != nil {
		t.Errorf("the full window has no early flush: %v", err)
	}
	// The handler flushes the window named in the task.
	task := asynq.NewTask(batch.TaskType, info.Payload)
	if err := batch.Handler(b).ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if got := rec.got(); len(got) != 1 || len(got[0].Events) != 5 {
		t.Fatalf("handler delivered %+v", got)
	}
	if err := batch.Handler(b).ProcessTask(ctx, task); err != nil || len(rec.got()) != 1 {
		t.Fatalf("a repeated task delivered again: %v", err)
	}
}
