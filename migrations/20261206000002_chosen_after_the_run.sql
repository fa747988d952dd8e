-- The rho strategy chooses after the run: of each round's runs, those with
-- the most reducible loss (the model's loss minus a reference model's, in
-- nats per step) get the training priority. Each run records its reducible
-- loss and whether it was chosen; both stay NULL for other strategies.

ALTER TABLE executions ADD COLUMN reducible_nats DOUBLE PRECISION;
ALTER TABLE executions ADD COLUMN chosen BOOLEAN;
