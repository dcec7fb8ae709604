-- Module lineage: the content hash (SHA-256 of the .wasm bytes, hex) of the module
-- that rejected the record, or that emitted the row the database refused. NULL for
-- dead letters written before this column existed.
ALTER TABLE dead_letter ADD COLUMN module_sha256 CHAR(64) NULL;
