"""The `slido-compliance` command: each command parses its options and calls one function.

`main` holds the group and the entry point (a `ToolkitError` becomes `Error: ...`
and its exit status); `options` the options shared by commands; the commands
themselves are grouped by what they do to the record: `record` keeps it (sync,
status), `use` reads it (sql, report), `evidence` hands it over (export, verify),
`offline` needs no Webex (sample, sandbox, demo). Nothing else in the toolkit prints,
reads `sys.argv` or exits.
"""

from toolkit.cli import evidence, offline, record, use  # noqa: F401  (registers the commands)
from toolkit.cli.main import cli, main

__all__ = ["cli", "main"]
