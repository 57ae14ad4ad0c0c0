"""Resumable batch alignment (``tddfa batch``): inputs -> engine (local processes or Ray actors) -> ledger ->
``faces.parquet`` + ``errors.jsonl`` (docs/batch.md).

:mod:`.inputs` streams items from folders, globs and manifests; :mod:`.worker` turns one item into outputs and
face rows; :mod:`.local` and :mod:`.ray_engine` run workers; :mod:`.ledger` commits each finished item;
:mod:`.job` drives a run and merges the ledger; :mod:`.table` is the row schema. Needs pyarrow
(``pip install 'tddfa[batch]'``); Ray for :mod:`.ray_engine` (``'tddfa[ray]'``).
"""
