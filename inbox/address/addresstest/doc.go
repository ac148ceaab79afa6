// Package addresstest is the test support the address channels share
// (inbox/webpush, inbox/sms, inbox/mobilepush): a World (the package's
// own database with a tenanted issues domain, its own Redis database, a
// worker that reports each attempt) and a Log, the record of what a
// local peer (a push service, Twilio, FCM, APNs) received, which a test
// waits on with a deadline instead of sleeping.
//
//	var world = addresstest.NewWorld("sms", 12)
//
//	func TestMain(m *testing.M) { os.Exit(world.Run(m, nil)) }
package addresstest
