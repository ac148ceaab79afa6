package device_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/tidingsdev/tidings/inbox/device"
)

// A person's phone and phone app: registered (the number normalized to
// E.164), listed for an event's recipients in one query, and the app's
// token pruned when APNs answers 410 Unregistered.
func Example() {
	ctx := context.Background() // a tenanted app's carries the tenant (activity.WithTenant)
	db := testDB                // the app's (here the tests')

	phone, err := device.Register(ctx, db, device.Address{Recipient: "ex-7", Kind: device.Phone, Address: "+1 (415) 555-0100", Label: "mobile"})
	if err != nil {
		panic(err)
	}
	token := strings.Repeat("ab", 32) // as the app on the phone reported it
	if _, err := device.Register(ctx, db, device.Address{Recipient: "ex-7", Kind: device.APNs, Address: token}); err != nil {
		panic(err)
	}
	fmt.Println(phone.Kind, phone.Address)

	byPerson, err := device.ListFor(ctx, db, []string{"ex-7", "ex-8"}, device.APNs)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(byPerson["ex-7"]), len(byPerson["ex-8"]))

	n, err := device.Gone(ctx, db, device.APNs, token) // APNs: 410 Unregistered
	if err != nil {
		panic(err)
	}
	left, err := device.List(ctx, db, "ex-7")
	if err != nil {
		panic(err)
	}
	fmt.Println(n, len(left), left[0].Kind)

	if _, err := device.Remove(ctx, db, "ex-7", device.Phone, phone.Address); err != nil {
		panic(err)
	}
	// Output:
	// phone +14155550100
	// 1 0
	// 1 1 phone
}
