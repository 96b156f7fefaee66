// Package ldapsync mirrors a city's directory (Microsoft Active Directory,
// Samba AD or OpenLDAP) into Keyhall's Store, read only: it never writes to
// the directory.
//
// The parts, each a seam of its own:
//
//   - Config (config.go) describes one directory; presets (PresetActiveDirectory,
//     PresetOpenLDAP) fill in every attribute name, each one overridable.
//   - The reader (read.go) connects (ldaps://, or ldap:// with StartTLS; plain
//     ldap:// only to 127.0.0.1 with InsecurePlaintext), binds as the service
//     account and reads people and the mapped groups with the paged-results
//     control in its own cookie loop, page by page, with a timeout on every
//     request and a deadline on the whole read. Group membership is read from
//     the groups' side (member, with AD's range retrieval) and nesting is
//     computed here. Its result is a Snapshot: complete, or an error — never
//     a partial result that looks complete.
//   - The syncer (sync.go) compares a Snapshot with what the Store holds for
//     the directory, applies the difference in one transaction, disables
//     leavers at once and deletes them after a grace period, and refuses to
//     disable anybody when the read looks wrong (the safety valve).
//   - Incremental reads (read_changes.go): between full syncs, ReadChanges
//     reads only the people changed since the markers the last read left
//     (AD: uSNChanged with the domain controller's name, invocationId and
//     highestCommittedUSN, so that a restored or another controller gets a
//     full sync; OpenLDAP: modifyTimestamp with an overlap), every mapped
//     group in full, and unknown members of those groups. The syncer runs
//     it when RunOptions.Incremental asks and a full sync is not due
//     (Config.FullInterval); it never disables anybody for not being read.
//   - The verifier (bind.go) checks a directory person's password by binding
//     as her (authn.PasswordVerifier) and checks that she is still enabled
//     for passwordless sign-ins.
//
// The reader's choices, each to keep a wrong read from looking right:
//
//   - An entry the user filter finds but Keyhall cannot map (no id, a
//     username authn.CanonicalName refuses, an unreadable userAccountControl,
//     accountExpires or shadowExpire) is left out of People and listed in
//     Snapshot.Skipped with the reason and, where it could be read, its id;
//     it is logged, and the rest of the read stands.
//   - An AD account read without userAccountControl (every AD account has
//     one) fails the whole read, and the Verifier refuses her as
//     "directory unavailable": the service account may not read it (a
//     hardened domain), and every leaver would look enabled.
//   - A group mapping by DN whose group is not found fails the whole read:
//     otherwise every member would lose the group. A mapping by filter that
//     finds nothing is logged.
//   - Groups are read whole (every group under the group base DNs —
//     Config.GroupBaseDNs, default the base DNs — mapped or not, and each
//     group mapped by DN where it is, with its member values) so that a mapped group holding unmapped groups
//     that hold people resolves; nesting is walked in Keyhall, each group
//     once (cycles are harmless). Member DNs are compared as DNs, without
//     case. Groups are read in small pages (a group carries its members).
//   - AD: a person's primary group (primaryGroupID, the group's RID) does
//     not list her in member; she is counted as its member by the RID of
//     the group's objectSid.
//   - `keyhall directory check` calls Directory.Check: connect, bind, count,
//     three samples, the group mappings, and each problem in plain words.
//
// People are matched by the directory's stable id (Person.ExternalID:
// entryUUID, or AD's objectGUID in its canonical string form), never by name.
package ldapsync
