// Package keyspace is the one place Segmentor's Redis key names are made.
//
// Every key of one portal carries the portal's hash tag, {member_id}: on a
// Redis Cluster all of a portal's keys live on one node, so a script,
// transaction or pipeline over them never crosses nodes, and deleting a
// portal is a scan of one prefix (Scan: on every master of a cluster). asynq
// keeps its own keys (asynq:{queue}:…); the global keys below are each
// touched alone, never in a script or transaction with a portal's.
//
//	seg:portals                       the installed portals' member_ids
//	seg:scheduler:leader              the scheduler's leader lock
//	seg:p:{member}:portal             the portal record (app.Store)
//	seg:p:{member}:<part>             its other data: token, config, directory, mirror (m:…), audit, …
//	seg:p:{member}:a:<entity>:<n>     the audit trails of a bucket of records, one field each (app.Store)
//	seg:audit-layout                  the old per-record audit trails are converted (app.Store)
//	seg:p:{member}:lists, list:<key>     the static lists and each one's members, packed (app.Store)
//	seg:p:{member}:listdraft:<id>        a list upload being matched or awaiting confirmation, expiring (app.Store)
//	seg:p:{member}:pending:<entity>:<id>  a record waiting in a changes job (jobs.Queue)
//	seg:p:{member}:changes-lock       one changes job at a time (jobs)
//	seg:p:{member}:reconciled         the last reconciliation scan (jobs)
//	seg:p:{member}:b24:<name>         the REST client's budget, method pauses and refresh lock (bitrix)
//	seg:p:{member}:signin…            remembered sign-ins and refusals (by token hash), the sign-in checks' budgets (app)
package keyspace

import "strconv"

// Portals is the set of installed portals.
const Portals = "seg:portals"

// SchedulerLeader is the scheduler's leader lock.
const SchedulerLeader = "seg:scheduler:leader"

// PortalPrefix starts every key of the portal.
func PortalPrefix(memberID string) string { return "seg:p:{" + memberID + "}:" }

// Portal is the key of one part of a portal's data.
func Portal(memberID, part string) string { return PortalPrefix(memberID) + part }

// Pending marks a record that waits in a queued changes job.
func Pending(memberID, entity string, id int64) string {
	return Portal(memberID, "pending:"+entity+":"+strconv.FormatInt(id, 10))
}

// ChangesLock runs a portal's changes jobs one at a time.
func ChangesLock(memberID string) string { return Portal(memberID, "changes-lock") }

// ChangesLockWanted marks a portal's changes lock as waited for by a job
// that goes first (a backfill's write batch).
func ChangesLockWanted(memberID string) string { return Portal(memberID, "changes-lock-wanted") }

// Reconciled is when the portal's last reconciliation scan started.
func Reconciled(memberID string) string { return Portal(memberID, "reconciled") }

// Bitrix is a key of the REST client's (bitrix.Config.Key): the portal's
// shared request budget, method pauses, refresh lock.
func Bitrix(memberID, name string) string { return Portal(memberID, "b24:"+name) }
