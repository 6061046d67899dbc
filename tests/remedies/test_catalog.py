"""The recipe catalog: loading errors, glob semantics, match precedence and root-cause explains."""

from __future__ import annotations

import pytest

from fixtures.kinds import Kind
from remedies.catalog import RecipeError, glob_regex, load_catalog, render

ACCEPT = "suites/webhooks/test_webhook_delivery.py::test_webhook_accepts_and_records_event[{}]"
COMPLETES = "suites/sync/test_queue_processing.py::test_probe_event_reaches_completed[{}]"
ROUTE_SERVED = "suites/webhooks/test_webhook_routes.py::test_webhook_route_served[{}]"
HEALTHY = "suites/api/test_health.py::test_health_reports_healthy[{}]"
LATENCY = "suites/api/test_health.py::test_health_latency_within_limit[{}]"
INTEGRITY_RULE = "suites/integrity/test_data_integrity.py::test_data_integrity_rule_holds[{}]"
FILE = "recipes/H90_demo.toml"


# --- the shipped recipes ---------------------------------------------------------------


def test_shipped_catalog_has_the_recipes_in_id_order(shipped_catalog):
    assert shipped_catalog.ids() == [
        "H01", "H02", "H03", "H04", "H06", "H07", "H09", "H10", "H11", "H12", "H13", "H14", "H15", "H16", "H17",
        "H19", "H20", "H21", "H23", "H25", "H26", "H27", "H28", "H29", "H32", "H33", "H34", "H35", "H36", "H37",
        "H40", "H41", "H42", "H43", "H44", "H45", "H46", "H47", "H48",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("nodeid", "kind", "recipe"),
    [
        (HEALTHY.format("app"), "unreachable", "H13"),
        (HEALTHY.format("app"), "http_status", "H13"),
        (LATENCY.format("app"), "slow", "H28"),
        (LATENCY.format("app"), "timeout", None),
        (ROUTE_SERVED.format("invoices"), "route_missing", "H04"),
        (ACCEPT.format("invoices"), "route_missing", "H04"),
        (ACCEPT.format("invoices"), "timeout", "H03"),
        (ACCEPT.format("invoices"), "unreachable", "H03"),
        (ACCEPT.format("invoices"), "rejected", "H06"),
        (ACCEPT.format("invoices"), "not_recorded", "H06"),
        (ACCEPT.format("invoices"), "http_status", "H07"),
        (ACCEPT.format("invoices"), "contract", None),
        (COMPLETES.format("invoices"), "not_processed", "H11"),
        (COMPLETES.format("invoices"), "timeout", "H03"),
        (COMPLETES.format("invoices"), "route_missing", "H04"),
        (COMPLETES.format("invoices"), "rejected", "H06"),
        (COMPLETES.format("invoices"), "http_status", "H07"),
        (COMPLETES.format("invoices"), "contract", None),
        ("suites/zoho/test_parity.py::test_count_parity[items]", "drift", None),
        (INTEGRITY_RULE.format("orphan_invoices"), "integrity", "H25"),
        (INTEGRITY_RULE.format("orphan_invoices"), "missing", None),
        ("suites/deploy/test_blue_green.py::test_active_slot_is_healthy", "unreachable", "H17"),
        ("suites/deploy/test_blue_green.py::test_active_slot_is_healthy", "config", "H45"),
        ("suites/deploy/test_blue_green.py::test_active_slot_records_agree", "drift", "H45"),
        ("suites/external/test_public_urls.py::test_certificate_has_enough_days_left[erp]", "expiring", "H16"),
        ("suites/external/test_public_urls.py::test_certificate_chain_is_trusted[erp]", "security", "H16"),
        ("suites/external/test_public_urls.py::test_hsts_is_sent[erp]", "security", "H45"),
    ],
)
def test_shipped_catalog_maps_each_failure_to_its_recipe(shipped_catalog, nodeid, kind, recipe):
    matched = shipped_catalog.match(nodeid, kind)
    assert (matched.id if matched else None) == recipe


def test_failed_health_explains_unreachable_checks_but_not_itself(shipped_catalog):
    h13 = shipped_catalog.get("H13")
    root = HEALTHY.format("app")
    assert h13.explains_failure(root, {"base": "app"}, ACCEPT.format("invoices"), "unreachable")
    assert h13.explains_failure(root, {"base": "app"}, COMPLETES.format("orders"), "timeout")
    assert not h13.explains_failure(root, {"base": "app"}, ACCEPT.format("invoices"), "http_status")
    assert not h13.explains_failure(root, {"base": "app"}, root, "unreachable")


