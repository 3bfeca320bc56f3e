-- API bearer tokens: only the SHA-256 of a token is kept.
CREATE TABLE tokens (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('ranger', 'land_officer', 'admin')),
  hash TEXT NOT NULL UNIQUE,
  created_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ,
  revoked_at TIMESTAMPTZ
);

-- Satellite thermal hotspots (FIRMS VIIRS / MODIS), each detection once.
CREATE TABLE hotspots (
  id BIGSERIAL PRIMARY KEY,
  geom geometry(Point, 9213) NOT NULL,
  hkey TEXT NOT NULL UNIQUE,
  latitude DOUBLE PRECISION NOT NULL,
  longitude DOUBLE PRECISION NOT NULL,
  brightness DOUBLE PRECISION NOT NULL,
  scan DOUBLE PRECISION NOT NULL,
  track DOUBLE PRECISION NOT NULL,
  acq_date DATE NOT NULL,
  acq_time INTEGER NOT NULL,
  satellite TEXT NOT NULL,
  instrument TEXT NOT NULL,
  confidence TEXT NOT NULL,
  frp DOUBLE PRECISION NOT NULL,
  daynight TEXT NOT NULL,
  in_forest BOOLEAN NOT NULL,
  source TEXT NOT NULL,
  loaded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX hotspots_geom ON hotspots USING GIST (geom);
CREATE INDEX hotspots_date ON hotspots (acq_date DESC);
