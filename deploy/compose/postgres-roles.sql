-- The role Curio's learner runs as: it logs in and reads and writes the
-- store's tables (`curio db migrate --grant curio_app` grants them); it
-- owns nothing and may not change the schema.
CREATE ROLE curio_app LOGIN PASSWORD 'curio_app' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