def test_missing_route_explains_only_the_same_entity(shipped_catalog):
    h04 = shipped_catalog.get("H04")
    root, params = ROUTE_SERVED.format("invoices"), {"entity": "invoices"}
    assert h04.explains_failure(root, params, ACCEPT.format("invoices"), "route_missing")
    assert h04.explains_failure(root, params, COMPLETES.format("invoices"), "not_processed")
    assert not h04.explains_failure(root, params, COMPLETES.format("orders"), "not_processed")
    assert not h04.explains_failure(ACCEPT.format("invoices"), params, ACCEPT.format("invoices"), "route_missing")


# --- loading errors: one line naming file, key and what is allowed ----------------------

BAD_RECIPES = {
    "unknown action": (
        {"steps": '[[steps]]\naction = "shell"\ncommand = "rm"\nrisk = "safe"\n'},
        "steps[0].action: 'shell' is not allowed (allowed: sql, http, service, command, manual)",
    ),
    "missing action": (
        {"steps": '[[steps]]\ntext = "x"\nrisk = "safe"\n'},
        "steps[0].action: required key is missing (allowed: sql, http, service, command, manual)",
    ),
    "unknown risk": (
        {"steps": '[[steps]]\naction = "manual"\ntext = "x"\nrisk = "yolo"\n'},
        "steps[0].risk: 'yolo' is not allowed (allowed: safe, guarded, destructive)",
    ),
    "unknown step key": (
        {"steps": '[[steps]]\naction = "manual"\ntext = "x"\nrisk = "safe"\nshell = "ls"\n'},
        "steps[0].shell: unknown key (allowed: action, risk, text)",
    ),
    "unknown explains key": (
        {"extra": '[explains]\nnodes = ["suites/*"]\n'},
        "explains.nodes: unknown key (allowed: kinds, nodeids); did you mean 'nodeids'?",
    ),
    "unknown kind": (
        {"kinds": '["flaky"]'},
        f"match.kinds[0]: 'flaky' is not allowed (allowed: {', '.join(Kind)})",
    ),
    "glob outside suites": (
        {"nodeids": '["tests/test_x.py::t"]'},
        "match.nodeids[0]: 'tests/test_x.py::t' must start with 'suites/'",
    ),
    "empty glob": (
        {"nodeids": '[""]'},
        "match.nodeids[0]: an empty glob is not allowed (a glob starts with 'suites/')",
    ),
    "unclosed bracket": (
        {"nodeids": '["suites/a.py::t[invoices"]'},
        "match.nodeids[0]: 'suites/a.py::t[invoices' has unbalanced brackets ([ and ] are literal and must pair)",
    ),
    "bracket closed before opened": (
        {"nodeids": '["suites/a.py::t]invoices["]'},
        "match.nodeids[0]: 'suites/a.py::t]invoices[' has unbalanced brackets ([ and ] are literal and must pair)",
    ),
    "unknown sql statement": (
        {"steps": '[[steps]]\naction = "sql"\nstatement = "drop_everything"\nrisk = "safe"\n'},
        "steps[0].statement: 'drop_everything' is not in the SQL library (allowed: dead_letters_by_class, "
        "integrity_rule_rows, queue_counts_by_status, recent_inbox_events_for_entity, release_stuck_processing, "
        "requeue_dead_letters)",
    ),
    "unknown sql parameter": (
        {
            "steps": '[[steps]]\naction = "sql"\nstatement = "release_stuck_processing"\n'
            'params = { stale_minutes = 60, limit = 5 }\nrisk = "safe"\n'
        },
        "steps[0].params: 'limit' is not a parameter of release_stuck_processing (allowed: stale_minutes)",
    ),
    "missing sql parameter": (
        {"steps": '[[steps]]\naction = "sql"\nstatement = "release_stuck_processing"\nrisk = "safe"\n'},
        "steps[0].params: release_stuck_processing needs stale_minutes (allowed: stale_minutes)",
    ),
    "absolute url in http step": (
        {"steps": '[[steps]]\naction = "http"\nmethod = "GET"\npath = "http://elsewhere/x"\nrisk = "safe"\n'},
        "steps[0].path: 'http://elsewhere/x' is not allowed (allowed: a path on the target, starting with one '/')",
    ),
}


@pytest.mark.parametrize(("parts", "message"), BAD_RECIPES.values(), ids=BAD_RECIPES.keys())
def test_bad_recipe_is_one_line_naming_file_key_and_allowed(write_recipe, recipes_dir, recipe_text, parts, message):
    write_recipe("H90_demo", recipe_text(**parts))
    with pytest.raises(RecipeError) as error:
        load_catalog(recipes_dir)
    assert str(error.value) == f"{FILE}: {message}"


