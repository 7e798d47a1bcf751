"""Sample: the seeded, streaming generator of realistic synthetic datasets.

`generate` writes a dataset folder (a manifest and one JSON Lines file per
session); `session` plays one session, with its Q&A (`qaa`) and polls (`polls`),
from shared people and clocks (`context`) and texts (`text`). It imports only
`toolkit.config` and `toolkit.errors`.
"""

from toolkit.sample.generate import (
    SampleInfo,
    SessionInfo,
    default_dataset,
    read_manifest,
    write_sample,
)

__all__ = ["SampleInfo", "SessionInfo", "default_dataset", "read_manifest", "write_sample"]
