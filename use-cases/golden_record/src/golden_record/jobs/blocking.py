"""``golden-record blocking`` (``make blocking``): the blocking passes of the config (declared, or
derived from the data as a training run derives them) and any ``--rule``, on the configured
table, without training: pairs per pass, the new pairs each adds in order, cumulative pairs, the
largest blocks and, with a ground truth, the true pairs reached and the cumulative pairs
completeness. Printed, and written as an HTML chart (``--output``).

The pairs are made by :func:`golden_record.linkage.blocking.generate`, the function a training
run blocks with, on records loaded and cleaned as training loads and cleans them; a ``--rule`` is
written as a ``model.params.blocking_fields`` entry and validated as one.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from pydantic import ValidationError

from golden_record import console
from golden_record.config import FuzzyBlocking, ModelConfig, load_model_config, load_settings
from golden_record.errors import UsageError
from golden_record.io import warehouse
from golden_record.jobs.profile import add_table_arguments
from golden_record.linkage import defaults
from golden_record.linkage import pass_table as pass_table_mod
from golden_record.linkage.blocking import generate
from golden_record.linkage.keys import parse_key
from golden_record.linkage.pipeline import labels_for, load, prepare, true_pair_count
from golden_record.progress import Progress

log = logging.getLogger(__name__)
_ENTRY = "model.params.blocking_fields entry"


def build_parser() -> console.ArgumentParser:
    p = console.ArgumentParser("blocking", description="Count what the blocking passes make on the configured "
                               "table, without training: pairs per pass, new pairs each adds in order, cumulative "
                               "pairs, the largest blocks and, with a ground truth, the true pairs reached. The "
                               "config's passes (declared, or derived as training derives them) come first, then "
                               "each --rule. Prints a table and writes an HTML chart.")
    add_table_arguments(p)
    p.add_argument("--rule", action="append", default=[], metavar="KEY",
                   help="a blocking pass to try, written as a model.params.blocking_fields entry: a field, or "
                        "transforms of fields joined with +, e.g. 'date_of_birth+postcode' or "
                        "'phonetic(first_name,last_name)+year(date_of_birth)' (repeatable; counted after the "
                        "config's passes, in the order given)")
    p.add_argument("--rules-only", action="store_true",
                   help="count the --rule passes alone (loads only their fields: quick to try one after another)")
    p.add_argument("--output", help="the HTML chart to write (default blocking_<table>.html in the current folder)")
    return p


def check_rules(config: ModelConfig, rules: list[str]) -> list[str]:
    """The rules, each validated as a ``model.params.blocking_fields`` entry of ``config`` (its
    syntax, its fields declared, each transform applying to its field's type); a bad one is a
    :class:`UsageError` naming it."""
    if not rules:
        return []
    data = config.model_dump(mode="json")
    data["model"]["params"]["blocking_fields"] = list(rules)
    try:
        ModelConfig.model_validate(data)
    except ValidationError as err:
        reasons = "; ".join(e["msg"].removeprefix("Value error, ").replace(_ENTRY, "--rule") for e in err.errors())
        raise UsageError(f"--rule: {reasons}", "write a rule as a model.params.blocking_fields entry: FIELD or "
                         "TRANSFORM(FIELD[,FIELD]) joined with +, on fields the config declares (data.fields)") from None
    return list(dict.fromkeys(rules))


def entry_fields(entries: list[str]) -> set[str]:
    return {name for entry in entries for part in parse_key(entry) for name in part.fields}


def main(argv: list[str] | None = None) -> int:
    """``golden-record blocking`` (run through :func:`golden_record.console.run_main`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.rules_only and not args.rule:
        parser.error("--rules-only counts the --rule passes alone: give at least one --rule")
    started = time.perf_counter()
    settings = load_settings()
    config = load_model_config(args.config, args.overrides)
    rules = check_rules(config, args.rule)
    progress = Progress(quiet=args.quiet, logger=log)
    declared = config.model.params.blocking_fields
    derive = declared is None and not args.rules_only
    candidates = config.candidates
    if args.rules_only:
        candidates = candidates.model_copy(update={"fuzzy": FuzzyBlocking()})
        needed = entry_fields(rules)
    elif derive:
        needed = set(config.needed_fields()) | entry_fields(rules)
    else:
        needed = entry_fields(declared + rules) | (set(candidates.fuzzy.fields) if candidates.fuzzy.method != "none"
                                                   else set())
    fields = [f for f in config.data.fields if f in needed]
    target = warehouse.preflight(config, settings, args.quiet)
    with warehouse.connect(target, settings.database.connect_timeout_seconds) as conn:
        records, entity = load(conn, config, progress, fields=fields)
    with progress.stage("prepare"):
        prepared, _ = prepare(records, config, progress)
        if derive:
            defaults.resolve(config, prepared, progress)   # the passes a training run would derive
    config_passes = [] if args.rules_only else list(config.model.params.blocking_fields)
    for rule in rules:
        if rule in config_passes:
            log.warning(f"note: --rule {rule!r} is already a pass of the config: counted once, in the config's place")
    passes = config_passes + [r for r in rules if r not in config_passes]
    with progress.stage("candidates"):
        pairs = generate(prepared, passes, candidates, entity=entity)
        labels = labels_for(entity, pairs) if entity is not None else None
        total = true_pair_count(entity) if entity is not None else None
        table = pass_table_mod.pass_table(pairs.passes, labels, total)
    n = len(records)
    source = ("--rule passes only" if args.rules_only else
              "passes derived from the data as a training run derives them" if derive else "the config's passes")
    title = (f"Blocking of {config.data.table}: {n:,} records, {len(pairs):,} candidate pairs "
             f"({len(pairs) / max(n, 1):.2f} per record)")
    if total is not None:
        reached = int(labels.sum())
        title += f", {reached:,} of {total:,} true pairs ({reached / total if total else float('nan'):.4f})"
    print(title)
    print(f"  {source}" + (f", then {len(rules)} --rule pass(es)" if rules and not args.rules_only else ""))
    for line in pass_table_mod.lines(table, pairs.passes, candidates.max_block_size):
        print(line)
    for p in pairs.passes:
        if p.pairs == 0:
            log.warning(f"warning: pass {p.name} made no pairs: its keys never agree between two records")
        elif p.new_pairs == 0:
            log.warning(f"note: pass {p.name} adds no pair the passes before it do not make")
    if total is None:
        print("  no ground truth configured (data.truth): true pairs and pairs completeness not counted")
    output = Path(args.output or f"blocking_{config.data.table.replace('.', '_')}.html")
    from golden_record.tracking import charts
    charts.blocking_page(output, table, title, records=n, intro=(
        f"Read from {target.safe_url}; {source}" + (", then the --rule passes" if rules and not args.rules_only else "")
        + f". Blocks of more than candidates.max_block_size={candidates.max_block_size} records are skipped."))
    print(f"HTML chart: {output.resolve()} ({time.perf_counter() - started:.1f} s)")
    return 0
