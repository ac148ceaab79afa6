package main

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tidingsdev/tidings/migrations"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationsTable is the goose version table of the demo's own migrations.
const MigrationsTable = "demo_migrations"

// openDatabase connects to cfg.DSN, creating the database when it does not
// exist, applies the library's migrations and then the demo's own.
func openDatabase(ctx context.Context, dsn string) (*gorm.DB, error) {
	pcfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("bad -db DSN %q: %w (use key=value pairs like %q, or a postgres:// URL)", dsn, err, DefaultDSN)
	}
	if err := ensureDatabase(ctx, pcfg); err != nil {
		return nil, err
	}
	sqlDB := stdlib.OpenDB(*pcfg)
	sqlDB.SetMaxOpenConns(32)
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", pcfg.Database, err)
	}
	if err := migrate(ctx, sqlDB); err != nil {
		return nil, err
	}
	return db, nil
}

// ensureDatabase creates pcfg.Database when missing, connecting to the
// server's postgres database to do it.
func ensureDatabase(ctx context.Context, pcfg *pgx.ConnConfig) error {
	name := pcfg.Database
	if name == "" {
		return fmt.Errorf("the -db DSN names no database: add dbname=tidings_demo")
	}
	admin := pcfg.Copy()
	admin.Database = "postgres"
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		if unreachable(err) {
			return &ServiceError{Service: "PostgreSQL", Addr: net.JoinHostPort(pcfg.Host, strconv.Itoa(int(pcfg.Port))), Hint: postgresHint(), Err: err}
		}
		return fmt.Errorf("connect to PostgreSQL at %s:%d as %s: %w", pcfg.Host, pcfg.Port, pcfg.User, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: another process won
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// migrate applies the library's migrations, then the demo's own (its
// tables and the issue domain's events table).
func migrate(ctx context.Context, sqlDB *sql.DB) error {
	if err := migrations.Up(ctx, sqlDB); err != nil {
		return err
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	m, err := migrations.New(sqlDB, sub, MigrationsTable)
	if err != nil {
		return err
	}
	return m.Up(ctx)
}
