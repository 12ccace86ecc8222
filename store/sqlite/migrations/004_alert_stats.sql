-- alerts.stats: the finding's rule-specific figures (a surge's observed, expected,
-- ratio, p) as a JSON object of numbers; NULL for rules that have none.
-- Non-finite values, which JSON cannot hold, are the strings "NaN", "+Inf", "-Inf".
ALTER TABLE alerts ADD COLUMN stats TEXT;
