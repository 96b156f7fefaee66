package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.KeyModelStore = (*Store)(nil)

const keyModelCols = "m.aaguid, m.name, m.status, m.status_date, m.compromise, m.certification"

func scanKeyModel(r row, extra ...any) (authn.KeyModel, error) {
	var m authn.KeyModel
	var id []byte
	err := r.Scan(append([]any{&id, &m.Name, &m.Status, timeCol{&m.StatusDate}, &m.Compromise, &m.Certification}, extra...)...)
	if err == nil && len(id) != 16 {
		err = fmt.Errorf("aaguid of %d bytes", len(id))
	}
	copy(m.AAGUID[:], id)
	return m, err
}

// scanKeyModelRoots scans keyModelCols and m.roots (which the report,
// CompromisedKeys, does not read).
func scanKeyModelRoots(r row) (authn.KeyModel, error) {
	var roots []byte
	m, err := scanKeyModel(r, &roots)
	if len(roots) > 0 {
		m.Roots = roots
	}
	return m, err
}

// ImportKeyModels replaces the models and the blob's facts, unless a blob
// with a higher number is stored.
func (s *Store) ImportKeyModels(ctx context.Context, m authn.KeyMetadata, models []authn.KeyModel, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		var stored int64
		err := tx.QueryRowContext(ctx, "SELECT no FROM key_metadata WHERE id = 1").Scan(&stored)
		switch {
		case err == nil && stored > int64(m.No):
			return fmt.Errorf("blob number %d is lower than the imported %d: %w", m.No, stored, authn.ErrNotForward)
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM key_models"); err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO key_models (aaguid, name, status, status_date, compromise, certification, roots)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, k := range models {
			if _, err := ins.ExecContext(ctx, k.AAGUID[:], k.Name, k.Status, s.tvNull(k.StatusDate), k.Compromise, k.Certification, append([]byte{}, k.Roots...)); err != nil {
				return fmt.Errorf("model %x: %w", k.AAGUID, dbErr(err))
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO key_metadata (id, no, next_update, imported_at, models) VALUES (1, $1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET no = excluded.no, next_update = excluded.next_update,
				imported_at = excluded.imported_at, models = excluded.models`,
			int64(m.No), s.tv(m.NextUpdate), s.tv(m.ImportedAt), len(models))
		return err
	})
	if err != nil {
		return fmt.Errorf("import key models: %w", err)
	}
	return nil
}

// KeyMetadata returns the imported blob's facts.
func (s *Store) KeyMetadata(ctx context.Context) (authn.KeyMetadata, error) {
	var m authn.KeyMetadata
	var no int64
	err := s.rdb.QueryRowContext(ctx, "SELECT no, next_update, imported_at, models FROM key_metadata WHERE id = 1").
		Scan(&no, timeCol{&m.NextUpdate}, timeCol{&m.ImportedAt}, &m.Models)
	if err != nil {
		return authn.KeyMetadata{}, fmt.Errorf("read key metadata: %w", dbErr(err))
	}
	m.No = int(no)
	return m, nil
}

// KeyModels returns the stored models among aaguids.
func (s *Store) KeyModels(ctx context.Context, aaguids [][16]byte) (map[[16]byte]authn.KeyModel, error) {
	out := map[[16]byte]authn.KeyModel{}
	if len(aaguids) == 0 {
		return out, nil
	}
	marks, args := make([]string, len(aaguids)), make([]any, len(aaguids))
	for i, a := range aaguids {
		marks[i], args[i] = fmt.Sprintf("$%d", i+1), a[:]
	}
	ms, err := queryAll(ctx, s, "read key models", scanKeyModelRoots,
		"SELECT "+keyModelCols+", m.roots FROM key_models m WHERE m.aaguid IN ("+strings.Join(marks, ", ")+")", args...)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		out[m.AAGUID] = m
	}
	return out, nil
}

// CompromisedKeys counts the registered keys of compromised models, by
// model and by group.
func (s *Store) CompromisedKeys(ctx context.Context) (authn.CompromisedKeys, error) {
	var out authn.CompromisedKeys
	var err error
	out.Models, err = queryAll(ctx, s, "count keys of compromised models", func(r row) (authn.HeldModel, error) {
		var h authn.HeldModel
		var err error
		h.KeyModel, err = scanKeyModel(r, &h.Keys, &h.People, &h.Unverified)
		return h, err
	}, "SELECT "+keyModelCols+`, COUNT(*), COUNT(DISTINCT c.user_id), SUM(CASE WHEN c.attested THEN 0 ELSE 1 END)
		FROM key_models m JOIN credentials c ON c.aaguid = m.aaguid
		WHERE m.compromise <> '' AND c.kind = 'webauthn'
		GROUP BY `+keyModelCols+` ORDER BY m.name, m.aaguid`)
	if err != nil {
		return authn.CompromisedKeys{}, err
	}
	out.Groups, err = queryAll(ctx, s, "count holders of compromised models", func(r row) (authn.GroupHolders, error) {
		var g authn.GroupHolders
		return g, r.Scan(&g.Group, &g.People)
	}, `SELECT COALESCE(g.name, ''), COUNT(DISTINCT c.user_id)
		FROM credentials c JOIN key_models m ON m.aaguid = c.aaguid
		LEFT JOIN memberships ms ON ms.user_id = c.user_id LEFT JOIN groups g ON g.id = ms.group_id
		WHERE m.compromise <> '' AND c.kind = 'webauthn'
		GROUP BY COALESCE(g.name, '') ORDER BY 1`)
	if err != nil {
		return authn.CompromisedKeys{}, err
	}
	return out, nil
}
