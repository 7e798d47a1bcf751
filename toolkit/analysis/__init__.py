"""Analysis: questions asked of the record, answered as polars DataFrames.

The helpers (`queries`, with Q&A in `qa` and polls in `polls`), the fetch and
naming primitives they share (`query`), the `sql` command's locked-down ad hoc
SQL (`adhoc`) and the output formats of a DataFrame (`formats`). SELECT only,
with bound parameters. It imports `toolkit.store` (vocabulary) and below.
"""
