# Golden-record deduplication. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
PROFILE ?= citizens
ROWS ?= 100000
DUPLICATE_RATE ?=
SEED ?= 42
UI_PORT ?= 5000
export UI_PORT    # the commands print MLflow UI addresses on this port (tracking/ui.py)
REVIEW_PORT ?= 8050
REVIEW_ARGS ?=
SERVE_PORT ?= 8060
TRAIN_ARGS ?=

.PHONY: profile blocking core-venv bench-quality java bench-spark help all install setup db tracking-store seed-data train sweep golden diagnose mlflow-ui review test bench clean-venv import-baselines report index serve match-new bench-lookup bench-incremental bench-active

help: ## list the targets, and the package layout
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18
	@echo
	@echo "package use-cases/golden_record/src/golden_record/ (README: The pipeline):"
	@echo "  config.py errors.py cli.py   configuration, errors with their fix, the golden-record command"
	@echo "  io/          warehouse (PostgreSQL), review labels (pair_labels), block index, redaction of credentials"
	@echo "  linkage/     schema and cleaning by type, blocking keys, comparisons, model, scoring, explanations, pipeline"
	@echo "  evaluation/  pair metrics and curves, bootstrap intervals"
	@echo "  golden/      clustering, survivorship, stable golden ids, incremental matching, golden tables from the schema"
	@echo "  tracking/    MLflow store, run lifecycle, diagnostics, registry, baselines, reports, plots"
	@echo "  synthetic/   the seeders (citizens, people), their profiles (citizens, people, sparse), pair differences"
	@echo "  jobs/        train, sweep, explain, match-new"
	@echo "  web/         the clerical review page (Flask; templates/ and static/ inside)"
	@echo "  serve/       the lookup service (FastAPI): incoming records to candidate golden ids"
	@echo "  spark/       the Spark engine (engine: spark): session, parallel read, blocking joins, batches, pipeline"
	@echo "  linker.py    the Linker facade (fit, evaluate, predict, cluster)"

all: setup seed-data golden ## the main job end to end: install, database, seed, train (its model the champion), write golden records

install: $(STAMP) ## create .venv and install the project with every extra ([all]: spark, serve, review, embedded) and pinned dependencies (constraints.txt)
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[all,test]'
	@rm -f $(VENV)/.installed-* && touch $@

