#!/bin/bash
# stevedore 1M-record load into postgres vs psql \copy of the same flattened rows
set -e
URL=postgresql://postgres@127.0.0.1:55433/postgres
BIN=/tmp/target-postgres/release/stevedore
PSQL="psql -X -q -A -t -d $URL"
$PSQL -c "DROP SCHEMA IF EXISTS bench_sd CASCADE; DROP SCHEMA IF EXISTS bench_psql CASCADE" 
rm -rf /tmp/bench/p /tmp/bench/csv; mkdir -p /tmp/bench/csv
t0=$(date +%s.%N)
DESTINATION__POSTGRES__CREDENTIALS=$URL STEVEDORE_PROJECT_DIR=/tmp/bench $BIN load /tmp/ev1m.jsonl --table events --destination postgres --dataset bench_sd --pipeline bench --pipelines-dir /tmp/bench/p ${FORMAT:+--format $FORMAT}
t1=$(date +%s.%N)
echo "stevedore wall: $(echo "$t1 - $t0" | bc) s"
TABLES=$($PSQL -c "SELECT table_name FROM information_schema.tables WHERE table_schema='bench_sd' AND table_name NOT LIKE '\_%' ORDER BY 1")
ROWS=0
for t in $TABLES; do n=$($PSQL -c "SELECT count(*) FROM bench_sd.\"$t\""); echo "  $t: $n rows"; ROWS=$((ROWS+n)); done
echo "total rows: $ROWS"
$PSQL -c "CREATE SCHEMA bench_psql"
for t in $TABLES; do
  $PSQL -c "\copy bench_sd.\"$t\" TO '/tmp/bench/csv/$t.csv' WITH (FORMAT csv)"
  $PSQL -c "CREATE TABLE bench_psql.\"$t\" (LIKE bench_sd.\"$t\" INCLUDING ALL)"
done
du -sh /tmp/bench/csv
SCRIPT=/tmp/bench/copy.sql; : > $SCRIPT
for t in $TABLES; do echo "\\copy bench_psql.\"$t\" FROM '/tmp/bench/csv/$t.csv' WITH (FORMAT csv)" >> $SCRIPT; done
t2=$(date +%s.%N)
$PSQL -f $SCRIPT
t3=$(date +%s.%N)
echo "psql \\copy (sequential, all tables) wall: $(echo "$t3 - $t2" | bc) s"
$PSQL -c "TRUNCATE $(echo $TABLES | sed 's/\([^ ]*\)/bench_psql."\1"/g; s/ /, /g')"
t4=$(date +%s.%N)
for t in $TABLES; do $PSQL -c "\copy bench_psql.\"$t\" FROM '/tmp/bench/csv/$t.csv' WITH (FORMAT csv)" & done; wait
t5=$(date +%s.%N)
echo "psql \\copy (parallel, one psql per table) wall: $(echo "$t5 - $t4" | bc) s"
