"""Evidence: the export folder a recipient checks offline, and the check itself.

`export` writes a new or empty folder: the events as hive-partitioned Parquet
(`events/session_org_id=…/session_id=…/`), the contract's relations as typed
Parquet (`tables/`, read through `tables`), each session's audit report
(`reports/`), and, last, `manifest.json` (`manifest`: format, hashing, reading
and writing). `verify` checks such a folder against its manifest without the
database (file sizes and SHA-256, no extra files, Parquet row counts, each
session's event digest, each `event_id` recomputed from its row by `rows`), and
with a database compares the two. It sits beside `report` and may import
`report`, `analysis`, `ingest.events` (the pure event-id functions), `store`,
`config` and `errors`; nothing here prints or exits.
"""

from toolkit.evidence.export import ExportResult, export_record
from toolkit.evidence.verify import VerifyResult, verify_export

__all__ = ["ExportResult", "VerifyResult", "export_record", "verify_export"]
