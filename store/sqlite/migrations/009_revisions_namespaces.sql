-- revised_at: the source's own revision time of the record (USGS's updated,
-- an Atom entry's <updated>), so that an older revision never replaces a
-- newer one. NULL where the format has none.
--
-- id_ns: the id namespace the record's source declared (id_namespace), shared
-- by sources that read one catalogue (USGS's hour, day and week feeds): a
-- record is stored once per (id_ns, ext_id), under the source that stored it
-- first. NULL for sources that declare none, which stay unique per
-- (source, ext_id).
ALTER TABLE observations ADD COLUMN revised_at DATETIME;
ALTER TABLE observations ADD COLUMN id_ns TEXT;
CREATE UNIQUE INDEX observations_ns_ext ON observations (id_ns, ext_id) WHERE id_ns IS NOT NULL;
