package rawscan

import "gorm.io/gorm"

// All runs q (a Raw query) and scans its rows into dest (a pointer to a
// slice, a struct or a value) with gorm's own row scanner, as
// q.Scan(dest).Error would; with no row, dest is left as it was.
func All(q *gorm.DB, dest any) error {
	rows, err := q.Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		if err := q.ScanRows(rows, dest); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}
