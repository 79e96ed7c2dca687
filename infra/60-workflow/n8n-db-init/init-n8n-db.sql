-- Idempotent: safe to run on every `up`.
SELECT format('CREATE ROLE n8n LOGIN PASSWORD %L', :'n8n_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'n8n') \gexec
SELECT format('ALTER ROLE n8n PASSWORD %L', :'n8n_password') \gexec
SELECT 'CREATE DATABASE n8n OWNER n8n'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'n8n') \gexec
