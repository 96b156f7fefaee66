package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/mds"
)

// mdsCommand returns "keyhall admin mds": the FIDO Metadata Service blob.
func mdsCommand() *command {
	return &command{
		name:    "mds",
		summary: "import FIDO's metadata of key models (MDS3), offline",
		help: "Keyhall knows key models (their names, certification, and whether FIDO revoked them)\n" +
			"from the FIDO Metadata Service blob, which the city downloads itself from\n" +
			"https://mds3.fidoalliance.org/ once a month. Nothing is fetched at run time.",
		subs: []*command{mdsImportCommand()},
	}
}

func mdsImportCommand() *command {
	return &command{
		name:    "import",
		args:    "FILE",
		summary: "check and import an MDS3 blob",
		help: "Checks the blob FILE (a JWT) and stores its models, replacing those imported before:\n" +
			"its signature, its certificate chain to the FIDO root shipped in Keyhall (GlobalSign\n" +
			"Root R46) with a signing certificate for mds.fidoalliance.org, each certificate's\n" +
			"validity, its nextUpdate (a blob past it is refused, unless --allow-stale), and that its number is not\n" +
			"lower than the imported one's. Revocation of the chain's certificates is checked only\n" +
			"against the CRLs given with --crl (DER or PEM, each signed by the certificate's\n" +
			"issuer and not past its own next update); the certificates no CRL covers are named.",
		examples: []string{
			"keyhall admin mds import blob.jwt --config /etc/keyhall/keyhall.yaml",
			"keyhall admin mds import blob.jwt --crl gsgccr46evtlsca2025.crl --crl root-r46.crl",
			"keyhall admin mds import blob.jwt --allow-stale",
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			allowStale := fs.Bool("allow-stale", false, "import a blob past its nextUpdate anyway (when FIDO's next one is late); keyhall_mds_stale stays 1")
			var crls []string
			fs.Func("crl", "check revocation against the CRL in `FILE` (repeat for each)", func(s string) error {
				crls = append(crls, s)
				return nil
			})
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args, "FILE"); err != nil {
					return err
				}
				blob, err := readLimited(args[0], mds.MaxSize)
				if err != nil {
					return err
				}
				o := mds.Options{Now: time.Now(), AllowStale: *allowStale}
				for _, name := range crls {
					b, err := readLimited(name, mds.MaxSize)
					if err != nil {
						return err
					}
					o.CRLs = append(o.CRLs, mds.CRL{Name: name, Data: b})
				}
				return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
					b, err := mds.Import(ctx, st, blob, o, cliActor())
					if err != nil {
						return &cliError{msg: fmt.Sprintf("%s: not imported: %v", args[0], err), err: err}
					}
					if b.Stale {
						fmt.Fprintf(a.stderr, "Warning: %s is past its next update (%s): imported anyway (--allow-stale). Models FIDO revoked since are not known; keyhall_mds_stale stays 1 until a current blob is imported.\n",
							args[0], b.NextUpdate.Format(time.DateOnly))
					}
					return printImport(a.stdout, args[0], b)
				})
			}
		},
	}
}

// readLimited reads the file name, refusing one larger than limit.
func readLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("%s: larger than %d MB", name, limit>>20)
	}
	return b, err
}

func printImport(w io.Writer, file string, b mds.Blob) error {
	fmt.Fprintf(w, "Imported %s: MDS blob no. %d, next update %s: %d models (of %d entries), %d of them compromised.\n",
		file, b.No, b.NextUpdate.Format(time.DateOnly), len(b.Models), b.Entries, b.Compromised())
	fmt.Fprintf(w, "Signed by %s, chained to %s.\n", b.Signer, b.Root)
	for _, c := range b.Checked {
		fmt.Fprintf(w, "Not revoked (CRL given): %s\n", c)
	}
	for _, c := range b.Unchecked {
		fmt.Fprintf(w, "Revocation not checked (no CRL given): %s\n", c)
	}
	fmt.Fprintf(w, "%d attestation roots of the models stored: a key chaining to one its model lists proves its model.\n", b.Roots)
	for _, p := range b.RootProblems {
		fmt.Fprintf(w, "Attestation root: %s\n", p)
	}
	_, err := fmt.Fprintln(w, "Run 'keyhall admin keys report' to see who holds keys of compromised models.")
	return err
}

