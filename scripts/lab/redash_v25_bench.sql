-- A Redash v25-shaped database for the forecast benchmark: only what the reader uses.
-- :queries scheduled queries over 20 data sources, :results query_results rows over 30 days.
CREATE TABLE data_sources (
    id serial PRIMARY KEY, name varchar(255) NOT NULL,
    queue_name varchar(255) NOT NULL DEFAULT 'queries',
    scheduled_queue_name varchar(255) NOT NULL DEFAULT 'scheduled_queries');
CREATE TABLE query_results (
    id serial PRIMARY KEY, data_source_id integer NOT NULL REFERENCES data_sources (id),
    query_hash varchar(32) NOT NULL, runtime double precision NOT NULL, retrieved_at timestamptz NOT NULL);
CREATE TABLE queries (
    id serial PRIMARY KEY, data_source_id integer REFERENCES data_sources (id),
    latest_query_data_id integer REFERENCES query_results (id), query_hash varchar(32) NOT NULL,
    schedule jsonb, schedule_failures integer NOT NULL DEFAULT 0, is_archived boolean NOT NULL DEFAULT false);

INSERT INTO data_sources (name, scheduled_queue_name)
SELECT 'source ' || i, CASE WHEN i % 4 = 0 THEN 'scheduled_queries_heavy' ELSE 'scheduled_queries' END
FROM generate_series(1, 20) AS i;

INSERT INTO query_results (data_source_id, query_hash, runtime, retrieved_at)
SELECT 1 + i % 20, md5(i::text), random() * random() * 600, now() - random() * interval '30 days'
FROM generate_series(1, :results) AS i;

-- Intervals from 5 minutes to a week, some daily and weekly at a time, a few failing or ended.
INSERT INTO queries (data_source_id, latest_query_data_id, query_hash, schedule, schedule_failures)
SELECT 1 + i % 20, 1 + (i * 37) % :results, md5('q' || i),
       CASE i % 10
           WHEN 0 THEN jsonb_build_object('interval', 86400, 'time', lpad((i % 24)::text, 2, '0') || ':' || lpad((i % 60)::text, 2, '0'), 'day_of_week', null, 'until', null)
           WHEN 1 THEN jsonb_build_object('interval', 604800, 'time', '06:30', 'day_of_week', (ARRAY['Monday','Tuesday','Wednesday','Thursday','Friday','Saturday','Sunday'])[1 + i % 7], 'until', null)
           WHEN 2 THEN jsonb_build_object('interval', 3600, 'until', '2020-01-01')
           ELSE jsonb_build_object('interval', (ARRAY[300, 600, 900, 1800, 3600, 7200, 21600, 43200])[1 + i % 8], 'time', null, 'day_of_week', null, 'until', null)
       END,
       CASE WHEN i % 50 = 0 THEN 2 ELSE 0 END
FROM generate_series(1, :queries) AS i;
ANALYZE;
