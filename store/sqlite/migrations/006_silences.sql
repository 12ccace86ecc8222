-- silences: analysts' mutes of alert notifications, as Alertmanager's. A NULL
-- watch or rule matches any. A silence mutes from starts_at until ends_at;
-- expiring one early sets ends_at (and expired_at) to the moment it was
-- expired, and starts_at too if it had not started.
CREATE TABLE silences (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  watch TEXT,
  rule TEXT,
  starts_at DATETIME NOT NULL,
  ends_at DATETIME NOT NULL,
  created_by TEXT,
  comment TEXT,
  created_at DATETIME NOT NULL,
  expired_at DATETIME,
  CHECK (ends_at >= starts_at)
);

-- The engine reads the silences not yet ended at every evaluation; ended ones pile up.
CREATE INDEX silences_ends_at ON silences (ends_at);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
VALUES ('silences', 'attributes', 'silences', 'mutes of alert notifications by watch and rule, with who and why');