CORE_VENV ?= .venv-core
core-venv: ## a second virtualenv with the core only (pip install -e . without extras), for tests/test_extras.py
	@test -x $(CORE_VENV)/bin/python || $(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .

setup: install db tracking-store import-baselines java ## install, make sure a database answers, create the MLflow store schema, Java for Spark

db: install ## make sure PostgreSQL answers (local server, else the embedded one) and the database exists
	$(PY) scripts/db_check.py

tracking-store: install ## create the MLflow tracking store schema once (mlflow db upgrade)
	$(PY) scripts/init_tracking.py

seed-data: install ## load a profile's synthetic records + truth (PROFILE=citizens|people|sparse|historical|crm ROWS=100000 SEED=42; DUPLICATE_RATE=0.2, default the profile's own)
	$(PY) scripts/seed_data.py --profile $(PROFILE) --rows $(ROWS) $(if $(DUPLICATE_RATE),--duplicate-rate $(DUPLICATE_RATE)) --seed $(SEED)

train: install ## train, evaluate and log a run to MLflow (TRAIN_ARGS="--set model.params.match_threshold=0.9")
	cd use-cases/golden_record && ../../$(PY) src/train.py $(TRAIN_ARGS)

mlflow-ui: install ## serve the MLflow UI on http://127.0.0.1:5000 (UI_PORT=5000) over the project's store
	$(BIN)/mlflow ui --backend-store-uri "$$($(PY) scripts/init_tracking.py --print-uri)" --host 127.0.0.1 --port $(UI_PORT)

review: install ## clerical review page on http://127.0.0.1:8050 (REVIEW_PORT; REVIEW_ARGS="--run-id ID --reviewer NAME --blind")
	$(PY) -m golden_record review --port $(REVIEW_PORT) $(REVIEW_ARGS)

TEST_MAX_SECONDS ?= 1500
test: install ## both test lanes: fast (no database) then end to end (real PostgreSQL and MLflow); prints its duration, fails above TEST_MAX_SECONDS=1500 (0: no limit; target 360 s: measured 985 s on a shared 2-core machine, fast lane 139 s, end-to-end lane 846 s; the limit goes to 600 once the run is brought down)
	@start=$$(date +%s); \
	$(PY) -m pytest -q -m "not e2e and not bench" -n 2; fast=$$?; \
	middle=$$(date +%s); \
	e2e=1; if [ $$fast -eq 0 ]; then $(PY) -m pytest -q -m "e2e and not bench" -n 2 --dist loadfile --no-loadscope-reorder --durations=10; e2e=$$?; fi; \
	end=$$(date +%s); total=$$((end - start)); \
	echo "make test: $$((total / 60)) min $$((total % 60)) s (fast lane $$((middle - start)) s, end-to-end lane $$((end - middle)) s)"; \
	if [ $$fast -ne 0 ] || [ $$e2e -ne 0 ]; then exit 1; fi; \
	if [ "$(TEST_MAX_SECONDS)" -gt 0 ] && [ $$total -gt $(TEST_MAX_SECONDS) ]; then \
	  echo "error: the test run took $$total s, more than TEST_MAX_SECONDS=$(TEST_MAX_SECONDS) s (target 6 min on 2 cores):" \
	       "the tests have grown slower; the slowest are listed above (--durations)." \
	       "On a machine busy with other work, run make test TEST_MAX_SECONDS=0 to skip this check." >&2; \
	  exit 1; \
	fi

BENCH_BEFORE ?= 024cc08
bench: install ## the timing tests (pytest -m bench), speed at 100k and 1M (vs BENCH_BEFORE), quality per seeder profile, incremental matching; writes bench/results.md
	$(PY) -m pytest -q -m bench
	$(PY) bench/bench_speed.py --baseline --compare-to $(BENCH_BEFORE)
	$(PY) bench/bench_quality.py $(BENCH_QUALITY_ARGS)
	$(PY) bench/bench_incremental.py $(BENCH_INCREMENTAL_ARGS)
	$(PY) bench/bench_active.py $(BENCH_ACTIVE_ARGS)

clean-venv: ## remove the virtual environment
	rm -rf $(VENV)

.PHONY: import-baselines report
import-baselines: install ## import the runs shared in baselines/ into the local MLflow store (idempotent)
	$(PY) scripts/import_baseline.py

report: install ## summary of the experiment's runs (REPORT_ARGS="compare RUN_ID RUN_ID" to compare runs)
	$(PY) scripts/runs_report.py $(or $(REPORT_ARGS),summary)

golden: install ## train and write golden records to PostgreSQL
	cd use-cases/golden_record && ../../$(PY) src/train.py --write-golden $(TRAIN_ARGS)

diagnose: install ## recent runs of every experiment, why failed runs failed, stale RUNNING runs (DIAGNOSE_ARGS="--mark-failed --experiment NAME")
	$(PY) scripts/diagnose_runs.py $(DIAGNOSE_ARGS)

sweep: install ## threshold sweep 0.80..0.99 as nested runs (SWEEP="match_threshold=0.80:0.99:0.01")
	cd use-cases/golden_record && ../../$(PY) src/train.py --sweep "$(or $(SWEEP),match_threshold=0.80:0.99:0.01)" $(TRAIN_ARGS)

profile: install ## what each declared field of the table holds, before training: printed + profile_<table>.html (PROFILE=people: that profile's table and config; PROFILE_ARGS="--output FILE")
	$(PY) -m golden_record profile --config use-cases/golden_record/config/examples/$(PROFILE).yaml $(PROFILE_ARGS)

blocking: install ## pairs per blocking pass, new and cumulative, largest blocks, true pairs reached: printed + blocking_<table>.html (PROFILE=people; BLOCKING_ARGS="--rule 'date_of_birth+pincode' --rules-only")
	$(PY) -m golden_record blocking --config use-cases/golden_record/config/examples/$(PROFILE).yaml $(BLOCKING_ARGS)

index: install ## block index of the model's table, for lookups (INDEX_ARGS="--run-id ID" or "--config PATH"; default: the champion of the config's table)
	$(PY) -m golden_record index $(INDEX_ARGS)

match-new: install ## place records added or changed since the golden records were written (MATCH_ARGS="--run-id ID" or "--config PATH"; default: the champion of the config's table)
	$(PY) -m golden_record match-new $(MATCH_ARGS)

serve: install ## lookup service on http://127.0.0.1:8060 (SERVE_PORT=8060 SERVE_ARGS="--run-id ID"; needs make index)
	$(PY) -m golden_record serve --port $(SERVE_PORT) $(SERVE_ARGS)

bench-quality: install ## per seeder profile (citizens, people, sparse, historical, crm): F1, completeness, golden records, estimates vs truth → bench/results.md
	$(PY) bench/bench_quality.py $(BENCH_QUALITY_ARGS)

bench-incremental: install ## match-new: 1,000 new records against 1M (target <= 10 s), and vs a full rebuild on 2 profiles → bench/results.md
	$(PY) bench/bench_incremental.py $(BENCH_INCREMENTAL_ARGS)

bench-active: install ## active learning: simulated reviewer, active vs random labels (0-200) per profile: F1 and estimate error → bench/results.md, bench/active_learning.png
	$(PY) bench/bench_active.py $(BENCH_ACTIVE_ARGS)

bench-spark: install ## the training pipeline on the local engine and on Spark local[2], 1M records: time, memory, stages → bench/results.md
	$(PY) bench/bench_spark.py $(BENCH_SPARK_ARGS)

java: install ## Java 17+ for the Spark engine (engine: spark): installed from Debian when missing and run as root; never fails setup
	@reason=$$($(PY) -c "from golden_record.spark.session import why_unavailable; print(why_unavailable() or '')"); \
	if [ -z "$$reason" ]; then echo "Java for the Spark engine: ok"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless) \
	    || echo "the Spark engine is unavailable ($$reason); the local engine works without it"; \
	else echo "the Spark engine is unavailable: $$reason (the local engine works without it)"; fi

bench-lookup: install ## lookup latency over HTTP, 2,000 requests at 100k and 1M records; index build time → bench/results.md
	$(PY) bench/bench_lookup.py $(BENCH_LOOKUP_ARGS)
