package activity

import (
	"encoding/json"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgarray"
)

// RetractedFilter says how a feed or history query treats retracted events.
type RetractedFilter int

// The retracted filters.
const (
	// HideRetracted leaves retracted events out: the default.
	HideRetracted RetractedFilter = iota
	// IncludeRetracted shows them with the others (Event.Retracted tells).
	IncludeRetracted
	// OnlyRetracted shows only them.
	OnlyRetracted
)

// historyFilter adds the tag and retraction conditions of f.
func (d *Domain) historyFilter(tx *gorm.DB, f filter) (*gorm.DB, error) {
	if len(f.Subjects) > 0 {
		for _, s := range f.Subjects {
			if _, err := d.subjectArg(s); err != nil {
				return nil, err
			}
		}
		tx = tx.Where("e.subject_id = ANY(?::"+string(d.subject.KeyType)+"[])", pgarray.Text(f.Subjects))
	}
	switch f.Retracted {
	case HideRetracted:
		tx = tx.Where("e.retracted_at IS NULL")
	case IncludeRetracted:
	case OnlyRetracted:
		tx = tx.Where("e.retracted_at IS NOT NULL")
	default:
		return nil, &QueryError{Field: "Retracted", Reason: fmt.Sprintf("is %d; use HideRetracted, IncludeRetracted or OnlyRetracted", f.Retracted)}
	}
	if len(f.Tags) > 0 {
		if err := CheckTags(f.Tags); err != nil {
			return nil, &QueryError{Field: "Tags", Reason: err.Error()}
		}
		b, _ := json.Marshal(f.Tags)
		tx = tx.Where("e.tags @> ?::jsonb", string(b))
	}
	return tx, nil
}
