package activity

import (
	"database/sql"
	"fmt"
	"strings"
)

// eventColumns lists the columns every read selects, in scanEvent's order.
var eventColumns = []string{
	"id", "subject_id::text", "action", "actor_type", "actor_id", "actor_label",
	"record_type", "record_id", "record_label", "extra", "occurred_at", "created_at",
	"updated_at", "repeats", "request_id", "correlation_id", "causation_domain",
	"causation_id", "depth", "source", "host(ip)", "user_agent",
	"tags", "retracted_at", "retracted_by", "retraction_reason",
}

// selectList renders eventColumns, each qualified by prefix ("e." or "(t.ev).").
func selectList(prefix string) string {
	var b strings.Builder
	for i, c := range eventColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case strings.HasPrefix(c, "host("):
			b.WriteString("host(" + prefix + "ip)")
		case strings.HasSuffix(c, "::text"):
			b.WriteString(prefix + c)
		default:
			b.WriteString(prefix + c)
		}
	}
	return b.String()
}

type scanner interface{ Scan(dest ...any) error }

// scanEvent scans one row selected with selectList, after any leading
// columns given in pre.
func scanEvent(s scanner, domain string, e *Event, pre ...any) error {
	var extra, tags []byte
	dest := append(pre,
		&e.ID, &e.SubjectID, &e.Action, &e.ActorType, &e.ActorID, &e.ActorLabel,
		&e.RecordType, &e.RecordID, &e.RecordLabel, &extra, &e.OccurredAt, &e.CreatedAt,
		&e.UpdatedAt, &e.Repeats, &e.RequestID, &e.CorrelationID, &e.CausationDomain,
		&e.CausationID, &e.Depth, &e.Source, &e.IP, &e.UserAgent,
		&tags, &e.RetractedAt, &e.RetractedBy, &e.RetractionReason,
	)
	if err := s.Scan(dest...); err != nil {
		return err
	}
	if err := decodeTags(tags, &e.Tags); err != nil {
		return err
	}
	e.Domain = domain
	e.Extra = extra // already a copy: database/sql clones into *[]byte
	return nil
}

// domainSQL holds a domain's statements, built once at declaration from
// validated identifiers only.
type domainSQL struct {
	insert   string // one statement: event + outbox row (+ notify)
	throttle string // one statement: the domain's throttle function
	byID     string
	byIDs    string // ANY of a bigint[] parameter
}

const insertColumns = "subject_id, action, actor_type, actor_id, actor_label, record_type, record_id, record_label, extra, occurred_at, created_at, updated_at, request_id, correlation_id, causation_domain, causation_id, depth, source, ip, user_agent"

func buildDomainSQL(d *Domain) domainSQL {
	notify := ""
	if d.notify {
		notify = fmt.Sprintf(" CROSS JOIN LATERAL (SELECT pg_notify('%s', '%s')) n", OutboxChannel, d.name)
	}
	key := string(d.subject.KeyType)
	insert := fmt.Sprintf(`WITH ev AS (INSERT INTO %[1]s (%[2]s, tags) VALUES (?::%[3]s, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::inet, ?, ?::jsonb) RETURNING *), `+
		`ob AS (INSERT INTO %[4]s (domain, event_id, action, subject_id) SELECT '%[5]s', id, action, subject_id::text FROM ev) `+
		`SELECT false, %[6]s FROM ev e%[7]s`,
		d.table, insertColumns, key, OutboxTable, d.name, selectList("e."), notify)
	throttle := fmt.Sprintf(`SELECT t.throttled, %[1]s FROM %[2]s_record_throttled(?::%[3]s, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?::inet, ?, ? * interval '1 microsecond', ?) t`,
		selectList("(t.ev)."), d.table, key)
	byID := fmt.Sprintf(`SELECT %s FROM %s e WHERE e.id = ?`, selectList("e."), d.table)
	byIDs := fmt.Sprintf(`SELECT %s FROM %s e WHERE e.id = ANY(?::bigint[])`, selectList("e."), d.table)
	return domainSQL{insert: numbered(insert), throttle: numbered(throttle), byID: numbered(byID), byIDs: byIDs}
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
