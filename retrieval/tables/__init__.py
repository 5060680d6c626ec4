"""Tables from documents and from messy records, each cell proven by a quote.

- `model`: columns, sources (pages or lines), cells with their evidence, rows and tables.
- `sources`: a PDF's pages, a text's lines, a stored document read again from its file.
- `values`: a value read by its type (numbers with units, dates, enums, yes/no) and checked
  against its quote; `quotes` finds a quote in the text it claims to come from.
- `extraction`: the model asked, window by window, for each cell's value and quote; columns
  proposed from a sample.
- `request`: one request's scope read into sources, and its work.
- `database`: finished tables in a SQLite file per workspace, and the read-only SQL over them;
  `exports`: CSV, XLSX and SQLite files of one table.

Imports `meetings` (dates, parts that fit the model), `llm`, `storage`, `core` and `ingest`;
not `answers` or `search`."""
