-- Delivery is an outbox: the transitions are the queue, and each subscriber
-- drains it in id order at its own pace, keeping its place here, so a slow or
-- dead subscriber delays only itself and a restart resumes each where it was.
-- alert_transitions.notified_at is set once every subscriber is past it.
CREATE TABLE subscriber_cursors (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- GeoPackage attribute tables have an integer key
  subscriber TEXT NOT NULL UNIQUE,
  transition_id INTEGER NOT NULL, -- the last transition it has (delivered or skipped)
  updated_at DATETIME NOT NULL
);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
VALUES ('subscriber_cursors', 'attributes', 'subscriber_cursors', 'the last alert transition each subscriber has');

-- The silence that muted a transition when it was persisted: subscribers skip
-- it, and a restart does not have to decide again.
ALTER TABLE alert_transitions ADD COLUMN silence_id INTEGER;
