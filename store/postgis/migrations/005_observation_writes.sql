-- observation_writes counts the transactions that wrote or deleted
-- observations, whoever ran them (a value drawn after each commits): a daemon
-- tells from it that another process or node changed the rows it keeps in
-- memory.
CREATE SEQUENCE observation_writes;
