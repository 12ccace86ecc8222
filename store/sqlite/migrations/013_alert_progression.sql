-- alerts.progression: a progression rule's account of activity moving along a
-- corridor watch, as a JSON object: direction, steps (along_km, at, count, lat,
-- lon, place, fids), speed_kmh, and the predicted next step and corridor end.
-- NULL for every other rule.
ALTER TABLE alerts ADD COLUMN progression TEXT;
