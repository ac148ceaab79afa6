package slack

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tidingsdev/tidings/internal/tenantfilter"
)

// GormThreads is a ThreadStore in PostgreSQL, in the table slack_threads
// (created by the library's migrations, see package migrations).
type GormThreads struct {
	db *gorm.DB
}

// NewGormThreads returns a store on db.
func NewGormThreads(db *gorm.DB) *GormThreads { return &GormThreads{db: db} }

type threadRow struct {
	Domain    string `gorm:"column:domain;primaryKey"`
	SubjectID string `gorm:"column:subject_id;primaryKey"`
	Route     string `gorm:"column:route;primaryKey"`
	Tenant    string `gorm:"column:tenant_id;primaryKey"`
	ChannelID string `gorm:"column:channel_id"`
	TS        string `gorm:"column:ts"`
}

func (threadRow) TableName() string { return "slack_threads" }

// Get implements ThreadStore.
func (s *GormThreads) Get(ctx context.Context, key ThreadKey) (Thread, bool, error) {
	var row threadRow
	q := s.db.WithContext(ctx)
	if tenantfilter.On { // off in the tidings_rlsonly test build: the policies alone scope it
		q = q.Where("tenant_id = ?", key.Tenant)
	}
	err := q.Where("domain = ? AND subject_id = ? AND route = ?", key.Domain, key.SubjectID, key.Route).
		Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Thread{}, false, nil
	}
	if err != nil {
		return Thread{}, false, fmt.Errorf("slack: read thread of %s %s in %s: %w", key.Domain, key.SubjectID, key.Route, err)
	}
	return Thread{Channel: row.ChannelID, TS: row.TS}, true, nil
}

// Put implements ThreadStore: one statement, INSERT ... ON CONFLICT DO
// UPDATE, so concurrent Puts never fail on the key.
func (s *GormThreads) Put(ctx context.Context, key ThreadKey, channel, ts string) error {
	row := threadRow{Domain: key.Domain, SubjectID: key.SubjectID, Route: key.Route, Tenant: key.Tenant, ChannelID: channel, TS: ts}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "tenant_id"}, {Name: "domain"}, {Name: "subject_id"}, {Name: "route"}},
		DoUpdates: clause.Assignments(map[string]any{
			"channel_id": channel, "ts": ts, "updated_at": gorm.Expr("now()"),
		}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("slack: save thread of %s %s in %s: %w", key.Domain, key.SubjectID, key.Route, err)
	}
	return nil
}