// keysReportJSON is the stable JSON form of "keys report".
type keysReportJSON struct {
	Imported   bool              `json:"mds_imported"`
	No         int               `json:"mds_no,omitempty"`
	NextUpdate string            `json:"mds_next_update,omitempty"`
	Stale      bool              `json:"mds_stale"`
	Models     []heldModelJSON   `json:"compromised_models"`
	Groups     []groupHolderJSON `json:"groups"`
}

type heldModelJSON struct {
	AAGUID     string `json:"aaguid"`
	Name       string `json:"name"`
	Compromise string `json:"compromise"`
	Keys       int    `json:"keys"`
	People     int    `json:"people"`
	// Unverified: of Keys, those whose model only the key reported (no
	// attestation by a trusted root proved it at registration).
	Unverified int `json:"unverified"`
}

type groupHolderJSON struct {
	Group  string `json:"group"` // "" for people in no group
	People int    `json:"people"`
}

func keysReportCommand() *command {
	return &command{
		name:    "report",
		summary: "who holds keys of models FIDO reports compromised",
		help: "Lists the key models of the imported MDS blob that FIDO reports REVOKED,\n" +
			"ATTESTATION_KEY_COMPROMISE, USER_VERIFICATION_BYPASS or USER_KEY_REMOTE_COMPROMISE\n" +
			"and of which keys are registered, and how many people in each group hold one, so\n" +
			"that IT can replace them. The person's page in /admin flags each such key.",
		examples: []string{"keyhall admin keys report", "keyhall admin keys report --json"},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
					rep, err := keysReport(ctx, st, time.Now())
					if err != nil {
						return err
					}
					if *asJSON {
						return writeJSON(a.stdout, rep)
					}
					return printKeysReport(a.stdout, rep)
				})
			}
		},
	}
}

func keysReport(ctx context.Context, st authn.KeyModelStore, now time.Time) (keysReportJSON, error) {
	rep := keysReportJSON{Models: []heldModelJSON{}, Groups: []groupHolderJSON{}}
	m, err := st.KeyMetadata(ctx)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return rep, nil
	case err != nil:
		return rep, err
	}
	rep.Imported, rep.No, rep.NextUpdate, rep.Stale = true, m.No, m.NextUpdate.Format(time.DateOnly), mds.Stale(m.NextUpdate, now)
	held, err := st.CompromisedKeys(ctx)
	if err != nil {
		return rep, err
	}
	for _, h := range held.Models {
		rep.Models = append(rep.Models, heldModelJSON{AAGUID: uuid.UUID(h.AAGUID).String(), Name: h.Name,
			Compromise: h.Compromise, Keys: h.Keys, People: h.People, Unverified: h.Unverified})
	}
	for _, g := range held.Groups {
		rep.Groups = append(rep.Groups, groupHolderJSON{Group: g.Group, People: g.People})
	}
	return rep, nil
}

func printKeysReport(w io.Writer, rep keysReportJSON) error {
	if !rep.Imported {
		_, err := fmt.Fprintln(w, "No MDS blob imported: Keyhall knows of no compromised key model. See 'keyhall admin mds import'.")
		return err
	}
	fmt.Fprintf(w, "MDS blob no. %d, next update %s.\n", rep.No, rep.NextUpdate)
	if rep.Stale {
		fmt.Fprintln(w, "Warning: the blob is past its next update; import the current one.")
	}
	if len(rep.Models) == 0 {
		_, err := fmt.Fprintln(w, "No registered key is of a model FIDO reports compromised.")
		return err
	}
	rows := [][]string{{"MODEL", "AAGUID", "STATUS", "KEYS", "NOT VERIFIED", "PEOPLE"}}
	for _, m := range rep.Models {
		rows = append(rows, []string{cell(m.Name), m.AAGUID, m.Compromise, strconv.Itoa(m.Keys), strconv.Itoa(m.Unverified), strconv.Itoa(m.People)})
	}
	if err := writeTable(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, "NOT VERIFIED: keys whose model only the key reported (no attestation by a trusted root);\nthe model may be another, and keys of a compromised model may hide under other models.")
	fmt.Fprintln(w)
	rows = [][]string{{"GROUP", "PEOPLE"}}
	for _, g := range rep.Groups {
		rows = append(rows, []string{cell(strings.TrimSpace(g.Group)), strconv.Itoa(g.People)})
	}
	return writeTable(w, rows)
}
