"""Store: the one DuckDB file and everything written to it.

`connect()`, the schema and its upgrades (`sql/*.sql`, applied in file-name order),
appending batches, the sync ledger (`sync_runs`, stored pages), the event ids a
session already has (`digests`), and the vocabulary shared with the stages above
(`records`: the event types, a stored page). Who holds the file and when (`handle`:
`toolkit.open`'s per-question reader, the sync's `RecordFile`), what a sync fetched
while the file was busy (`spool`), the sync's file locks (`locks`) and storage
failures said plainly (`failures`). It imports only `toolkit.config` and
`toolkit.errors`.
"""

from toolkit.store.database import connect

__all__ = ["connect"]
