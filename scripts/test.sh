#!/usr/bin/env bash
# Run the whole suite. PostgreSQL must be up (make test starts it). Exit code 5 (no tests) is a failure.
set -uo pipefail
export THERMALSTREAM_TEST_PG_URL=${THERMALSTREAM_TEST_PG_URL:-postgresql+psycopg://thermalstream:thermalstream@127.0.0.1:5432/thermalstream_test}
.venv/bin/python -m pytest -ra "$@"
rc=$?
if [ "$rc" = 5 ]; then echo "pytest collected no tests: treating as failure" >&2; exit 1; fi
exit "$rc"
