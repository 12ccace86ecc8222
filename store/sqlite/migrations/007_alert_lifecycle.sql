-- The alert lifecycle beyond firing and resolved: pending alerts (state
-- 'pending', whose starts_at holds active_at until they fire), hysteresis and
-- repeat bookkeeping, and the rule's labels and rendered summary.
ALTER TABLE alerts ADD COLUMN active_at DATETIME;        -- when the rule started holding
ALTER TABLE alerts ADD COLUMN last_held_at DATETIME;     -- the last evaluation at which it held
ALTER TABLE alerts ADD COLUMN last_notified_at DATETIME; -- the last firing announcement (for repeat)
ALTER TABLE alerts ADD COLUMN labels TEXT;               -- JSON object of the rule's labels
ALTER TABLE alerts ADD COLUMN summary TEXT;              -- the rule's summary, rendered at the last transition
UPDATE alerts SET active_at = starts_at, last_held_at = updated_at, last_notified_at = starts_at;
