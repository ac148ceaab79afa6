// Package rawscan reads a raw query's rows into a destination as gorm's
// Scan does, without what Scan costs besides: gorm's (*DB).Scan renders
// every statement with its values inlined (logger.ExplainSQL, a handful
// of regular expressions) for a trace recorder, whatever the logger's
// level, and drops the text when nothing logs it. On a delivery's hot
// path (the ledger's claim, a recipient's preferences and addresses) that
// was a fifth of the client's CPU per statement (cmd/bench, the channel
// groups' profile).
//
//	var ids []int64
//	err := rawscan.All(db.WithContext(ctx).Raw(`SELECT id FROM t WHERE x = ?`, x), &ids)
package rawscan