def test_unknown_severity_is_rejected(write_recipe, recipes_dir, recipe_text):
    write_recipe("H90_demo", recipe_text().replace('severity = "error"', 'severity = "fatal"'))
    with pytest.raises(RecipeError) as error:
        load_catalog(recipes_dir)
    assert str(error.value) == f"{FILE}: severity: 'fatal' is not allowed (allowed: info, warning, error, critical)"


def test_toml_syntax_error_names_the_line(write_recipe, recipes_dir, recipe_text):
    write_recipe("H90_demo", recipe_text().replace('title = "Demo"', 'title = "Demo'))
    with pytest.raises(RecipeError) as error:
        load_catalog(recipes_dir)
    assert str(error.value) == f"{FILE}: not valid TOML: Illegal character '\\n' (at line 3, column 14)"


def test_duplicate_recipe_id_is_rejected(write_recipe, recipes_dir, recipe_text):
    write_recipe("H90_demo", recipe_text())
    write_recipe("H90_other", recipe_text(key="other"))
    with pytest.raises(RecipeError) as error:
        load_catalog(recipes_dir)
    assert str(error.value) == "recipes/H90_other.toml: id: 'H90' is already used by H90_demo.toml (must be unique)"


def test_file_name_must_follow_id_and_key(write_recipe, recipes_dir, recipe_text):
    write_recipe("H91_wrong", recipe_text("H91", "right"))
    with pytest.raises(RecipeError) as error:
        load_catalog(recipes_dir)
    assert str(error.value) == "recipes/H91_wrong.toml: file name: must be H91_right.toml (id and key)"


def test_folder_without_recipes_is_an_error(recipes_dir):
    with pytest.raises(RecipeError) as error:
        load_catalog(recipes_dir)
    assert str(error.value) == "recipes: no recipe files (*.toml)"


# --- globs and placeholders -------------------------------------------------------------


def test_brackets_in_globs_are_literal():
    glob = glob_regex("suites/a.py::test_x[ab]")
    assert glob.fullmatch("suites/a.py::test_x[ab]")
    assert not glob.fullmatch("suites/a.py::test_xa")
    assert not glob.fullmatch("suites/a.py::test_x[a]")


def test_star_spans_slashes_and_question_mark_is_one_character():
    assert glob_regex("suites/*").fullmatch("suites/webhooks/test_a.py::test_b[c]")
    assert glob_regex("suites/a.py::t[?]").fullmatch("suites/a.py::t[x]")
    assert not glob_regex("suites/a.py::t[?]").fullmatch("suites/a.py::t[xy]")


def test_placeholder_values_match_literally():
    glob = glob_regex("suites/a.py::t[{entity}]", {"entity": "in*"})
    assert glob.fullmatch("suites/a.py::t[in*]")
    assert not glob.fullmatch("suites/a.py::t[invoices]")


def test_render_keeps_unknown_placeholders_and_stray_braces():
    assert render("{entity} via {base} {unknown} {}", {"entity": "invoices", "base": "app"}) == (
        "invoices via app {unknown} {}"
    )


# --- match precedence -------------------------------------------------------------------


def test_recipe_naming_the_kind_beats_any_kind_and_longer_globs(write_recipe, recipes_dir, recipe_text):
    write_recipe("H90_any", recipe_text("H90", "any", nodeids='["suites/api/test_demo.py::test_demo[app]"]'))
    write_recipe("H91_kind", recipe_text("H91", "kind", nodeids='["suites/*"]', kinds='["timeout"]'))
    catalog = load_catalog(recipes_dir)
    assert catalog.match("suites/api/test_demo.py::test_demo[app]", "timeout").id == "H91"
    assert catalog.match("suites/api/test_demo.py::test_demo[app]", "slow").id == "H90"
    assert catalog.match("suites/api/test_demo.py::test_demo[app]", None).id == "H90"


def test_longest_literal_glob_wins_then_lower_id(write_recipe, recipes_dir, recipe_text):
    write_recipe("H90_broad", recipe_text("H90", "broad", nodeids='["suites/api/*"]'))
    write_recipe("H91_narrow", recipe_text("H91", "narrow", nodeids='["suites/api/test_demo.py::*"]'))
    write_recipe("H92_twin", recipe_text("H92", "twin", nodeids='["suites/api/test_demo.py::*"]'))
    catalog = load_catalog(recipes_dir)
    assert catalog.match("suites/api/test_demo.py::test_demo[app]", "slow").id == "H91"
    assert catalog.match("suites/api/test_other.py::test_other", "slow").id == "H90"
    assert catalog.match("suites/db/test_other.py::test_other", "slow") is None
