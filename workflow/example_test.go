package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/workflow"
)

// The classic rule: when a comment is added to an issue created before
// 2022, the rule matches (and its action would reply "This issue is stale").
func ExampleSchema_Compile() {
	issues := activity.MustDomain(activity.DomainConfig{
		Name:    "issue",
		Actions: []string{"comment_added", "status_changed"},
	})
	// The app says how to load an issue's fields; in a real app, a query.
	created := map[string]time.Time{"17": time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC), "42": time.Date(2023, 5, 1, 0, 0, 0, 0, time.UTC)}
	schema, err := workflow.NewSchema(workflow.SchemaConfig{
		Domain: issues,
		Subject: workflow.Object{
			Fields: workflow.Fields{"created_at": workflow.Time, "title": workflow.String},
			Resolver: workflow.ResolverFunc(func(ctx context.Context, id string) (map[string]any, error) {
				return map[string]any{"created_at": created[id]}, nil
			}),
		},
		Extra: workflow.Fields{"body": workflow.String},
	})
	if err != nil {
		panic(err)
	}

	// Rules arrive as JSON from a rule editor and are checked before saving.
	var bad workflow.Conditions
	json.Unmarshal([]byte(`[
		{"attribute": "subject.created_at", "operator": "greater", "value": "2022-01-01"},
		{"attribute": "subject.title", "operator": "lt", "value": 3}
	]`), &bad)
	_, err = schema.Compile(bad)
	var verr *workflow.ValidationError
	if errors.As(err, &verr) {
		for _, p := range verr.Problems {
			fmt.Println(p)
		}
	}

	stale, err := schema.Compile(workflow.Conditions{
		workflow.Cond("subject.created_at", workflow.OpLt, "2022-01-01"),
	})
	if err != nil {
		panic(err)
	}
	for _, issue := range []string{"17", "42"} {
		ev := activity.Event{Domain: "issue", SubjectID: issue, Action: "comment_added", ActorType: "users", ActorID: "3", Extra: []byte(`{"body":"still broken"}`)}
		res, err := stale.Evaluate(context.Background(), schema.NewFacts(ev))
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Matched, res.Explanation())
	}
	// Output:
	// conditions[0].operator: unknown operator "greater"; expected one of eq, ne, lt, lte, gt, gte, in, not_in, contains, starts_with, matches, exists, not_exists, older_than, newer_than, changed_from, changed_to
	// conditions[1].value: subject.title is a string, so lt needs a string; got 3 (a number)
	// true conditions[0]: subject.created_at (2021-03-04) is lt 2022-01-01
	// false conditions[0]: subject.created_at (2023-05-01) is not lt 2022-01-01
}

// A receiver checks that a webhook came from this app, and recently.
func ExampleVerifySignature() {
	secret := []byte("the rule's secret")
	body := []byte(`{"event":"comment_added"}`)
	sentAt := time.Unix(1717243200, 0)

	// What WebhookClient.Post sends in its headers:
	signature := workflow.Sign(secret, sentAt, body)
	timestamp := "1717243200"

	// What the receiver does with them:
	err := workflow.VerifySignature(secret, signature, timestamp, body, sentAt.Add(time.Minute), 5*time.Minute)
	fmt.Println(err)
	err = workflow.VerifySignature(secret, signature, timestamp, []byte(`{"event":"forged"}`), sentAt.Add(time.Minute), 5*time.Minute)
	fmt.Println(err)
	// Output:
	// <nil>
	// webhook: invalid webhook signature: it does not match the body and timestamp
}
