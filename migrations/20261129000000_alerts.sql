-- Forest change alerts and their history (schema version 2 of the GeoPackage store).
CREATE TABLE alerts (
  id BIGSERIAL PRIMARY KEY,
  geom geometry(MultiPolygon, 9213) NOT NULL,
  class TEXT NOT NULL CHECK (class IN ('clearing', 'degradation', 'burn', 'fire')),
  confidence TEXT NOT NULL CHECK (confidence IN ('low', 'high')),
  status TEXT NOT NULL DEFAULT 'new'
    CHECK (status IN ('new', 'under_verification', 'confirmed', 'false_positive', 'resolved')),
  status_reason TEXT CHECK (status_reason IN ('plantation_harvest', 'cloud_artefact', 'seasonal', 'other')),
  priority INTEGER NOT NULL,
  reasons JSONB NOT NULL,
  area_ha DOUBLE PRECISION NOT NULL,
  mean_drop DOUBLE PRECISION NOT NULL,
  mean_dnbr DOUBLE PRECISION,
  first_observed DATE NOT NULL,
  last_clear_before DATE,
  plots JSONB NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX alerts_geom ON alerts USING GIST (geom);
CREATE INDEX alerts_priority ON alerts (priority DESC);

CREATE TABLE alert_history (
  id BIGSERIAL PRIMARY KEY,
  alert_id BIGINT NOT NULL REFERENCES alerts(id),
  at TIMESTAMPTZ NOT NULL,
  actor TEXT NOT NULL,
  from_status TEXT,
  to_status TEXT NOT NULL,
  note TEXT NOT NULL
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, at);

-- Registered remote-sensing scenes.
CREATE TABLE scenes (
  id BIGSERIAL PRIMARY KEY,
  geom geometry(Polygon, 9213) NOT NULL,
  path TEXT NOT NULL UNIQUE,
  date DATE NOT NULL,
  date_source TEXT NOT NULL,
  product TEXT NOT NULL,
  product_hint TEXT,
  bands TEXT,
  cloud_fraction DOUBLE PRECISION NOT NULL,
  width BIGINT NOT NULL,
  height BIGINT NOT NULL,
  registered_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX scenes_geom ON scenes USING GIST (geom);

-- Daily weather at 13:00 for the fire-danger index.
CREATE TABLE weather (
  date DATE PRIMARY KEY,
  t13 DOUBLE PRECISION NOT NULL,
  rh13 DOUBLE PRECISION,
  td13 DOUBLE PRECISION,
  rain_mm DOUBLE PRECISION NOT NULL,
  source TEXT NOT NULL,
  loaded_at TIMESTAMPTZ NOT NULL,
  CHECK (rh13 IS NOT NULL OR td13 IS NOT NULL)
);

-- Webhook subscriptions and the delivery outbox (written with the alerts).
CREATE TABLE subscriptions (
  id BIGSERIAL PRIMARY KEY,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  filter JSONB NOT NULL,
  active BOOLEAN NOT NULL DEFAULT TRUE,
  created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE deliveries (
  id BIGSERIAL PRIMARY KEY,
  subscription_id BIGINT NOT NULL REFERENCES subscriptions(id),
  alert_id BIGINT REFERENCES alerts(id),
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  created_at TIMESTAMPTZ NOT NULL,
  delivered_at TIMESTAMPTZ
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE TABLE delivery_attempts (
  id BIGSERIAL PRIMARY KEY,
  delivery_id BIGINT NOT NULL REFERENCES deliveries(id),
  at TIMESTAMPTZ NOT NULL,
  status INTEGER,
  error TEXT,
  duration_ms BIGINT NOT NULL
);
