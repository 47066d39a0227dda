"""Writes core/tests/fixtures/books.parquet: the first three chunks of data/eval/books.jsonl as a
parquet table (columns `id` int64, `content` string), snappy-compressed, as pyarrow and Hugging Face
`datasets` write them. Run from the repository root: `.venv-ref/bin/python
scripts/reference/make_parquet_fixture.py` (pip install pyarrow into the reference venv first)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq

rows = [json.loads(line) for line in open("data/eval/books.jsonl", encoding="utf-8")][:3]
table = pa.table({"id": pa.array(range(100, 103), pa.int64()), "content": [r["text"] for r in rows]})
pq.write_table(table, "core/tests/fixtures/books.parquet", compression="snappy")
print(f"wrote core/tests/fixtures/books.parquet: {table.num_rows} rows, pyarrow {pa.__version__}")
