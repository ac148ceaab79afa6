package slack_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
)

func TestGormThreadsPutReplacesAndIsRaceFree(t *testing.T) {
	ctx := context.Background()
	s := slackinbox.NewGormThreads(testDB)
	key := slackinbox.ThreadKey{Domain: "issue", SubjectID: unique("gorm"), Route: "#issues"}
	if _, ok, err := s.Get(ctx, key); err != nil || ok {
		t.Fatalf("Get of a new key: %v %v", ok, err)
	}
	if err := s.Put(ctx, key, "CISSUES", "1.000001"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, key, "CISSUES", "1.000002"); err != nil {
		t.Fatal(err)
	}
	th, ok, err := s.Get(ctx, key)
	if err != nil || !ok || th != (slackinbox.Thread{Channel: "CISSUES", TS: "1.000002"}) {
		t.Errorf("Get = %+v %v %v, want the last Put", th, ok, err)
	}
	other := key
	other.Route = "#audit"
	if _, ok, _ := s.Get(ctx, other); ok {
		t.Error("a thread leaked into another route")
	}

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	race := slackinbox.ThreadKey{Domain: "issue", SubjectID: unique("gorm-race"), Route: "#issues"}
	for i := range 20 {
		wg.Go(func() { errs <- s.Put(ctx, race, "C1", fmt.Sprintf("2.%06d", i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Put: %v", err)
		}
	}
	var n int64
	testDB.Table("slack_threads").Where("subject_id = ?", race.SubjectID).Count(&n)
	if n != 1 {
		t.Errorf("%d rows for one key", n)
	}
}
