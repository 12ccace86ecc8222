-- observation_writes counts the transactions that wrote or deleted
-- observations, whoever ran them: a daemon tells from it that another process
-- (geowatch ingest, prune) changed the rows it keeps in memory.
CREATE TABLE observation_writes (seq INTEGER NOT NULL);
INSERT INTO observation_writes (seq) VALUES (0);
